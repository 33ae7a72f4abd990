"""The embedded data set: English words drawn glyph by glyph with handwriting fonts from pip packages.

Written in IAM's own layout (words.txt + words/<a>/<a-b>/<id>.png) so that everything after the
download step has one code path. Each "form" is one simulated writer: one font, letter size,
slant, pen width, ink and paper, like a page filled in by one person. Each word is drawn one
glyph at a time along a wobbling baseline, every glyph slightly moved, resized, turned and
thickened or thinned, so the same word never looks the same twice. Labels (hwr.data.synthetic.word_labels)
follow IAM's tokenisation and character set; the fonts are hwr.data.synthetic.font_catalog's. Generation is
seeded per form, so the same seed gives byte-identical images in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, features

from hwr.data.iam import WordRecord, write_words_txt
from hwr.data.lines import NO_SPACE_BEFORE, join_words
from hwr.data.synthetic import font_catalog
from hwr.data.synthetic.word_labels import WordList, english_words, sample_label

# Bump whenever the images or labels for a given seed change: the data folder's name includes it.
GENERATOR_VERSION = 3

# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriterStyle:
    font_path: str
    weight: int | None  # weight axis of a variable font (static fonts: None)
    size: int  # font size in pixels
    slant: float  # horizontal shear, as a fraction of the height
    spacing: float  # scales the font's advance widths
    pen: float  # stroke width change in dilation steps: -1 thinner, 0 as drawn, 2 much thicker
    jitter: float  # how irregular the glyphs are: 0.4 neat .. 1.2 messy
    wobble: float  # baseline drift, as a fraction of the x-height
    ink: int  # gray level of the strokes
    paper: int  # gray level of the paper


def sample_style(rng: np.random.Generator, fonts: Sequence[str]) -> WriterStyle:
    """One simulated writer: a family chosen evenly among families, then letter size, pen, slant."""
    families = font_catalog.font_families(fonts)
    names = sorted(families)
    files = families[names[int(rng.integers(len(names)))]]
    x_height = rng.uniform(13, 21)  # pixels; IAM's words are downscaled to 32 px height anyway
    # The pen: a stroke of 9-20 % of the x-height (IAM's range), whatever the font. The family's
    # weights come closest first (so advances suit the stroke), erosion/dilation does the rest.
    stroke = rng.uniform(0.09, 0.2) * x_height

    def size_of(variant):
        return int(round(x_height / font_catalog.x_height_ratio(*variant)))

    def stroke_gap(variant):
        return abs(font_catalog.stroke_width(*variant, size_of(variant)) - stroke)

    path, weight = min(font_catalog.font_variants(files), key=stroke_gap)
    size = size_of((path, weight))
    natural = font_catalog.stroke_width(path, weight, size)
    # Measured: each dilation step widens strokes by ~2.4 px, resampling by ~0.4 px.
    pen = (stroke - natural - 0.4) / 2.4
    return WriterStyle(
        font_path=path,
        weight=weight,
        size=size,
        slant=float(np.clip(rng.normal(0.08, 0.15), -0.25, 0.45)),
        spacing=float(rng.uniform(0.96, 1.1)),
        pen=float(np.clip(pen, -1.0 if natural >= 3.5 else 0.0, 2.0)),
        jitter=float(rng.uniform(0.4, 1.2)),
        wobble=float(rng.uniform(0.04, 0.22)),
        ink=int(rng.integers(5, 90)),
        paper=int(rng.integers(225, 256)),
    )


# ---------------------------------------------------------------------------------------------
# Glyphs
# ---------------------------------------------------------------------------------------------

GLYPH_PAD = 4  # room for dilation around each glyph
# OpenType features to switch off when measuring advances (only possible with libraqm).
ISOLATED_FORMS = ["-calt", "-liga", "-clig", "-dlig", "-rlig", "-rclt"] if features.check("raqm") else None
# Of the x-height: how much closer, or further apart, than the font's spacing two glyphs may get.
MAX_TIGHTENING = 0.05
MAX_LOOSENING = 0.1


@lru_cache(maxsize=4096)
def _glyph_origin(path: str, weight: int | None, size: int, char: str) -> tuple[int, int, int, int]:
    """(width, height, origin x, origin y) of a glyph's padded image; the origin is on the baseline."""
    left, top, right, bottom = font_catalog.load_font(path, size, weight).getbbox(char, anchor="ls")
    return right - left + 2 * GLYPH_PAD, bottom - top + 2 * GLYPH_PAD, GLYPH_PAD - left, GLYPH_PAD - top


@lru_cache(maxsize=8192)
def _glyph_image(path: str, weight: int | None, size: int, char: str, pen_step: int) -> Image.Image:
    """The glyph's ink (255 = full) as drawn (step 0), dilated (steps > 0) or eroded (step -1)."""
    if pen_step > 0:
        return _glyph_image(path, weight, size, char, pen_step - 1).filter(ImageFilter.MaxFilter(3))
    if pen_step < 0:
        return _glyph_image(path, weight, size, char, 0).filter(ImageFilter.MinFilter(3))
    width, height, x, y = _glyph_origin(path, weight, size, char)
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).text((x, y), char, font=font_catalog.load_font(path, size, weight), fill=255, anchor="ls")
    return image


def _glyph_with_pen(style: WriterStyle, char: str, pen: float) -> Image.Image:
    """Blend the two nearest erosion/dilation steps: a continuous stroke width."""
    low = math.floor(pen)
    image = _glyph_image(style.font_path, style.weight, style.size, char, low)
    fraction = pen - low
    if fraction < 0.05:
        return image
    return Image.blend(image, _glyph_image(style.font_path, style.weight, style.size, char, low + 1), fraction)


@lru_cache(maxsize=16384)
def _advance(path: str, weight: int | None, char: str, following: str) -> float:
    """Pen advance after `char` at the reference size, kerning with the next character included.

    Contextual forms and ligatures are off: each glyph is drawn alone, in its isolated form."""
    font = font_catalog.load_font(path, font_catalog.REFERENCE_SIZE, weight)
    if not following:
        return font.getlength(char, features=ISOLATED_FORMS)
    pair = font.getlength(char + following, features=ISOLATED_FORMS)
    return pair - font.getlength(following, features=ISOLATED_FORMS)


def _transformed(image: Image.Image, origin: tuple[float, float], matrix: np.ndarray, target: tuple[float, float]):
    """Apply `matrix` about the glyph's origin and place that origin at `target` (sub-pixel).

    Returns the transformed ink as float32 (0..1) and its integer top-left corner on the canvas."""
    w, h = image.size
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64) - origin
    mapped = corners @ matrix.T
    low, high = mapped.min(axis=0), mapped.max(axis=0)
    base = np.ceil(-low) + 1  # integer part of the output origin
    out_origin = base + (np.asarray(target) - np.floor(target))
    size = (int(np.ceil(high[0] + out_origin[0])) + 2, int(np.ceil(high[1] + out_origin[1])) + 2)
    (a, b), (c, d) = matrix
    inverse = np.array([[d, -b], [-c, a]]) / (a * d - b * c)
    shift = np.asarray(origin) - inverse @ out_origin
    coefficients = (inverse[0, 0], inverse[0, 1], shift[0], inverse[1, 0], inverse[1, 1], shift[1])
    out = image.transform(size, Image.Transform.AFFINE, coefficients, resample=Image.Resampling.BILINEAR)
    corner = (int(np.floor(target[0]) - base[0]), int(np.floor(target[1]) - base[1]))
    return np.asarray(out, dtype=np.float32) * (1 / 255), corner


def _glyph_matrix(slant: float, angle: float, scale_x: float, scale_y: float) -> np.ndarray:
    """Scale, then turn, then slant: the slant leans everything above the baseline to the right."""
    cos, sin = math.cos(angle), math.sin(angle)
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    rotation = np.array([[cos, -sin], [sin, cos]])
    return shear @ rotation @ np.diag([scale_x, scale_y])


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------


def _baseline(rng: np.random.Generator, style: WriterStyle, x_height: float):
    """A smooth vertical drift along the word: a slow wave plus a slight tilt."""
    amplitude = style.wobble * x_height * rng.uniform(0.5, 1.0)
    period = rng.uniform(4.0, 10.0) * x_height
    phase = rng.uniform(0, 2 * math.pi)
    tilt = rng.normal(0, 0.025)
    return lambda x: amplitude * math.sin(2 * math.pi * x / period + phase) + tilt * x


def _spacing_shift(jitter: float, previous: float, x_height: float) -> float:
    """A glyph's horizontal jitter, kept close to its neighbour's: letters neither run together
    nor fall apart, whatever the font's own spacing."""
    return float(np.clip(jitter, previous - MAX_TIGHTENING * x_height, previous + MAX_LOOSENING * x_height))


def _glyph_pen(style: WriterStyle, noise: float) -> float:
    """The writer's pen plus a little per glyph; thin fonts are never eroded (strokes would break)."""
    return float(np.clip(style.pen + 0.25 * noise, -1.0 if style.pen < 0 else 0.0, 2.4))


def _place_glyphs(text: str, style: WriterStyle, rng: np.random.Generator):
    """Each glyph's ink and canvas corner, along the baseline with the writer's spacing and jitter."""
    path, weight = style.font_path, style.weight
    x_height = font_catalog.x_height_ratio(path, weight) * style.size
    unit = style.size / font_catalog.REFERENCE_SIZE
    word_scale = 1 + rng.normal(0, 0.03)
    slant = style.slant + rng.normal(0, 0.03)
    baseline = _baseline(rng, style, x_height)
    # Per glyph: dx, dy, angle, scale, aspect, pen, pressure (clipped so no glyph goes wild).
    noise = np.clip(rng.standard_normal((len(text), 7)), -2.0, 2.0)
    placed, pen_x, previous_shift = [], 0.0, 0.0
    for i, char in enumerate(text):
        dx, dy, turn, grow, aspect, pen, pressure = noise[i]
        scale = word_scale * (1 + 0.06 * style.jitter * grow)
        shift = _spacing_shift(0.035 * x_height * style.jitter * dx, previous_shift, x_height)
        x = pen_x + shift
        y = baseline(x) + 0.06 * x_height * style.jitter * dy
        matrix = _glyph_matrix(slant, math.radians(2.0 * style.jitter * turn), scale * (1 + 0.03 * aspect), scale)
        image = _glyph_with_pen(style, char, _glyph_pen(style, pen))
        origin = _glyph_origin(path, weight, style.size, char)[2:]
        ink, corner = _transformed(image, origin, matrix, (x, y))
        placed.append((ink * (0.92 + 0.04 * pressure), corner))
        previous_shift = shift
        pen_x += _advance(path, weight, char, text[i + 1] if i + 1 < len(text) else "") * unit * style.spacing * scale
    return placed


def _compose(placed) -> np.ndarray:
    """Paste the glyphs' ink into one canvas; overlapping strokes take the darker value."""
    left = min(c[0] for _, c in placed)
    top = min(c[1] for _, c in placed)
    right = max(c[0] + ink.shape[1] for ink, c in placed)
    bottom = max(c[1] + ink.shape[0] for ink, c in placed)
    canvas = np.zeros((bottom - top, right - left), dtype=np.float32)
    for ink, (x, y) in placed:
        region = canvas[y - top : y - top + ink.shape[0], x - left : x - left + ink.shape[1]]
        np.maximum(region, ink, out=region)
    return canvas


def _crop_to_ink(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crop to the ink with a few pixels of paper on each side, like IAM's word boxes."""
    rows = np.flatnonzero(canvas.max(axis=1) > 0.1)
    cols = np.flatnonzero(canvas.max(axis=0) > 0.1)
    if not rows.size:
        return np.pad(canvas, 2)
    pad = [int(p) for p in rng.integers(2, 9, size=4)]
    cropped = canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.pad(cropped, ((pad[0], pad[1]), (pad[2], pad[3])))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid, resized smoothly."""
    coarse = rng.uniform(-1, 1, size=(shape[0] // cell + 2, shape[1] // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def _on_paper(alpha: np.ndarray, style: WriterStyle, rng: np.random.Generator) -> Image.Image:
    """Ink on paper: uneven pressure, paper tone, gradient and texture, scanner noise, sometimes blur."""
    h, w = alpha.shape
    if rng.random() < 0.25:
        blurred = Image.fromarray(np.clip(alpha * 255, 0, 255).astype(np.uint8))
        alpha = np.asarray(blurred.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9))), dtype=np.float32) / 255
    alpha = alpha * (1 - 0.12 * (1 + _smooth_noise(rng, (h, w), 16)) * rng.uniform(0, 1))
    gradient = np.add.outer(np.linspace(0, rng.uniform(-10, 10), h), np.linspace(0, rng.uniform(-14, 14), w))
    paper = style.paper + gradient + rng.uniform(0, 6) * _smooth_noise(rng, (h, w), 6)
    ink = style.ink + rng.normal(0, 6)
    pixels = paper - alpha * (paper - ink) + rng.normal(0, rng.uniform(0, 5), size=(h, w))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def render_word(text: str, style: WriterStyle, rng: np.random.Generator) -> Image.Image:
    """One word image, drawn glyph by glyph in the writer's style."""
    missing = set(text) - font_catalog.renderable_chars(style.font_path)
    if missing:
        raise ValueError(f"{Path(style.font_path).name} cannot draw {''.join(sorted(missing))!r} in {text!r}")
    canvas = _compose(_place_glyphs(text, style, rng))
    return _on_paper(_crop_to_ink(canvas, rng), style, rng)


def sample_renderable_label(rng: np.random.Generator, words: WordList, style: WriterStyle) -> str:
    """A label this writer's font can draw: labels with glyphs it lacks, or whole words in ornate
    capitals, are drawn again."""
    drawable = font_catalog.renderable_chars(style.font_path)
    no_upper_words = font_catalog.has_ornate_capitals(style.font_path)
    while True:
        text = sample_label(rng, words)
        if set(text) <= drawable and not (no_upper_words and len(text) > 1 and text.isupper()):
            return text


def form_id(index: int) -> str:
    return f"s{index // 1000:02d}-{index % 1000:03d}"


WORDS_PER_FORM = 50


def generate(target: Path, samples: int, seed: int, fonts: Sequence[str] | None = None) -> list[WordRecord]:
    """Render `samples` words into `target` in IAM's layout and return their records."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    fonts = list(dict.fromkeys(fonts or font_catalog.handwriting_fonts()))
    words = english_words()
    records: list[WordRecord] = []
    for form in range((samples + WORDS_PER_FORM - 1) // WORDS_PER_FORM):
        rng = np.random.default_rng([seed, form])
        style = sample_style(rng, fonts)
        fid = form_id(form)
        folder = target / "words" / fid.split("-")[0] / fid
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(min(WORDS_PER_FORM, samples - form * WORDS_PER_FORM)):
            text = sample_renderable_label(rng, words, style)
            image = render_word(text, style, rng)
            word_id = f"{fid}-{n // 10:02d}-{n % 10:02d}"
            image.save(folder / f"{word_id}.png")
            records.append(WordRecord(word_id, "ok", 128, (0, 0, image.width, image.height), "XX", text))
    write_words_txt(target / "words.txt", records)
    return records


# ---------------------------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------------------------

LINES_PER_FORM = 8
WORDS_PER_LINE = (3, 8)  # tokens in a line, inclusive; IAM's lines hold about 9
# Paper between two words, in x-heights: IAM's writers leave from under half to over one.
WORD_GAP = (0.6, 1.3)
ATTACHED_GAP = (0.05, 0.25)  # before punctuation written against its word


def _word_ink(text: str, style: WriterStyle, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A word's ink cropped to its strokes, and its baseline's row in that crop."""
    placed = _place_glyphs(text, style, rng)
    top = min(c[1] for _, c in placed)
    canvas = _compose(placed)
    rows = np.flatnonzero(canvas.max(axis=1) > 0.1)
    cols = np.flatnonzero(canvas.max(axis=0) > 0.1)
    if not rows.size:  # a glyph with no ink at this size: keep the canvas as drawn
        return canvas, -top
    return canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], -top - int(rows[0])


def render_line(tokens: Sequence[str], style: WriterStyle, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """One line of words in the writer's style, on a slowly drifting baseline, and its text
    (hwr.data.lines.join_words: punctuation is written, and read, against its word)."""
    x_height = font_catalog.x_height_ratio(style.font_path, style.weight) * style.size
    drift = _baseline(rng, style, x_height * 4)  # the line's own wave: slower and wider than a word's
    inks, x = [], 0.0
    for i, token in enumerate(tokens):
        ink, baseline = _word_ink(token, style, rng)
        if i:
            gap = ATTACHED_GAP if token.startswith(NO_SPACE_BEFORE) else WORD_GAP
            x += rng.uniform(*gap) * x_height
        inks.append((ink, int(round(x)), baseline + drift(x)))
        x += ink.shape[1]
    top = min(-b for _, _, b in inks)
    bottom = max(ink.shape[0] - b for ink, _, b in inks)
    canvas = np.zeros((int(np.ceil(bottom - top)) + 1, int(np.ceil(x)) + 1), dtype=np.float32)
    for ink, left, baseline in inks:
        row = int(round(-baseline - top))
        region = canvas[row : row + ink.shape[0], left : left + ink.shape[1]]
        np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
    return _on_paper(_crop_to_ink(canvas, rng), style, rng), join_words(list(tokens))


def generate_lines(target: Path, lines: int, seed: int, fonts: Sequence[str] | None = None) -> list[dict]:
    """Render `lines` lines into target/lines/<form>/<id>.png with target/labels.tsv (file, text,
    form), every form one writer; returns the rows."""
    if lines < 1:
        raise ValueError(f"lines must be at least 1, got {lines}")
    fonts = list(dict.fromkeys(fonts or font_catalog.handwriting_fonts()))
    words = english_words()
    rows = []
    for form in range((lines + LINES_PER_FORM - 1) // LINES_PER_FORM):
        rng = np.random.default_rng([seed, form])
        style = sample_style(rng, fonts)
        fid = form_id(form)
        (target / "lines" / fid).mkdir(parents=True, exist_ok=True)
        for n in range(min(LINES_PER_FORM, lines - form * LINES_PER_FORM)):
            count = int(rng.integers(WORDS_PER_LINE[0], WORDS_PER_LINE[1] + 1))
            tokens = [sample_renderable_label(rng, words, style) for _ in range(count)]
            image, text = render_line(tokens, style, rng)
            relative = f"lines/{fid}/{fid}-{n:02d}.png"
            image.save(target / relative)
            rows.append({"file": relative, "text": text, "form": fid})
    with open(target / "labels.tsv", "w", encoding="utf-8") as handle:
        handle.write("file\ttext\tform\n")
        handle.writelines(f"{r['file']}\t{r['text']}\t{r['form']}\n" for r in rows)
    return rows
