"""A user's labelled folder for tests: synthetic words as PNG and JPEG under pages, labels.tsv with
extra columns, and (on request) one row of every kind the download step must reject."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from hwr.data.synthetic import font_catalog, synth

WORDS = ["the", "letter", "from", "Mount", "Vernon", "to", "his", "Excellency", "dear", "Sir", ",", "1775"]
# Every kind of bad row, with the reason the check must give it.
BAD_ROWS = {
    "images/gone.png": "missing file",
    "images/broken.png": "unreadable image",
    "images/blank.png": "empty image",
    "images/strip.png": "image shape",
    "images/p0/w00.png": "duplicate file",  # the first good row's file, listed again
    "images/p0/w01.jpg": "empty text",  # listed once, with no text: a good image, a bad row
}


def build_folder(target: Path, pages: int = 4, per_page: int = 10, bad: bool = True,
                 words: list[str] = WORDS) -> Path:
    """target/labels.tsv (file, text, page, writer) and target/images/p<page>/w<n>.png|.jpg."""
    fonts = font_catalog.handwriting_fonts()
    rows = ["file\ttext\tpage\twriter"]
    for page in range(pages):
        rng = np.random.default_rng(page)
        style = synth.sample_style(rng, fonts)
        folder = target / "images" / f"p{page}"
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_page):
            text = words[(page * per_page + n) % len(words)]
            image = synth.render_word(text, style, rng).convert("L")
            name = f"w{n:02d}.{'jpg' if n % 2 else 'png'}"
            image.save(folder / name)
            if bad and page == 0 and n == 1:
                continue  # this image's row is the empty-text one below
            rows.append(f"images/p{page}/{name}\t{text}\t{page}\twriter{page % 2}")
    if bad:
        (target / "images" / "broken.png").write_bytes(b"not an image at all")
        Image.new("L", (80, 32), 255).save(target / "images" / "blank.png")
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 600), dtype=np.uint8)).save(
            target / "images" / "strip.png")
        for file, reason in BAD_ROWS.items():
            rows.append(f"{file}\t{'' if reason == 'empty text' else 'word'}\t0\twriter0")
    (target / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target


def usable_rows(pages: int = 4, per_page: int = 10) -> int:
    """How many rows of build_folder(bad=True) the check keeps."""
    return pages * per_page - 1


def zip_folder(folder: Path, archive: Path) -> Path:
    """The folder inside a zip, under a top-level folder of its own name, as users usually zip."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return archive


def tar_folder(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive
