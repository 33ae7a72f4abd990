"""Downloading an archive: resumable HTTP with a progress bar, or a local file; SHA-256 verified."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm import tqdm

from hwr.errors import DataError

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
CHUNK = 1 << 20
HTTP_CHUNK = 64 << 10  # small reads: a broken transfer loses at most this much


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_remote(url: str) -> bool:
    return urlparse(url).scheme in ("http", "https")


def local_path(url: str) -> Path:
    parsed = urlparse(url)
    return Path(parsed.path if parsed.scheme == "file" else url).expanduser()


def _http_download(url: str, dest: Path) -> None:
    """Download to dest, resuming from dest.part when the server supports ranges."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = requests.get(url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    except requests.RequestException as exc:
        raise DataError(f"could not reach {url}: {exc.__class__.__name__}: {exc}") from None
    with response:
        if response.status_code == 416 and have:
            # Range not satisfiable: the partial file is already complete.
            part.rename(dest)
            return
        if response.status_code not in (200, 206):
            raise DataError(f"{url} answered HTTP {response.status_code} {response.reason}")
        resumed = response.status_code == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        try:
            with open(part, "ab" if resumed else "wb") as handle, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=dest.name
            ) as bar:
                for block in response.iter_content(HTTP_CHUNK):
                    handle.write(block)
                    bar.update(len(block))
        except requests.RequestException as exc:
            raise DataError(
                f"download of {url} broke off after {part.stat().st_size:,} bytes ({exc.__class__.__name__}); "
                "run the step again to resume"
            ) from None
    if total is not None and part.stat().st_size != total:
        raise DataError(
            f"download of {url} stopped at {part.stat().st_size:,} of {total:,} bytes; run the step again to resume"
        )
    part.rename(dest)


def fetch(url: str, dest: Path, expected_sha256: str = "") -> str:
    """Put the archive at `url` (http(s), file:// or a local path) into `dest`; return its SHA-256.

    A digest mismatch deletes the download and raises, so a damaged file is never used.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_remote(url):
        if not dest.exists():
            _http_download(url, dest)
    else:
        source = local_path(url)
        if not source.is_file():
            raise DataError(f"archive {source} does not exist")
        if source.resolve() != dest.resolve():
            shutil.copyfile(source, dest)
    digest = sha256_of(dest)
    if expected_sha256 and digest != expected_sha256.lower().strip():
        dest.unlink()
        raise DataError(f"{url}: SHA-256 is {digest}, expected {expected_sha256}; the download was deleted")
    return digest
