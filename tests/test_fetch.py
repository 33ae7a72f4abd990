import hashlib
import socket
import time

import pytest

from hwr.data.fetch import fetch
from hwr.errors import DataError
from tests.http_server import serve_folder

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def served(tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "IAM_Words.zip").write_bytes(PAYLOAD)
    return tmp_path / "www"


def test_downloads_and_verifies(served, tmp_path):
    with serve_folder(served) as (url, _):
        digest = fetch(f"{url}/IAM_Words.zip", tmp_path / "dl" / "IAM_Words.zip", hashlib.sha256(PAYLOAD).hexdigest())
    assert (tmp_path / "dl" / "IAM_Words.zip").read_bytes() == PAYLOAD
    assert digest == hashlib.sha256(PAYLOAD).hexdigest()


def test_transfer_cut_halfway_resumes_from_where_it_stopped(served, tmp_path):
    dest = tmp_path / "dl" / "IAM_Words.zip"
    with serve_folder(served, cut_after={"IAM_Words.zip": len(PAYLOAD) // 2}) as (url, requests):
        with pytest.raises(DataError, match="run the step again to resume"):
            fetch(f"{url}/IAM_Words.zip", dest)
        assert not dest.exists()
        part = dest.with_name(dest.name + ".part")
        kept = part.stat().st_size
        assert 0 < kept <= len(PAYLOAD) // 2
        fetch(f"{url}/IAM_Words.zip", dest)
    assert dest.read_bytes() == PAYLOAD
    assert requests[-1] == ("/IAM_Words.zip", f"bytes={kept}-")


def test_checksum_mismatch_is_an_error_and_the_file_is_deleted(served, tmp_path):
    dest = tmp_path / "dl" / "IAM_Words.zip"
    with serve_folder(served) as (url, _):
        with pytest.raises(DataError, match="SHA-256 is .* expected 0000"):
            fetch(f"{url}/IAM_Words.zip", dest, "0000")
    assert not dest.exists()


def test_404_is_a_clear_error(served, tmp_path):
    with serve_folder(served) as (url, _):
        with pytest.raises(DataError, match="HTTP 404"):
            fetch(f"{url}/missing.zip", tmp_path / "missing.zip")


def test_nothing_listening_fails_fast(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    start = time.monotonic()
    with pytest.raises(DataError, match="could not reach"):
        fetch(f"http://127.0.0.1:{port}/IAM_Words.zip", tmp_path / "x.zip")
    assert time.monotonic() - start < 15


def test_server_that_never_answers_times_out(tmp_path, monkeypatch):
    import hwr.data.fetch

    monkeypatch.setattr(hwr.data.fetch, "READ_TIMEOUT_S", 2)
    with socket.socket() as silent:  # accepts connections, never sends a byte
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        start = time.monotonic()
        with pytest.raises(DataError, match="could not reach"):
            fetch(f"http://127.0.0.1:{silent.getsockname()[1]}/IAM_Words.zip", tmp_path / "x.zip")
    assert time.monotonic() - start < 15


def test_local_path_and_file_url(served, tmp_path):
    source = served / "IAM_Words.zip"
    assert fetch(str(source), tmp_path / "a.zip") == hashlib.sha256(PAYLOAD).hexdigest()
    assert fetch(source.as_uri(), tmp_path / "b.zip") == hashlib.sha256(PAYLOAD).hexdigest()
    with pytest.raises(DataError, match="does not exist"):
        fetch(str(tmp_path / "nope.zip"), tmp_path / "c.zip")
