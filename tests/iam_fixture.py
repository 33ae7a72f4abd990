"""Builds small archives in the public IAM_Words.zip layout for tests (real IAM data is never committed)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from hwr.data.iam import WordRecord, write_words_txt
from hwr.data.synthetic import font_catalog, synth

WORDS = ["move", "the", "Labour", "from", "Gaitskell", "to", "nominating", "any", "more", ",", "12", "MPs"]


def render_iam_folder(target: Path, forms: int = 3, per_form: int = 8, bad_rows: int = 0) -> list[WordRecord]:
    """IAM-layout folder: words.txt + words/a01/a01-00Nx/*.png; `bad_rows` extra rows marked err."""
    fonts = font_catalog.handwriting_fonts()
    records = []
    for form in range(forms):
        rng = np.random.default_rng(form)
        style = synth.sample_style(rng, fonts)
        form_id = f"a01-{form:03d}u"
        folder = target / "words" / "a01" / form_id
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_form + bad_rows):
            text = WORDS[(form * per_form + n) % len(WORDS)]
            word_id = f"{form_id}-00-{n:02d}"
            synth.render_word(text, style, rng).save(folder / f"{word_id}.png")
            result = "err" if n >= per_form else "ok"
            records.append(WordRecord(word_id, result, 154, (408, 768, 27, 51), "AT", text))
    write_words_txt(target / "words.txt", records)
    return records


def build_iam_zip(folder: Path, archive: Path) -> Path:
    """Pack an IAM-layout folder exactly like IAM_Words.zip: IAM_Words/words.txt + IAM_Words/words.tgz."""
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        for png in sorted((folder / "words").rglob("*.png")):
            tar.add(png, arcname=str(png.relative_to(folder / "words")))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "words.txt", "IAM_Words/words.txt")
        zf.writestr("IAM_Words/words.tgz", tgz.getvalue())
    return archive
