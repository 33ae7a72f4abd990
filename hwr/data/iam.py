"""IAM's words layout: words.txt parsing and writing, and indexing the usable words.

Layout: words.txt (one row per word: id, segmentation result, gray level, x y w h, tag, text)
and words/<a01>/<a01-000u>/<a01-000u-00-00>.png.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
