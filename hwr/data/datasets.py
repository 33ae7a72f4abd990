"""The download step's logic: produce the data set's folder (synthetic, IAM, or a user's labelled
folder) and index its usable words."""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from hwr.data import archives, iam, iam_lines, labelled
from hwr.data.fetch import fetch, is_remote, local_path
from hwr.data.synthetic import font_catalog, synth
from hwr.errors import DataError

DATASETS = ("synthetic", "iam", "folder")
# The public IAM words archive that the Keras handwriting example downloads.
DEFAULT_IAM_URL = "https://github.com/sayakpaul/Handwriting-Recognizer-in-Keras/releases/download/v1.0.0/IAM_Words.zip"
COMPLETE_MARKER = ".complete"
# The data of the general-purpose recognizer: synthetic and IAM words compete for one champion.
GENERAL = "general"
FOLDER_NEEDS_DATA = ("dataset=folder needs data=PATH: a folder with labels.tsv, a .zip or .tar.gz of one, "
                     "or an http(s) URL of such an archive")


@dataclass
class Dataset:
    data_dir: Path
    index: pd.DataFrame  # id, path (relative to data_dir), text, and form or a folder's extra columns
    counts: dict[str, int]
    source: str
    source_sha256: str = ""
    checked: labelled.Checked | None = None  # a user's folder: its usable words and rejected rows


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


def synthetic_name(samples: int, seed: int, extra_fonts: list[str], unit: str = "word") -> str:
    """The folder name: every input that changes the images is in it, so a stale set is never reused."""
    name = f"{_synthetic_version_prefix()}{'lines-' if unit == 'line' else ''}n{samples}-seed{seed}"
    return name + (f"-fonts{font_catalog.fonts_digest(extra_fonts)[:12]}" if extra_fonts else "")


def synthetic(data_root: Path, samples: int, seed: int, fonts_dir: str | Path | None = None,
              unit: str = "word") -> Dataset:
    """The synthetic set of `samples` words (or lines), drawn with the built-in handwriting fonts
    plus any usable font in `fonts_dir`."""
    extra_fonts = font_catalog.fonts_in_dir(fonts_dir) if fonts_dir else []
    fonts = font_catalog.handwriting_fonts() + extra_fonts
    data_dir = (data_root / synthetic_name(samples, seed, extra_fonts, unit)).resolve()
    source = f"synthetic:v={synth.GENERATOR_VERSION},unit={unit},samples={samples},seed={seed}"
    if fonts_dir:
        source += f",fonts_dir={Path(fonts_dir).expanduser().resolve()}"
    with exclusive(data_dir):
        if not is_complete(data_dir):
            staging = data_dir.with_name(data_dir.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            (synth.generate_lines if unit == "line" else synth.generate)(staging, samples, seed, fonts)
            shutil.rmtree(data_dir, ignore_errors=True)
            staging.rename(data_dir)
            _mark_complete(data_dir, source)
    if unit == "line":
        checked = labelled.load(data_dir)
        return Dataset(data_dir, checked.words, checked.counts, source=source, checked=checked)
    index, counts = iam.index_words(data_dir)
    return Dataset(data_dir, index, counts, source=source)


def _fetch_and_extract(data_root: Path, url: str, sha256: str, prefix: str,
                       markers: tuple[str, ...]) -> tuple[Path, str]:
    """An archive (http(s) URL or local file) fetched, verified and extracted once under data_root:
    the folder and the archive's SHA-256."""
    name = Path(urlparse(url).path).name or f"{prefix}.zip"
    archive = data_root / "downloads" / name
    with exclusive(archive):
        digest = fetch(url, archive, sha256)
    data_dir = (data_root / f"{prefix}-{digest[:12]}").resolve()
    with exclusive(data_dir):
        if not is_complete(data_dir):
            archives.extract_dataset(archive, data_dir, markers)
            _mark_complete(data_dir, f"{prefix} sha256={digest}")
    return data_dir, digest


def iam_words(data_root: Path, url: str, sha256: str = "", unit: str = "word") -> Dataset:
    """IAM's words archive; with unit=line, its lines, each made once from its words in their boxes."""
    data_dir, digest = _fetch_and_extract(data_root, url, sha256, "iam", ("words.txt",))
    if unit == "line":
        lines_dir = data_dir.with_name(data_dir.name + "-lines")
        with exclusive(lines_dir):
            if not is_complete(lines_dir):
                shutil.rmtree(lines_dir, ignore_errors=True)
                iam_lines.compose_lines(data_dir, lines_dir)
                _mark_complete(lines_dir, f"lines of {data_dir}")
        checked = labelled.load(lines_dir)
        return Dataset(lines_dir, checked.words, checked.counts, source=url, source_sha256=digest, checked=checked)
    index, counts = iam.index_words(data_dir)
    return Dataset(data_dir, index, counts, source=url, source_sha256=digest)


def user_folder(data_root: Path, data: str, sha256: str = "") -> Dataset:
    """A user's labelled folder (labels.tsv or an IAM layout), read where it is; or a .zip or
    .tar.gz of one (a path or an http(s) URL), fetched and extracted under data_root. Every row
    is checked: rejected rows are returned with their reasons (the caller logs them, then calls
    `checked.require`)."""
    if not data:
        raise DataError(FOLDER_NEEDS_DATA)
    if is_remote(data) or local_path(data).is_file():
        data_dir, digest = _fetch_and_extract(data_root, data, sha256, "folder",
                                              (labelled.LABELS_FILE, "words.txt"))
    elif local_path(data).is_dir():
        if sha256:
            raise DataError(f"sha256 checks an archive, and {data} is a folder: leave sha256 out")
        data_dir, digest = local_path(data).resolve(), ""
    else:
        raise DataError(f"data {data}: no such folder or archive")
    checked = labelled.load(data_dir)
    source = data if is_remote(data) else str(local_path(data).resolve())
    return Dataset(data_dir, checked.words, checked.counts, source=source, source_sha256=digest, checked=checked)


def group_columns(dataset: str, data: str | None) -> list[str] | None:
    """The columns split_by may name, when they are known before the download: IAM's (and the
    synthetic set's) form and writer, or a local folder's labels.tsv columns; None for an archive."""
    if dataset != "folder":
        return ["form", "writer"]
    folder = local_path(data) if data and not is_remote(data) else None
    return labelled.group_columns(folder) if folder and folder.is_dir() else None


def family(dataset: str, found: Dataset, unit: str = "word") -> str:
    """Which data a model learns from, as the registry compares it: GENERAL for synthetic and IAM
    words (GENERAL-lines for their lines), folder:<where> for a user's folder (a champion is only
    replaced from the same family)."""
    if dataset == "folder":
        return f"folder:{found.source}"
    return GENERAL if unit == "word" else f"{GENERAL}-{unit}s"


def name_of(data: str) -> str:
    """A short name for a user's data: its folder's or archive's name, without the archive's suffix,
    spaces and other characters a model URI would need quoted as hyphens."""
    name = Path(urlparse(data).path if is_remote(data) else local_path(data).resolve()).name
    name = re.sub(r"\.(zip|tar\.gz|tgz|tar)$", "", name, flags=re.IGNORECASE)
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "data"


def load(dataset: str, data_root: Path, samples: int, seed: int, url: str, sha256: str = "",
         fonts_dir: str | Path | None = None, data: str | None = None, unit: str = "word") -> Dataset:
    """The data set; `unit` line makes the synthetic set and IAM's into lines (a folder's labels
    say themselves whether they are words or lines)."""
    if dataset == "synthetic":
        return synthetic(data_root, samples, seed, fonts_dir, unit)
    if dataset == "iam":
        return iam_words(data_root, url, sha256, unit)
    if dataset == "folder":
        return user_folder(data_root, data or "", sha256)
    raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
