"""Handwriting fonts: which are installed, which can write IAM's words, and their metrics.

Fonts come from the fontpkg-* packages in pyproject.toml, plus any folder of .ttf/.otf files a
user adds. A font is usable when it draws every lower-case letter as lower case.
"""

from __future__ import annotations

import hashlib
import string
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hwr.data.synthetic.word_labels import IAM_CHARSET
from hwr.errors import DataError

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
def load_font(path: str, size: int, weight: int | None = None) -> ImageFont.FreeTypeFont:
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
        font = load_font(path, REFERENCE_SIZE)
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
    font = load_font(path, REFERENCE_SIZE)
    similarity = [float(_glyph_shape(font, c) @ _glyph_shape(font, c.upper())) for c in "aegr"]
    return float(np.mean(similarity)) < 0.9


@lru_cache(maxsize=None)
def has_ornate_capitals(path: str) -> bool:
    """True for copperplate scripts (Great Vibes) whose capitals are swashes about three times as
    wide as their small letters: nobody writes whole words in those, so no UPPER words in them."""
    font = load_font(path, REFERENCE_SIZE)
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


@lru_cache(maxsize=None)
def x_height_ratio(path: str, weight: int | None) -> float:
    """x-height / font size: script fonts with tiny letters are drawn larger so letters match."""
    top, bottom = load_font(path, REFERENCE_SIZE, weight).getbbox("x", anchor="ls")[1::2]
    return max(bottom - top, 1) / REFERENCE_SIZE


@lru_cache(maxsize=None)
def stroke_width(path: str, weight: int | None, size: int) -> float:
    """Typical stroke width in pixels: twice the ink area over the outline length (thin strokes)."""
    font = load_font(path, size, weight)
    left, top, right, bottom = font.getbbox("nohe")
    image = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(image).text((1 - left, 1 - top), "nohe", font=font, fill=255)
    ink = np.asarray(image) > 127
    inner = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    outline = max(int(ink[1:-1, 1:-1].sum() - inner.sum()), 1)
    return 2.0 * float(ink.sum()) / outline


def font_variants(files: Sequence[str]) -> list[tuple[str, int | None]]:
    """Every (file, weight) a family offers: its static files, and variable fonts in steps of 50."""
    variants: list[tuple[str, int | None]] = []
    for path in files:
        weights = weight_range(path)
        if weights is None:
            variants.append((path, None))
        else:
            variants.extend((path, w) for w in range(weights[0], weights[1] + 1, 50))
    return variants
