"""IAM's words layout: words.txt parsing and writing, and safe extraction of the archive.

Layout: words.txt (one row per word: id, segmentation result, gray level, x y w h, tag, text)
and words/<a01>/<a01-000u>/<a01-000u-00-00>.png.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
from PIL import Image

from hwr.errors import DataError

WORDS_TXT_HEADER = "# hwr: IAM words.txt layout\n# id result graylevel x y w h tag transcription\n"


@dataclass(frozen=True)
class WordRecord:
    word_id: str
    result: str  # "ok" or "err" (IAM's segmentation check)
    graylevel: int
    box: tuple[int, int, int, int]
    tag: str
    text: str

    @property
    def form(self) -> str:
        """The form (page) id: the first two fields of the word id, e.g. a01-000u."""
        return "-".join(self.word_id.split("-")[:2])

    @property
    def relative_path(self) -> str:
        parts = self.word_id.split("-")
        return f"words/{parts[0]}/{parts[0]}-{parts[1]}/{self.word_id}.png"


def parse_words_txt(path: Path) -> list[WordRecord]:
    """Every record of a words.txt; comment lines start with '#'. Malformed rows raise DataError."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split(" ")
            if len(fields) < 9 or len(fields[0].split("-")) != 4:
                raise DataError(f"{path}:{line_no}: not an IAM words.txt row: {line[:80]!r}")
            try:
                graylevel = int(fields[2])
                box = (int(fields[3]), int(fields[4]), int(fields[5]), int(fields[6]))
            except ValueError:
                raise DataError(f"{path}:{line_no}: gray level and box must be integers: {line[:80]!r}") from None
            # The transcription is the last field; IAM never puts spaces in it, but be lenient.
            records.append(WordRecord(fields[0], fields[1], graylevel, box, fields[7], " ".join(fields[8:])))
    return records


def write_words_txt(path: Path, records: list[WordRecord]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(WORDS_TXT_HEADER)
        for r in records:
            handle.write(f"{r.word_id} {r.result} {r.graylevel} {' '.join(map(str, r.box))} {r.tag} {r.text}\n")


def _image_opens(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # any failure to open means the image is unusable; counted, not fatal
        return False


def index_words(data_dir: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """The usable words of an IAM-layout folder and counts of what was dropped and why.

    Returns a frame with columns id, path (relative to data_dir), text, form.
    """
    words_txt = data_dir / "words.txt"
    if not words_txt.is_file():
        raise DataError(f"{data_dir} has no words.txt: not an IAM-layout folder")
    records = parse_words_txt(words_txt)
    ok = [r for r in records if r.result == "ok"]
    usable = [r for r in ok if _image_opens(data_dir / r.relative_path)]
    counts = {
        "words_total": len(records),
        "words_dropped_err": len(records) - len(ok),
        "words_dropped_unreadable": len(ok) - len(usable),
        "words_usable": len(usable),
    }
    if not usable:
        raise DataError(f"{data_dir}: none of the {len(records)} words in words.txt has a readable image")
    frame = pd.DataFrame(
        {
            "id": [r.word_id for r in usable],
            "path": [r.relative_path for r in usable],
            "text": [r.text for r in usable],
            "form": [r.form for r in usable],
        }
    )
    return frame, counts


def _check_member_name(name: str) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise DataError(f"archive member {name!r} would be written outside the target folder: refusing the archive")


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise DataError(f"{archive}: member {bad!r} is corrupt (CRC mismatch)")
        for info in zf.infolist():
            _check_member_name(info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(f"archive member {info.filename!r} is a symbolic link: refusing the archive")
        zf.extractall(target)


def _extract_tar(archive: Path, target: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            # The "data" filter refuses absolute paths, "..", links leaving the target and devices.
            tf.extractall(target, filter="data")
    except tarfile.FilterError as exc:
        raise DataError(f"{archive}: unsafe member refused ({exc})") from None
    except tarfile.TarError as exc:
        raise DataError(f"{archive}: not a readable tar archive ({exc})") from None


def extract_archive(archive: Path, target: Path) -> None:
    """Extract a .zip or .tar(.gz) archive into `target`, refusing any member that would escape it."""
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, target)
    elif tarfile.is_tarfile(archive):
        _extract_tar(archive, target)
    else:
        raise DataError(f"{archive} is neither a zip nor a tar archive")


def extract_iam_archive(archive: Path, target: Path) -> Path:
    """Extract an IAM words archive into `target` (words.txt + words/), all or nothing.

    Accepts the public IAM_Words.zip (IAM_Words/words.txt + IAM_Words/words.tgz) and archives that
    already hold words.txt beside a words/ folder. Work happens in a temporary folder that is
    renamed into place only when everything is extracted and words.txt is found.
    """
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        extract_archive(archive, staging)
        words_txt = next(iter(sorted(staging.rglob("words.txt"), key=lambda p: len(p.parts))), None)
        if words_txt is None:
            raise DataError(f"{archive} holds no words.txt: not an IAM words archive")
        root = words_txt.parent
        inner = root / "words.tgz"
        if inner.is_file() and not (root / "words").is_dir():
            (root / "words").mkdir()
            _extract_tar(inner, root / "words")
            inner.unlink()
        shutil.rmtree(target, ignore_errors=True)
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
