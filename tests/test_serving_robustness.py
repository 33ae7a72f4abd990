"""The served model under bad requests: every one gets a 4xx naming the problem, never a 5xx or a
hang, and a good request right after it is still answered correctly."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import mlflow
import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hwr.decoding.decode import DECODERS
from tests.processes import environment, model_server

pytestmark = pytest.mark.slow

TIMEOUT = 30  # seconds; a request that takes longer counts as a hang


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


WORD = Image.new("L", (160, 48), 255)
WORD.paste(0, (20, 15, 140, 33))
GOOD = b64(png(WORD))
NOISE_PNG = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 256), dtype=np.uint8)))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An (untrained) hwr model logged the real way and served by `mlflow models serve`."""
    from hwr.data.charset import Charset
    from hwr.model.variants import build_crnn
    from hwr.serving import packaging

    workdir = tmp_path_factory.mktemp("serving")
    mlflow.set_tracking_uri(environment(workdir)["MLFLOW_TRACKING_URI"])
    charset = Charset.from_texts(["abcdefghijklmnopqrstuvwxyz"])
    with mlflow.start_run():
        info = packaging.log_model(build_crnn(32, 128, charset.num_classes), charset, GOOD)
    mlflow.set_tracking_uri(None)
    with model_server(info.model_uri, workdir) as url:
        expected = requests.post(f"{url}/invocations", json={"inputs": {"image": [GOOD]}}, timeout=TIMEOUT)
        assert expected.status_code == 200
        yield url, expected.json()["predictions"]


def check_refused_then_good(server, body=None, raw: bytes | None = None, content_type="application/json"):
    url, expected = server
    if raw is None:
        raw = json.dumps(body).encode()
    answer = requests.post(f"{url}/invocations", data=raw, headers={"Content-Type": content_type}, timeout=TIMEOUT)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:500])
    assert answer.json()["message"]
    good = requests.post(f"{url}/invocations", json={"inputs": {"image": [GOOD]}}, timeout=TIMEOUT)
    assert good.status_code == 200 and good.json()["predictions"] == expected
    return answer.json()["message"]


not_base64 = st.text(min_size=1, max_size=200).filter(lambda s: not _decodes(s))
non_image_bytes = st.binary(min_size=1, max_size=2000).map(b64)
truncated = st.integers(min_value=8, max_value=len(NOISE_PNG) - 50).map(lambda n: b64(NOISE_PNG[:n]))
tiny = st.sampled_from([(1, 1), (1, 5), (5, 1)]).map(lambda size: b64(png(Image.new("L", size, 0))))
wrong_types = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(),
                        st.lists(st.integers(), max_size=3))
bad_values = st.one_of(not_base64, non_image_bytes, truncated, tiny, wrong_types)


def _decodes(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
        return True
    except Exception:
        return False


bad_bodies = st.one_of(
    # one bad image, alone or among good ones
    st.tuples(bad_values, st.integers(0, 3)).map(lambda t: {"inputs": {"image": [GOOD] * t[1] + [t[0]]}}),
    st.tuples(bad_values, st.integers(0, 3)).map(
        lambda t: {"dataframe_split": {"columns": ["image"], "data": [[GOOD]] * t[1] + [[t[0]]]}}),
    # wrong or missing column, empty input
    st.text(min_size=1, max_size=20).filter(lambda k: k != "image").map(lambda k: {"inputs": {k: [GOOD]}}),
    st.just({"inputs": {"image": []}}),
    st.just({"inputs": {}}),
    st.just({"dataframe_records": []}),
    # unknown params values
    st.text(max_size=30).filter(lambda d: d not in DECODERS).map(
        lambda d: {"inputs": {"image": [GOOD]}, "params": {"decoder": d}}),
    st.sampled_from([0, 101, -3, 2.5, "ten", True]).map(
        lambda w: {"inputs": {"image": [GOOD]}, "params": {"decoder": "beam", "beam_width": w}}),
)


@settings(max_examples=220, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bad_bodies)
def test_generated_bad_requests_get_4xx_and_the_server_keeps_working(server, body):
    check_refused_then_good(server, body)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(min_size=1, max_size=500).filter(lambda b: not b.strip().startswith((b"{", b"["))))
def test_non_json_bodies_get_4xx(server, raw):
    check_refused_then_good(server, raw=raw)


def test_bad_row_among_good_ones_is_named(server):
    message = check_refused_then_good(server, {"inputs": {"image": [GOOD, GOOD, "@@not-base64@@", GOOD]}})
    assert "row 2" in message and "not valid base64" in message


def test_decompression_bomb_is_refused(server):
    message = check_refused_then_good(server, {"inputs": {"image": [b64(png_header_only(30000, 30000))]}})
    assert "too large" in message and "900000000 pixels" in message


def test_zero_by_zero_image_is_refused(server):
    check_refused_then_good(server, {"inputs": {"image": [b64(png_header_only(0, 0))]}})


def test_too_small_image_names_its_row(server):
    message = check_refused_then_good(server, {"inputs": {"image": [GOOD, b64(png(Image.new("L", (1, 1), 0)))]}})
    assert "row 1: image is 1x1 pixels: too small" in message


def test_twenty_megabyte_payload_is_refused(server):
    message = check_refused_then_good(server, {"inputs": {"image": [b64(b"\x89PNG" + bytes(20 * 1024 * 1024))]}})
    assert "larger than" in message


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "I;16", "1", "CMYK"])
def test_every_colour_mode_is_read(server, mode):
    url, expected = server
    if mode == "CMYK":
        data = WORD.convert("CMYK")
        buffer = io.BytesIO()
        data.save(buffer, format="JPEG")
        encoded = b64(buffer.getvalue())
    else:
        encoded = b64(png(WORD.convert(mode)))
    answer = requests.post(f"{url}/invocations", json={"inputs": {"image": [encoded]}}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text[:300]
    assert set(answer.json()["predictions"][0]) == {"text", "confidence"}


@pytest.mark.parametrize("size", [(4000, 40), (40, 4000)])
def test_very_wide_or_tall_images_are_read(server, size):
    url, _ = server
    answer = requests.post(f"{url}/invocations", json={"inputs": {"image": [b64(png(Image.new("L", size, 255)))]}},
                           timeout=TIMEOUT)
    assert answer.status_code == 200
