"""Who holds `champion`: the promotion rule, and a registry that fails closed."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from hwr.errors import HwrError
from hwr.pipeline import registry
from hwr.pipeline.registry import CHAMPION, compare, current_champion, register_candidate

TRUTHS = [f"word{i}" for i in range(200)]


def misread(texts: list[str], every: int) -> list[str]:
    """`texts` with one character wrong in every `every`-th word."""
    return [t[:-1] + "#" if i % every == 0 else t for i, t in enumerate(texts)]


def test_a_clear_gain_wins_and_noise_does_not():
    assert compare(TRUTHS, TRUTHS, misread(TRUTHS, 4)).wins  # 50 words better, none worse
    assert not compare(TRUTHS, TRUTHS, TRUTHS).wins  # equal models do not swap the alias
    assert not compare(TRUTHS, misread(TRUTHS, 4), TRUTHS).wins  # worse
    # One word better out of 200: lower CER, but well within chance.
    one_better = compare(TRUTHS, TRUTHS, misread(TRUTHS, 1000))
    assert one_better.gain > 0 and not one_better.wins
    # Better on some words, worse on as many others: no gain beyond noise.
    swapped = compare(TRUTHS, misread(TRUTHS[:100], 2) + TRUTHS[100:], TRUTHS[:100] + misread(TRUTHS[100:], 2))
    assert not swapped.wins


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    yield MlflowClient(uri)
    mlflow.set_tracking_uri(None)


@pytest.fixture
def models(tmp_path, monkeypatch):
    """Model "folders" whose greedy readings the test sets: `readings[uri]`, keyed by the source
    each registered version points at (reading real models is test_pipeline's job)."""
    readings: dict[str, list[str]] = {}

    def read(model_uri, labelled):
        name, version = model_uri.removeprefix("models:/").split("/")
        return readings[MlflowClient().get_model_version(name, version).source]

    monkeypatch.setattr(registry, "_read", read)

    def make(name: str, texts: list[str]) -> str:
        folder = tmp_path / name
        folder.mkdir()
        readings[str(folder)] = texts
        return str(folder)
    return make


def register(client, source: str, test: pd.DataFrame, **kwargs):
    return register_candidate(client, source, "", test, "hwr", {}, "", **kwargs)


TEST = pd.DataFrame({"file": [f"{t}.png" for t in TRUTHS], "text": TRUTHS})


def test_better_beyond_noise_is_promoted_else_challenger(store, models):
    first = register(store, models("first", misread(TRUTHS, 4)), TEST)
    assert first.promoted and first.comparison is None
    slightly = register(store, models("slightly", misread(TRUTHS, 5)), TEST)  # 40 wrong against 50
    clearly = register(store, models("clearly", misread(TRUTHS, 20)), TEST)  # 10 wrong against 50
    assert not slightly.promoted and slightly.comparison.gain > 0
    assert store.get_model_version("hwr", slightly.version).tags["challenger"] == "true"
    assert clearly.promoted and str(store.get_model_version_by_alias("hwr", CHAMPION).version) == clearly.version


def test_the_alias_is_read_again_before_it_moves(store, models, monkeypatch):
    register(store, models("old", misread(TRUTHS, 2)), TEST)
    # Another register promotes a strong version while this one compares with the old champion.
    strong = models("strong", TRUTHS)
    reads = {"n": 0}
    original = registry.current_champion

    def racing(client, name):
        reads["n"] += 1
        if reads["n"] == 2:  # the re-read just before the move
            version = mlflow.register_model(strong, name).version
            client.set_registered_model_alias(name, CHAMPION, version)
        return original(client, name)

    monkeypatch.setattr(registry, "current_champion", racing)
    late = register(store, models("late", misread(TRUTHS, 8)), TEST)
    # Better than the champion it first saw, but not than the one that took the alias meanwhile.
    assert not late.promoted and late.comparison.champion_cer == 0
    champion = store.get_model_version_by_alias("hwr", CHAMPION)
    assert champion.source.endswith("strong")
    assert len(store.search_model_versions("name='hwr'")) == 3


class _Failing(http.server.BaseHTTPRequestHandler):
    status = 500

    def log_message(self, *args):
        pass

    def _answer(self):
        body = json.dumps({"error_code": "INTERNAL_ERROR" if self.status == 500 else "PERMISSION_DENIED",
                           "message": "the registry is unwell"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer


@contextlib.contextmanager
def failing_server(status: int):
    handler = type("Handler", (_Failing,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [500, 403])
def test_a_registry_that_cannot_be_read_stops_instead_of_promoting(status, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with failing_server(status) as uri:
        with pytest.raises(HwrError, match=rf"cannot read hwr@champion .*the alias was left as it was"):
            current_champion(MlflowClient(uri), "hwr")


def test_no_model_and_no_alias_mean_no_champion(store):
    assert current_champion(store, "hwr") is None
    store.create_registered_model("hwr")
    assert current_champion(store, "hwr") is None
