"""The download step's logic: produce an IAM-layout folder (synthetic or IAM) and index it."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from hwr.data import iam
from hwr.data.fetch import fetch
from hwr.data.synthetic import font_catalog, synth

DATASETS = ("synthetic", "iam")
# The public IAM words archive that the Keras handwriting example downloads.
DEFAULT_IAM_URL = "https://github.com/sayakpaul/Handwriting-Recognizer-in-Keras/releases/download/v1.0.0/IAM_Words.zip"
COMPLETE_MARKER = ".complete"


@dataclass
class Dataset:
    data_dir: Path
    index: pd.DataFrame  # id, path (relative to data_dir), text, form
    counts: dict[str, int]
    source: str
    source_sha256: str = ""


def is_complete(data_dir: Path) -> bool:
    return (data_dir / COMPLETE_MARKER).is_file()


def _mark_complete(data_dir: Path, note: str) -> None:
    (data_dir / COMPLETE_MARKER).write_text(note + "\n", encoding="utf-8")


@contextlib.contextmanager
def exclusive(data_dir: Path):
    """One writer per data folder: two pipelines started together build it once, not over each other."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(data_dir.with_name(data_dir.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def is_reusable(data_dir: Path) -> bool:
    """A finished download's folder can serve a new pipeline: it is complete and, for the synthetic
    set, drawn by this generator version (outside a git checkout the code version is unknown, so
    parameters alone would reuse a set an older hwr drew)."""
    name = data_dir.name
    current = not name.startswith("synthetic-") or name.startswith(_synthetic_version_prefix())
    return current and is_complete(data_dir)


def _synthetic_version_prefix() -> str:
    return f"synthetic-v{synth.GENERATOR_VERSION}-"


def synthetic_name(samples: int, seed: int, extra_fonts: list[str]) -> str:
    """The folder name: every input that changes the images is in it, so a stale set is never reused."""
    name = f"{_synthetic_version_prefix()}n{samples}-seed{seed}"
    return name + (f"-fonts{font_catalog.fonts_digest(extra_fonts)[:12]}" if extra_fonts else "")


def synthetic(data_root: Path, samples: int, seed: int, fonts_dir: str | Path | None = None) -> Dataset:
    """The synthetic set, drawn with the built-in handwriting fonts plus any usable font in `fonts_dir`."""
    extra_fonts = font_catalog.fonts_in_dir(fonts_dir) if fonts_dir else []
    fonts = font_catalog.handwriting_fonts() + extra_fonts
    data_dir = (data_root / synthetic_name(samples, seed, extra_fonts)).resolve()
    source = f"synthetic:v={synth.GENERATOR_VERSION},samples={samples},seed={seed}"
    if fonts_dir:
        source += f",fonts_dir={Path(fonts_dir).expanduser().resolve()}"
    with exclusive(data_dir):
        if not is_complete(data_dir):
            staging = data_dir.with_name(data_dir.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            synth.generate(staging, samples, seed, fonts)
            shutil.rmtree(data_dir, ignore_errors=True)
            staging.rename(data_dir)
            _mark_complete(data_dir, source)
    index, counts = iam.index_words(data_dir)
    return Dataset(data_dir, index, counts, source=source)


def iam_words(data_root: Path, url: str, sha256: str = "") -> Dataset:
    name = Path(urlparse(url).path).name or "IAM_Words.zip"
    archive = data_root / "downloads" / name
    with exclusive(archive):
        digest = fetch(url, archive, sha256)
    data_dir = (data_root / f"iam-{digest[:12]}").resolve()
    with exclusive(data_dir):
        if not is_complete(data_dir):
            iam.extract_iam_archive(archive, data_dir)
            _mark_complete(data_dir, f"iam sha256={digest}")
    index, counts = iam.index_words(data_dir)
    return Dataset(data_dir, index, counts, source=url, source_sha256=digest)


def load(dataset: str, data_root: Path, samples: int, seed: int, url: str, sha256: str = "",
         fonts_dir: str | Path | None = None) -> Dataset:
    if dataset == "synthetic":
        return synthetic(data_root, samples, seed, fonts_dir)
    if dataset == "iam":
        return iam_words(data_root, url, sha256)
    raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
