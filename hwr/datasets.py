"""The download step's logic: produce an IAM-layout folder (synthetic or IAM) and index it."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from hwr import iam, synth
from hwr.fetch import fetch

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


def synthetic(data_root: Path, samples: int, seed: int) -> Dataset:
    data_dir = (data_root / f"synthetic-n{samples}-seed{seed}").resolve()
    with exclusive(data_dir):
        if not is_complete(data_dir):
            staging = data_dir.with_name(data_dir.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            synth.generate(staging, samples, seed)
            shutil.rmtree(data_dir, ignore_errors=True)
            staging.rename(data_dir)
            _mark_complete(data_dir, f"synthetic samples={samples} seed={seed}")
    index, counts = iam.index_words(data_dir)
    return Dataset(data_dir, index, counts, source=f"synthetic:samples={samples},seed={seed}")


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


def load(dataset: str, data_root: Path, samples: int, seed: int, url: str, sha256: str = "") -> Dataset:
    if dataset == "synthetic":
        return synthetic(data_root, samples, seed)
    if dataset == "iam":
        return iam_words(data_root, url, sha256)
    raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
