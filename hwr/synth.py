"""The embedded data set: English words drawn glyph by glyph with handwriting fonts from pip packages.

Written in IAM's own layout (words.txt + words/<a>/<a-b>/<id>.png) so that everything after the
download step has one code path. Each "form" is one simulated writer: one font, letter size,
slant, pen width, ink and paper, like a page filled in by one person. Each word is drawn one
glyph at a time along a wobbling baseline, every glyph slightly moved, resized, turned and
thickened or thinned, so the same word never looks the same twice. Labels follow IAM's
tokenisation and character set. Generation is seeded per form, so the same seed gives
byte-identical images in any order.
"""

from __future__ import annotations

import hashlib
import math
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

from hwr.errors import DataError
from hwr.iam import WordRecord, write_words_txt
from hwr.iam_stats import PUNCTUATION

# Bump whenever the images or labels for a given seed change: the data folder's name includes it.
GENERATOR_VERSION = 3

# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------

# Every character of IAM's word transcriptions (IAM's 79 symbols are these plus the space,
# which never occurs inside a word).
IAM_CHARSET = frozenset("!\"#&'()*+,-./0123456789:;?" + string.ascii_letters)
ABBREVIATIONS = ("Mr.", "Mr.", "Mr.", "Mrs.", "Dr.", "St.", "No.", "Co.", "Ltd.")
PUNCTUATION_SHARE = 0.13  # IAM: 10 % in the dev writers' words (iam_stats), about 1 in 6 in some counts
NUMBER_SHARE = 0.05  # IAM: 0.7 %; more here, or digits are seen too rarely to be learnt
ABBREVIATION_SHARE = 0.01
HYPHENATED_SHARE = 0.015  # "week-end", and words broken at the end of a line: "affilia-"
MAX_COMPOUND = 16  # letters; IAM's longest words have 16-17 characters
CAPITALISED_SHARE = 0.17
UPPER_SHARE = 0.04  # IAM: 0.7 %; more here, for the same reason
JOINED_CONTRACTION_SHARE = 0.25  # IAM mostly splits "don't" into "don" + "'t", not always
VOCABULARY_SIZE = 50_000
# Word frequency ** FLATTENING: "the" stays common, yet a third of the words come from beyond the
# 10,000 most frequent.
FLATTENING = 0.6


@dataclass(frozen=True)
class Vocabulary:
    """English words with their sampling weights (cumulative, in the same order)."""

    words: tuple[str, ...]
    cumulative: np.ndarray

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)

    def sample(self, rng: np.random.Generator) -> str:
        index = int(np.searchsorted(self.cumulative, rng.random() * self.cumulative[-1], side="right"))
        return self.words[min(index, len(self.words) - 1)]


@lru_cache(maxsize=1)
def english_words() -> Vocabulary:
    """The 50,000 most frequent English words (wordfreq, offline), weighted by flattened frequency."""
    import wordfreq

    frequency = wordfreq.get_frequency_dict("en")
    words = tuple(w for w in wordfreq.top_n_list("en", VOCABULARY_SIZE) if re.fullmatch(r"[a-z]+('[a-z]+)?", w))
    weights = np.array([frequency[w] for w in words], dtype=np.float64) ** FLATTENING
    return Vocabulary(words, np.cumsum(weights))


def _draw_word(rng: np.random.Generator, words: Vocabulary | Sequence[str]) -> str:
    if isinstance(words, Vocabulary):
        return words.sample(rng)
    return words[int(rng.integers(len(words)))]


def _weighted_choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _number(rng: np.random.Generator) -> str:
    """Numbers as IAM's texts write them: small counts, years, 280,000, 2.5, 1st."""
    kind = rng.random()
    if kind < 0.35:
        return str(int(rng.integers(1, 100)))
    if kind < 0.6:
        return str(int(rng.integers(1900, 2030)))
    if kind < 0.7:
        return f"{int(rng.integers(1, 1000))},{int(rng.integers(0, 1000)):03d}"
    if kind < 0.78:
        return f"{int(rng.integers(0, 100))}.{int(rng.integers(0, 10))}"
    if kind < 0.85:
        n = int(rng.integers(1, 40))
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"
    return str(int(rng.integers(0, 10 ** int(rng.integers(1, 6)))))


def _split_contraction(rng: np.random.Generator, word: str) -> str:
    """IAM tokenises "don't" as "don" + "'t" and "John's" as "John" + "'s": one of the two parts."""
    if "'" not in word or rng.random() < JOINED_CONTRACTION_SHARE:
        return word
    stem, suffix = word.split("'", 1)
    return stem if rng.random() < 0.5 else "'" + suffix


def _hyphenated(rng: np.random.Generator, words: Vocabulary | Sequence[str]) -> str:
    first = _draw_word(rng, words).split("'")[0]
    second = _draw_word(rng, words).split("'")[0]
    if rng.random() < 0.6 and len(first) + len(second) < MAX_COMPOUND:
        return f"{first}-{second}"
    if len(first) < 6:
        return first + "-"
    return first[: int(rng.integers(3, len(first) - 1))] + "-"


def _with_case(rng: np.random.Generator, word: str) -> str:
    roll = rng.random()
    if roll < UPPER_SHARE:
        return word.upper()
    if roll < UPPER_SHARE + CAPITALISED_SHARE or word == "i" or word.startswith("i'"):
        return word[0].upper() + word[1:]
    return word


def sample_label(rng: np.random.Generator, words: Vocabulary | Sequence[str] | None = None) -> str:
    """One IAM-like word: mostly English words by frequency, with IAM's share of punctuation
    tokens, some numbers, abbreviations, hyphenations, contractions, capitals and UPPER words."""
    words = english_words() if words is None else words
    roll = rng.random()
    if roll < PUNCTUATION_SHARE:
        return _weighted_choice(rng, PUNCTUATION)
    roll -= PUNCTUATION_SHARE
    if roll < NUMBER_SHARE:
        return _number(rng)
    roll -= NUMBER_SHARE
    if roll < ABBREVIATION_SHARE:
        return ABBREVIATIONS[int(rng.integers(len(ABBREVIATIONS)))]
    roll -= ABBREVIATION_SHARE
    word = _hyphenated(rng, words) if roll < HYPHENATED_SHARE else _split_contraction(rng, _draw_word(rng, words))
    return _with_case(rng, word)


# ---------------------------------------------------------------------------------------------
# Fonts
# ---------------------------------------------------------------------------------------------

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
MIN_FAMILIES = 10
FONT_SUFFIXES = (".ttf", ".otf")
REFERENCE_SIZE = 100  # font metrics are measured once at this size, then scaled
ORNATE_CAPITALS = 2.2  # capitals' mean advance over small letters'; most handwriting fonts: 1.2-1.8


@lru_cache(maxsize=None)
def _font(path: str, size: int, weight: int | None = None) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(path, size)
    if weight is not None:
        axes = font.get_variation_axes()
        font.set_variation_by_axes([weight if _axis_tag(a) == "wght" else a["default"] for a in axes])
    return font


def _axis_tag(axis: dict) -> str:
    name = axis.get("name", b"")
    name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
    return "wght" if name.lower() in ("weight", "wght") else name


@lru_cache(maxsize=None)
def weight_range(path: str) -> tuple[int, int] | None:
    """(lightest, boldest) of a variable font's weight axis; None for static fonts."""
    try:
        axes = ImageFont.truetype(path, REFERENCE_SIZE).get_variation_axes()
    except (OSError, ValueError):
        return None
    for axis in axes:
        if _axis_tag(axis) == "wght":
            return int(axis["minimum"]), int(axis["maximum"])
    return None


@lru_cache(maxsize=None)
def renderable_chars(path: str) -> frozenset[str]:
    """IAM characters this font both maps (cmap) and draws with some ink; empty if unreadable."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        cmap = TTFont(path, lazy=True, fontNumber=0).getBestCmap() or {}
        font = _font(path, REFERENCE_SIZE)
    except (OSError, TTLibError, ValueError, AssertionError, KeyError):
        return frozenset()
    return frozenset(c for c in IAM_CHARSET if ord(c) in cmap and font.getmask(c).getbbox())


def _glyph_shape(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    """The glyph's ink scaled to 32x32 and normalised: compares shapes whatever their size."""
    image = Image.new("L", (3 * REFERENCE_SIZE, 3 * REFERENCE_SIZE), 0)
    ImageDraw.Draw(image).text((REFERENCE_SIZE, 2 * REFERENCE_SIZE), char, font=font, fill=255, anchor="ls")
    shape = np.asarray(image.crop(image.getbbox()).resize((32, 32)), dtype=np.float64).reshape(-1)
    return shape / (np.linalg.norm(shape) or 1.0)


@lru_cache(maxsize=None)
def has_lower_case(path: str) -> bool:
    """False for all-caps fonts (Permanent Marker): their "a" is a small "A", so a lower-case
    label would not match what is drawn."""
    font = _font(path, REFERENCE_SIZE)
    similarity = [float(_glyph_shape(font, c) @ _glyph_shape(font, c.upper())) for c in "aegr"]
    return float(np.mean(similarity)) < 0.9


@lru_cache(maxsize=None)
def has_ornate_capitals(path: str) -> bool:
    """True for copperplate scripts (Great Vibes) whose capitals are swashes about three times as
    wide as their small letters: nobody writes whole words in those, so no UPPER words in them."""
    font = _font(path, REFERENCE_SIZE)
    upper = np.mean([font.getlength(c) for c in string.ascii_uppercase])
    lower = np.mean([font.getlength(c) for c in string.ascii_lowercase])
    return upper > ORNATE_CAPITALS * lower


def is_usable(path: str) -> bool:
    """A font can write our words when it draws every lower-case letter, as lower case."""
    return set(string.ascii_lowercase) <= renderable_chars(path) and has_lower_case(path)


@lru_cache(maxsize=None)
def font_family(path: str) -> str:
    """The family name from the font's name table (so Kalam Light/Regular/Bold are one family)."""
    from fontTools.ttLib import TTFont

    names = TTFont(path, lazy=True, fontNumber=0)["name"]
    name = names.getDebugName(16) or names.getDebugName(1)
    return name or Path(path).stem


def font_families(fonts: Sequence[str]) -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for path in fonts:
        families.setdefault(font_family(path), []).append(path)
    return families


def handwriting_fonts() -> list[str]:
    """Paths of the installed handwriting fonts; fails clearly when too few are installed."""
    import fontpkg

    installed = fontpkg.families()
    paths = [str(f.path) for slug in HANDWRITING_FAMILIES if slug in installed for f in installed[slug].files]
    paths = [p for p in paths if is_usable(p)]
    if len(font_families(paths)) < MIN_FAMILIES:
        found = {font_family(p) for p in paths}
        raise DataError(
            f"only {len(found)} usable handwriting font families are installed (need {MIN_FAMILIES}): "
            f"{', '.join(sorted(found)) or 'none'}; install the project's dependencies (pip install -e .)"
        )
    return paths


def fonts_in_dir(folder: str | Path) -> list[str]:
    """The usable .ttf/.otf fonts anywhere under `folder`, sorted; a clear error if there are none."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"fonts folder {folder} does not exist or is not a folder")
    files = sorted(str(p.resolve()) for p in folder.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    usable = [p for p in files if is_usable(p)]
    if not usable:
        found = f"{len(files)} font file(s), none of which draws every letter a-z" if files else "no .ttf/.otf files"
        raise DataError(f"fonts folder {folder} holds no usable font: {found}")
    return usable


def fonts_digest(fonts: Sequence[str]) -> str:
    """SHA-256 over the fonts' names and bytes: names a data set by the fonts it was drawn with."""
    digest = hashlib.sha256()
    for path in sorted(fonts):
        digest.update(Path(path).name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


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


@lru_cache(maxsize=None)
def _x_height_ratio(path: str, weight: int | None) -> float:
    """x-height / font size: script fonts with tiny letters are drawn larger so letters match."""
    top, bottom = _font(path, REFERENCE_SIZE, weight).getbbox("x", anchor="ls")[1::2]
    return max(bottom - top, 1) / REFERENCE_SIZE


@lru_cache(maxsize=None)
def _stroke_width(path: str, weight: int | None, size: int) -> float:
    """Typical stroke width in pixels: twice the ink area over the outline length (thin strokes)."""
    font = _font(path, size, weight)
    left, top, right, bottom = font.getbbox("nohe")
    image = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(image).text((1 - left, 1 - top), "nohe", font=font, fill=255)
    ink = np.asarray(image) > 127
    inner = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    outline = max(int(ink[1:-1, 1:-1].sum() - inner.sum()), 1)
    return 2.0 * float(ink.sum()) / outline


def _font_variants(files: Sequence[str]) -> list[tuple[str, int | None]]:
    """Every (file, weight) a family offers: its static files, and variable fonts in steps of 50."""
    variants: list[tuple[str, int | None]] = []
    for path in files:
        weights = weight_range(path)
        if weights is None:
            variants.append((path, None))
        else:
            variants.extend((path, w) for w in range(weights[0], weights[1] + 1, 50))
    return variants


def sample_style(rng: np.random.Generator, fonts: Sequence[str]) -> WriterStyle:
    """One simulated writer: a family chosen evenly among families, then letter size, pen, slant."""
    families = font_families(fonts)
    names = sorted(families)
    files = families[names[int(rng.integers(len(names)))]]
    x_height = rng.uniform(13, 21)  # pixels; IAM's words are downscaled to 32 px height anyway
    # The pen: a stroke of 9-20 % of the x-height (IAM's range), whatever the font. The family's
    # weights come closest first (so advances suit the stroke), erosion/dilation does the rest.
    stroke = rng.uniform(0.09, 0.2) * x_height

    def size_of(variant):
        return int(round(x_height / _x_height_ratio(*variant)))

    path, weight = min(_font_variants(files), key=lambda v: abs(_stroke_width(*v, size_of(v)) - stroke))
    size = size_of((path, weight))
    natural = _stroke_width(path, weight, size)
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
    left, top, right, bottom = _font(path, size, weight).getbbox(char, anchor="ls")
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
    ImageDraw.Draw(image).text((x, y), char, font=_font(path, size, weight), fill=255, anchor="ls")
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
    """Pen advance after `char` at REFERENCE_SIZE, kerning with the next character included.

    Contextual forms and ligatures are off: each glyph is drawn alone, in its isolated form."""
    font = _font(path, REFERENCE_SIZE, weight)
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
    x_height = _x_height_ratio(path, weight) * style.size
    unit = style.size / REFERENCE_SIZE
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
    missing = set(text) - renderable_chars(style.font_path)
    if missing:
        raise ValueError(f"{Path(style.font_path).name} cannot draw {''.join(sorted(missing))!r} in {text!r}")
    canvas = _compose(_place_glyphs(text, style, rng))
    return _on_paper(_crop_to_ink(canvas, rng), style, rng)


def sample_renderable_label(rng: np.random.Generator, words: Vocabulary, style: WriterStyle) -> str:
    """A label this writer's font can draw: labels with glyphs it lacks, or whole words in ornate
    capitals, are drawn again."""
    drawable = renderable_chars(style.font_path)
    no_upper_words = has_ornate_capitals(style.font_path)
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
    fonts = list(dict.fromkeys(fonts or handwriting_fonts()))
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
