"""A user's labelled folder: labels.tsv (or an IAM layout) read strictly, every row checked.

labels.tsv is tab-separated UTF-8 with a header naming at least `file` (relative to the folder)
and `text`; any further column (writer, page, ...) is kept and can group the splits. A file that
cannot be read as that format stops with its file and line; a row whose image or text is unusable
is rejected with its reason, so nothing is dropped without a trace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from hwr.data import iam, iam_lines
from hwr.errors import DataError

LABELS_FILE = "labels.tsv"
REQUIRED = ("file", "text")
RESERVED = ("id", "path", "line")  # made by the index: a labels.tsv column may not take these names
# What a word crop can be: images far outside these bounds are a scan of something else.
MIN_SIDE = 4  # px: narrower or lower is a speck, not a word
MAX_SIDE = 4000  # px: larger is a page or a photo, not a cropped word
MAX_ASPECT = 40  # width / height: wider is a whole line or a strip
MIN_ASPECT = 1 / 10  # width / height: taller is a column, or a word on its side
MIN_WORDS = 20  # fewer usable rows cannot make a train, a validation and a test list worth the name

# The reasons a row is rejected, as the rejected-rows artifact and the run's metrics name them.
MISSING, OUTSIDE, UNREADABLE, EMPTY_IMAGE, SHAPE, EMPTY_TEXT, DUPLICATE = (
    "missing file", "outside the folder", "unreadable image", "empty image", "image shape", "empty text",
    "duplicate file")
REASONS = (MISSING, OUTSIDE, UNREADABLE, EMPTY_IMAGE, SHAPE, EMPTY_TEXT, DUPLICATE)


@dataclass
class Checked:
    """A folder's rows: `words` usable (id, path, text, extra columns), `rejected` (line, file,
    text, reason), and the counts the run logs."""

    folder: Path
    words: pd.DataFrame
    rejected: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        counts = {"rows_total": len(self.words) + len(self.rejected), "words_usable": len(self.words)}
        for reason in REASONS:
            counts["rejected_" + reason.replace(" ", "_")] = int((self.rejected["reason"] == reason).sum())
        return counts

    def require(self, minimum: int) -> None:
        """Fewer than `minimum` usable rows is an error naming what was rejected and why."""
        if len(self.words) < minimum:
            raise DataError(f"{self.summary()}: at least {minimum} usable rows are needed")

    def summary(self) -> str:
        """One line: how many rows, how many rejected and why."""
        why = ", ".join(f"{n} {reason}" for reason, n in self.rejected["reason"].value_counts().items())
        return (f"{self.folder}: {len(self.words)} of {len(self.words) + len(self.rejected)} rows usable"
                + (f"; rejected {why}" if why else ""))


def read_labels(path: Path) -> pd.DataFrame:
    """labels.tsv as a frame: its header's columns plus `line` (the row's line number in the file)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    lines = raw.split(b"\n")
    header = _decode(path, 1, lines[0]).split("\t")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}; the header must name 'file' and "
                        f"'text' (tab-separated), found {header}")
    taken = sorted(set(header) & set(RESERVED))
    if taken or len(set(header)) != len(header):
        raise DataError(f"{path}:1: column names must be unique and not {', '.join(RESERVED)}, found {header}")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        text = _decode(path, number, line)
        if not text.strip():
            continue  # a blank line, such as the one after the last newline
        fields = text.split("\t")
        if len(fields) != len(header):
            raise DataError(f"{path}:{number}: {len(fields)} tab-separated field(s), the header has "
                            f"{len(header)} ({', '.join(header)}): {text[:80]!r}")
        rows.append([*fields, number])
    return pd.DataFrame(rows, columns=[*header, "line"])


def _decode(path: Path, number: int, line: bytes) -> str:
    try:
        return line.decode("utf-8").removesuffix("\r").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{number}: not UTF-8 (byte {exc.start + 1} of the line); save the file as "
                        f"UTF-8") from None


def group_columns(folder: Path) -> list[str] | None:
    """The columns a split can keep together, from the folder's labels.tsv header (or IAM's form
    and writer); None when the folder holds neither."""
    if (folder / LABELS_FILE).is_file():
        with open(folder / LABELS_FILE, "rb") as handle:
            header = _decode(folder / LABELS_FILE, 1, handle.readline().rstrip(b"\n")).split("\t")
        return [c for c in header if c not in REQUIRED]
    if (folder / iam_lines.LINES_TXT).is_file():
        return ["form"]
    return ["form", "writer"] if (folder / "words.txt").is_file() else None


def read_folder(folder: Path) -> pd.DataFrame:
    """The folder's rows (file, text, line, extra columns), from labels.tsv, IAM's lines.txt or an
    IAM words.txt."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    if (folder / LABELS_FILE).is_file():
        return read_labels(folder / LABELS_FILE)
    if (folder / iam_lines.LINES_TXT).is_file():
        return iam_lines.read_lines_txt(folder).assign(line="")
    if (folder / "words.txt").is_file():
        records = [r for r in iam.parse_words_txt(folder / "words.txt") if r.result == "ok"]
        return pd.DataFrame({"file": [r.relative_path for r in records], "text": [r.text for r in records],
                             "line": "", "form": [r.form for r in records]})
    raise DataError(f"{folder} has neither {LABELS_FILE} (columns file, text) nor an IAM words.txt or lines.txt")


def check(folder: Path, rows: pd.DataFrame) -> Checked:
    """Every row's image and text checked: the usable words and the rejected rows with a reason each."""
    folder = Path(folder).resolve()
    reasons, seen = [], set()
    for file, text in zip(rows["file"], rows["text"]):
        path = _joined(folder, file)
        reason = _text_problem(text) or _image_problem(folder, path)
        if reason is None and path in seen:
            reason = DUPLICATE
        seen.add(path)
        reasons.append(reason)
    rejected = pd.Series([r is not None for r in reasons], index=rows.index)
    extras = [c for c in rows.columns if c not in (*REQUIRED, "line")]
    words = rows[~rejected]
    words = pd.DataFrame({"id": words["file"], "path": [_relative(folder, f) for f in words["file"]],
                          "text": words["text"].str.strip(), **{c: words[c] for c in extras}}).reset_index(drop=True)
    bad = rows[rejected]
    bad = pd.DataFrame({"line": bad["line"], "file": bad["file"], "text": bad["text"],
                        "reason": [r for r in reasons if r is not None]}).reset_index(drop=True)
    return Checked(folder, words, bad)


def load(folder: Path) -> Checked:
    return check(folder, read_folder(folder))


def _joined(folder: Path, file: str) -> Path:
    # Normalised as written, not resolved: "a/../b" and "/abs" are caught, and a symbolic link the
    # user put inside the folder (to a shared images folder, say) is followed as they meant.
    return Path(os.path.normpath(folder / file))


def _relative(folder: Path, file: str) -> str:
    return _joined(folder, file).relative_to(folder).as_posix()


def _text_problem(text: str) -> str | None:
    return EMPTY_TEXT if not text.strip() else None


def _image_problem(folder: Path, path: Path) -> str | None:
    if not path.is_relative_to(folder):
        return OUTSIDE
    if not path.is_file():
        return MISSING
    try:
        with Image.open(path) as image:
            image.load()
            gray = image.convert("L")
    except Exception:  # any decoding failure: the file is not an image PIL can read
        return UNREADABLE
    width, height = gray.size
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE or not MIN_ASPECT <= width / height <= MAX_ASPECT:
        return SHAPE
    low, high = gray.getextrema()
    return EMPTY_IMAGE if low == high else None


def write_rejected(checked: Checked, path: Path) -> None:
    checked.rejected.to_csv(path, sep="\t", index=False)
