"""The embedded data set: English words rendered offline with handwriting fonts from pip packages.

Written in IAM's own layout (words.txt + words/<a>/<a-b>/<id>.png) so that everything after the
download step has one code path. Each "form" is one simulated writer: one font at one size, slant
and ink colour, like a page filled in by one person. Generation is seeded per form, so the same
seed gives byte-identical images in any order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from hwr.iam import WordRecord, write_words_txt

# Handwriting families from the fontpkg-* packages listed in pyproject.toml.
HANDWRITING_FAMILIES = (
    "caveat",
    "dancing-script",
    "great-vibes",
    "indie-flower",
    "kalam",
    "permanent-marker",
    "satisfy",
    "shadows-into-light",
    "yellowtail",
    "zeyada",
    "pacifico",
    "delius",
)
MIN_FAMILIES = 8
WORDS_PER_FORM = 50
WORD_LIST_SIZE = 10_000


@dataclass(frozen=True)
class WriterStyle:
    font_path: str
    size: int
    slant: float  # horizontal shear, as a fraction of the height
    ink: int  # gray level of the strokes
    paper: int  # gray level of the paper
    stroke: int  # extra stroke width in pixels


def handwriting_fonts() -> list[str]:
    """Paths of the installed handwriting fonts; fails clearly when too few are installed."""
    import fontpkg

    installed = fontpkg.families()
    paths = [str(f.path) for slug in HANDWRITING_FAMILIES if slug in installed for f in installed[slug].files]
    families = [slug for slug in HANDWRITING_FAMILIES if slug in installed]
    if len(families) < MIN_FAMILIES:
        missing = sorted(set(HANDWRITING_FAMILIES) - set(families))
        raise RuntimeError(
            f"only {len(families)} handwriting font families are installed (need {MIN_FAMILIES}); "
            f"install the project's dependencies (pip install -e .), missing: {', '.join(missing)}"
        )
    return paths


@lru_cache(maxsize=1)
def english_words() -> tuple[str, ...]:
    """The most frequent English words from the wordfreq package's offline lists."""
    import wordfreq

    words = [w for w in wordfreq.top_n_list("en", WORD_LIST_SIZE * 2) if re.fullmatch(r"[a-z]+('[a-z]+)?", w)]
    return tuple(words[:WORD_LIST_SIZE])


def sample_label(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    """A word with IAM-like variety: mostly lower case, some capitalised or upper case, some numbers."""
    roll = rng.random()
    if roll < 0.04:
        return str(int(rng.integers(0, 10 ** int(rng.integers(1, 5)))))
    if roll < 0.07:
        return str(rng.choice([".", ",", "-", "'", "!", "?", ";", ":", '"', "(", ")"]))
    word = words[int(rng.integers(len(words)))]
    if roll < 0.25:
        return word.capitalize()
    if roll < 0.30:
        return word.upper()
    return word


def sample_style(rng: np.random.Generator, fonts: list[str]) -> WriterStyle:
    return WriterStyle(
        font_path=fonts[int(rng.integers(len(fonts)))],
        size=int(rng.integers(30, 46)),
        slant=float(rng.uniform(-0.35, 0.35)),
        ink=int(rng.integers(0, 90)),
        paper=int(rng.integers(215, 256)),
        stroke=int(rng.random() < 0.2),
    )


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def render_word(text: str, style: WriterStyle, rng: np.random.Generator) -> Image.Image:
    """One word image: drawn, slanted, slightly rotated, cropped, with paper noise."""
    font = _font(style.font_path, style.size + int(rng.integers(-2, 3)))
    left, top, right, bottom = font.getbbox(text, stroke_width=style.stroke)
    margin = style.size
    canvas = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), 255)
    ImageDraw.Draw(canvas).text(
        (margin - left, margin - top), text, font=font, fill=0, stroke_width=style.stroke, stroke_fill=0
    )
    shear = style.slant + float(rng.normal(0, 0.04))
    canvas = canvas.transform(
        canvas.size,
        Image.Transform.AFFINE,
        (1, shear, -shear * canvas.height / 2, 0, 1, 0),
        resample=Image.Resampling.BILINEAR,
        fillcolor=255,
    )
    canvas = canvas.rotate(float(rng.normal(0, 1.5)), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    ink_box = Image.eval(canvas, lambda v: 255 - v).getbbox()
    if ink_box:
        pad = [int(p) for p in rng.integers(2, 10, size=4)]
        canvas = canvas.crop(
            (
                max(0, ink_box[0] - pad[0]),
                max(0, ink_box[1] - pad[1]),
                min(canvas.width, ink_box[2] + pad[2]),
                min(canvas.height, ink_box[3] + pad[3]),
            )
        )
    if rng.random() < 0.3:
        canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.9))))
    # Map black/white to this writer's ink and paper, then add scanner noise.
    arr = np.asarray(canvas, dtype=np.float32) / 255.0
    arr = style.ink + arr * (style.paper - style.ink)
    arr += rng.normal(0, rng.uniform(0, 8), size=arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")


def form_id(index: int) -> str:
    return f"s{index // 1000:02d}-{index % 1000:03d}"


def generate(target: Path, samples: int, seed: int, fonts: list[str] | None = None) -> list[WordRecord]:
    """Render `samples` words into `target` in IAM's layout and return their records."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    fonts = fonts or handwriting_fonts()
    words = english_words()
    records: list[WordRecord] = []
    for form in range((samples + WORDS_PER_FORM - 1) // WORDS_PER_FORM):
        rng = np.random.default_rng([seed, form])
        style = sample_style(rng, fonts)
        fid = form_id(form)
        folder = target / "words" / fid.split("-")[0] / fid
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(min(WORDS_PER_FORM, samples - form * WORDS_PER_FORM)):
            text = sample_label(rng, words)
            image = render_word(text, style, rng)
            word_id = f"{fid}-{n // 10:02d}-{n % 10:02d}"
            image.save(folder / f"{word_id}.png")
            records.append(WordRecord(word_id, "ok", 128, (0, 0, image.width, image.height), "XX", text))
    write_words_txt(target / "words.txt", records)
    return records
