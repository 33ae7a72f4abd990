"""Handwritten lines: cutting a line image into words, and making line images from word boxes.

A line is read word by word: `word_spans` finds the columns of paper wider than a word gap
(measured against the writing's own letter height) and cuts the line there, so every word
keeps the exact preprocessing and decoders of the word model, and comes back with its
horizontal span. `compose` does the reverse for training data: words pasted back in their
boxes on white paper (IAM's words.txt gives each word's box on its form).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from hwr.data.images import stretch_contrast, to_grayscale
from hwr.errors import InvalidImageError

INK = 128  # stretched ink level (0 paper .. 255 darkest) above which a pixel is a stroke
# A gap between words is at least this many letter heights of paper (median-based x-height):
# tuned on composed IAM lines of training writers and on synthetic lines (docs/lines.md).
WORD_GAP = 0.5
PAD = 4  # px of paper kept around each cut word, like IAM's word boxes
MAX_ASPECT = 100  # width / height: a line written across a page is about 20; wider is a strip
MAX_WORDS = 100  # words in one line; more is a strip or a page sent as a line
# Punctuation written against the previous word: no space before it in a line's text.
NO_SPACE_BEFORE = (".", ",", ";", ":", "!", "?", ")", "'s", "'t", "'ll", "'re", "'ve", "'d", "'m", "n't")


@dataclass(frozen=True)
class Span:
    """A word's box in the line image: columns [left, right), rows [top, bottom)."""

    left: int
    right: int
    top: int
    bottom: int


def ink_mask(image: Image.Image) -> np.ndarray:
    """(H, W) bool: the strokes of any image, whatever its mode, contrast or paper tone."""
    gray = np.asarray(stretch_contrast(to_grayscale(image)), dtype=np.uint8)
    if int(gray.max()) - int(gray.min()) < 1:
        return np.zeros(gray.shape, dtype=bool)  # one flat tone: blank paper
    return (255 - gray) > INK


def letter_height(mask: np.ndarray) -> float:
    """The writing's x-height in pixels: the rows where most columns of ink cross (ascenders and
    descenders are few), at least 1."""
    columns = mask.any(axis=0)
    if not columns.any():
        return 1.0
    rows = mask[:, columns].sum(axis=1)
    return float(max(1, int((rows >= 0.5 * rows.max()).sum())))


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def text_bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """Rows [top, bottom) of each band of writing with paper above and below: one for a line,
    several for a page. Bands under half the tallest one's height (an i's dot, an accent, an
    underline, a stray mark) are not lines. Lines written so close that their strokes touch
    make one band: such a page is read as one (tall) line."""
    bands = _runs(mask.any(axis=1))
    if not bands:
        return []
    tallest = max(b - t for t, b in bands)
    return [(t, b) for t, b in bands if b - t >= 0.5 * tallest]


def word_spans(mask: np.ndarray, gap: float = WORD_GAP) -> list[Span]:
    """The words of one line, left to right: columns of ink separated by paper at least `gap`
    letter heights wide, each with the rows its ink covers."""
    columns = mask.any(axis=0)
    if not columns.any():
        return []
    min_gap = max(2, round(gap * letter_height(mask)))
    pieces = _runs(columns)
    words = [list(pieces[0])]
    for start, end in pieces[1:]:
        if start - words[-1][1] < min_gap:
            words[-1][1] = end
        else:
            words.append([start, end])
    spans = []
    for left, right in words:
        rows = np.flatnonzero(mask[:, left:right].any(axis=1))
        spans.append(Span(left, right, int(rows[0]), int(rows[-1]) + 1))
    return spans


def check_line(image: Image.Image, mask: np.ndarray, name: str) -> None:
    """Refuse what is not one line of writing, naming the problem."""
    width, height = image.size
    if height > width:
        raise InvalidImageError(f"{name}: a line image is wider than tall, this one is {width}x{height} pixels "
                                f"(rotate it, or read it as a word)")
    if width > MAX_ASPECT * height:
        raise InvalidImageError(f"{name}: {width}x{height} pixels is wider than a line can be (at most "
                                f"{MAX_ASPECT} times its height); cut the strip into lines")
    bands = text_bands(mask)
    if len(bands) > 1:
        raise InvalidImageError(f"{name}: holds {len(bands)} lines of writing, one above the other; send one "
                                f"line per row")


def cut_words(image: Image.Image, name: str = "image", gap: float = WORD_GAP) -> list[tuple[Span, Image.Image]]:
    """One line image cut into its words: each word's span and its crop (with a little paper
    around it), left to right; [] for blank paper. Not one line: InvalidImageError."""
    mask = ink_mask(image)
    check_line(image, mask, name)
    spans = word_spans(mask, gap)
    if len(spans) > MAX_WORDS:
        raise InvalidImageError(f"{name}: {len(spans)} words is more than the {MAX_WORDS} one line may hold")
    gray = to_grayscale(image)
    crops = []
    for span in spans:
        box = (max(0, span.left - PAD), max(0, span.top - PAD),
               min(image.width, span.right + PAD), min(image.height, span.bottom + PAD))
        crops.append((span, gray.crop(box)))
    return crops


def join_words(tokens: list[str]) -> str:
    """Words as one line of text: spaced, but punctuation and clitics IAM tokenises apart
    ("Mr." "Smith" "'s" ",") stay on the word they are written against."""
    text = ""
    for token in tokens:
        if text and not token.startswith(NO_SPACE_BEFORE):
            text += " "
        text += token
    return text


def compose(words: list[tuple[Image.Image, tuple[int, int, int, int]]], margin: int = 8) -> tuple[Image.Image, list[Span]]:
    """Word images pasted in their (x, y, w, h) boxes on white paper, overlapping ink kept dark:
    the line image and each word's span in it, in the order given."""
    left = min(x for _, (x, _, _, _) in words) - margin
    top = min(y for _, (_, y, _, _) in words) - margin
    right = max(x + w for _, (x, _, w, _) in words) + margin
    bottom = max(y + h for _, (_, y, _, h) in words) + margin
    paper = np.full((bottom - top, right - left), 255, dtype=np.uint8)
    spans = []
    for image, (x, y, w, h) in words:
        gray = np.asarray(to_grayscale(image).resize((w, h)) if image.size != (w, h) else to_grayscale(image))
        region = paper[y - top : y - top + h, x - left : x - left + w]
        np.minimum(region, gray, out=region)
        spans.append(Span(x - left, x - left + w, y - top, y - top + h))
    return Image.fromarray(paper), spans
