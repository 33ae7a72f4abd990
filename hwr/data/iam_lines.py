"""IAM lines: made from the words archive (each word pasted back in its box on the form), or read
from IAM's own lines archive (lines.txt + lines/<a01>/<a01-000u>/<a01-000u-00>.png).

Either way the result is a labelled line folder, labels.tsv with `file`, `text` (the words in
reading order, joined as written: hwr.data.lines.join_words) and `form`, which everything that
reads labelled folders reads.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
from PIL import Image

from hwr.data import iam
from hwr.data.lines import compose, join_words
from hwr.errors import DataError

LINES_TXT = "lines.txt"


def line_id(word_id: str) -> str:
    """a01-000u-00-03 -> a01-000u-00"""
    return word_id.rsplit("-", 1)[0]


def compose_lines(words_dir: Path, out_dir: Path, forms: set[str] | None = None,
                  writers: dict[str, str] | None = None) -> pd.DataFrame:
    """Every line of an IAM words folder (words.txt + words/) whose form is in `forms` (all: None),
    composed from its "ok" words in their boxes, written to out_dir/lines/… with out_dir/labels.tsv.
    Returns the labels' rows: file, text, form, words (how many), spans ("left:right" per word),
    and writer when `writers` maps forms to writers."""
    records = [r for r in iam.parse_words_txt(Path(words_dir) / "words.txt") if r.result == "ok"]
    by_line: dict[str, list[iam.WordRecord]] = defaultdict(list)
    for record in records:
        if forms is None or record.form in forms:
            by_line[line_id(record.word_id)].append(record)
    if not by_line:
        raise DataError(f"{words_dir}: no words of the requested forms in words.txt")
    rows = []
    for lid in sorted(by_line):
        words = sorted(by_line[lid], key=lambda r: int(r.word_id.rsplit("-", 1)[1]))
        # IAM marks some boxes it could not find with negative or zero sizes: such a word cannot be placed.
        if any(r.box[2] <= 0 or r.box[3] <= 0 or r.box[0] < 0 or r.box[1] < 0 for r in words):
            continue
        images = [(Image.open(Path(words_dir) / r.relative_path), r.box) for r in words]
        line, spans = compose(images)
        relative = f"lines/{words[0].form}/{lid}.png"
        (Path(out_dir) / relative).parent.mkdir(parents=True, exist_ok=True)
        line.save(Path(out_dir) / relative)
        rows.append({"file": relative, "text": join_words([r.text for r in words]), "form": words[0].form,
                     "words": len(words), "spans": " ".join(f"{s.left}:{s.right}" for s in spans),
                     **({"writer": writers.get(words[0].form, "")} if writers is not None else {})})
    frame = pd.DataFrame(rows)
    frame.to_csv(Path(out_dir) / "labels.tsv", sep="\t", index=False)
    return frame


def read_lines_txt(folder: Path) -> pd.DataFrame:
    """IAM's lines archive layout: file, text, form for each "ok" line of lines.txt
    (id result graylevel components x y w h word|word|…)."""
    path = Path(folder) / LINES_TXT
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            fields = raw.rstrip("\n").split(" ")
            if not raw.strip() or raw.startswith("#"):
                continue
            if len(fields) < 9 or len(fields[0].split("-")) != 3:
                raise DataError(f"{path}:{number}: not an IAM lines.txt row: {raw[:80]!r}")
            if fields[1] != "ok":
                continue
            lid = fields[0]
            first, second, _ = lid.split("-")
            rows.append({"file": f"lines/{first}/{first}-{second}/{lid}.png",
                         "text": join_words(" ".join(fields[8:]).split("|")), "form": f"{first}-{second}"})
    return pd.DataFrame(rows, columns=["file", "text", "form"])
