"""The default lexicon kept on disk, so that a process loads it in a fraction of a second instead
of building it from wordfreq's lists (200k words: 0.05 s against 2.5 s on a quiet 2-core machine,
bench/lexicon.py, and over 10 s on a busy one): every served model's start, every training's
calibration and every `register` would build one otherwise.

A file holds one built lexicon: its sorted words and cumulative priors (hwr.decoding.lexicon.Lexicon's
state). Its name is a digest of everything the build depends on: the charset, the size, the
wordfreq version and the source of the modules that build it, so a change to any of them reads
as a miss and builds afresh. The folder is $HWR_CACHE_DIR, else $XDG_CACHE_HOME/hwr, else
~/.cache/hwr; HWR_CACHE_DIR=none turns the cache off. A folder that cannot be written, or a file
that cannot be read, only costs the build: the cache never stops a model from loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

import numpy as np

CACHE_DIR_ENV = "HWR_CACHE_DIR"
# The modules whose code decides what the default lexicon holds.
_BUILD_MODULES = ("hwr.decoding.lexicon", "hwr.data.iam_stats")


def build_sources() -> list[Path]:
    return [Path(find_spec(name).origin) for name in _BUILD_MODULES]


def cache_dir() -> Path | None:
    """Where lexicons are kept; None when the cache is turned off."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return None if configured.lower() == "none" else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hwr"


def cache_file(chars: tuple[str, ...], size: int) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        code = [hashlib.sha256(path.read_bytes()).hexdigest() for path in build_sources()]
        words_from = version("wordfreq")
    except (OSError, PackageNotFoundError):  # code not readable as files (a zipped install), or no
        return None                           # installed wordfreq: no telling what built a file
    key = {"chars": list(chars), "size": size, "wordfreq": words_from, "code": code}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return folder / f"lexicon-{size}-{digest}.npz"


def load(path: Path | None) -> tuple[tuple[str, ...], np.ndarray | None] | None:
    """(sorted words, cumulative priors or None) from `path`; None when it is missing or unreadable."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            words = tuple(stored["words"].tobytes().decode("utf-8").split("\n"))
            cumulative = stored["cumulative"] if bool(stored["has_prior"]) else None
    except (OSError, EOFError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile):  # damaged: build afresh
        return None
    if cumulative is not None and len(cumulative) != len(words) + 1:
        return None
    return words, cumulative


def save(path: Path | None, words: tuple[str, ...], cumulative: np.ndarray | None) -> bool:
    """Write atomically (processes that load meanwhile see the old file or the whole new one);
    False when the folder cannot be written."""
    if path is None or not words:
        return False
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".lexicon-", suffix=".tmp", delete=False) as tmp:
            tmp_name = tmp.name
            np.savez(tmp, words=np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
                     cumulative=cumulative if cumulative is not None else np.zeros(0),
                     has_prior=np.array(cumulative is not None))
        os.replace(tmp_name, path)
        return True
    except OSError:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        return False
