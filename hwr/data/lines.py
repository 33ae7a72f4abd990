"""Handwritten lines: what counts as one line, a line's text from its words, and line images
made from word boxes (IAM's words.txt gives each word's box on its form).

A line model reads the whole line (hwr.decoding.line_words finds its words in the model's output);
cutting lines at the gaps between words and reading each piece with a word model lost far more
(bench/line_readers.py, docs/lines.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from hwr.data.images import normalised, to_grayscale
from hwr.errors import InvalidImageError

INK = 128  # stretched ink level (0 paper .. 255 darkest) above which a pixel is a stroke
MAX_ASPECT = 100  # width / height: a line written across a page is about 25; wider is a strip
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
    return strokes(normalised(image))


def strokes(gray: Image.Image) -> np.ndarray:
    """ink_mask of an image hwr.data.images.normalised has made gray already."""
    gray = np.asarray(gray, dtype=np.uint8)
    if int(gray.max()) - int(gray.min()) < 1:
        return np.zeros(gray.shape, dtype=bool)  # one flat tone: blank paper
    return (255 - gray) > INK


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


def word_cuts(ink_columns: np.ndarray, words: list[tuple[int, int]], reach: int) -> list[int]:
    """Where to cut a line between each two words a recognizer found at columns [left, right): the
    middle of the widest run of paper from `reach` columns before the first word's right end to
    `reach` after the next word's left end (a CTC model marks a word a little left of its ink and
    short of its last letter's end). Words whose ink touches are cut halfway."""
    cuts = []
    for (_, right), (left, _) in zip(words, words[1:]):
        lo, hi = max(0, min(right, left) - reach), min(len(ink_columns), max(right, left) + reach)
        gaps = [(end - start, (start + end) // 2) for start, end in _runs(~ink_columns[lo:hi])]
        cuts.append(lo + max(gaps)[1] if gaps else (right + left) // 2)
    return cuts


def letter_height(mask: np.ndarray) -> float:
    """The writing's x-height in pixels: the rows most columns of ink cross."""
    columns = mask.any(axis=0)
    if not columns.any():
        return 1.0
    rows = mask[:, columns].sum(axis=1)
    return float(max(1, int((rows >= 0.5 * rows.max()).sum())))


def split_at_gaps(mask: np.ndarray, spans: list[Span], gap: float) -> list[Span]:
    """The spans, each cut again wherever the paper inside it is wider than `gap` letter heights,
    and every piece boxed to its ink: words a recognizer ran together that the writer kept apart."""
    min_gap = max(2, round(gap * letter_height(mask)))
    pieces = []
    for span in spans:
        inside = mask[:, span.left : span.right].any(axis=0)
        edges = [span.left, *(span.left + (start + end) // 2 for start, end in _runs(~inside)
                              if end - start >= min_gap and start > 0 and end < len(inside)), span.right]
        pieces += [_ink_box(mask, start, end) for start, end in zip(edges, edges[1:])]
    return pieces


def word_spans(mask: np.ndarray, words: list[tuple[int, int]], reach: int) -> list[Span | None]:
    """Each found word's box of ink in the line: the line cut between the words (word_cuts), each
    piece's ink boxed; None for a piece without ink."""
    columns = mask.any(axis=0)
    edges = [0, *word_cuts(columns, words, reach), mask.shape[1]]
    return [_ink_box(mask, start, end) for start, end in zip(edges, edges[1:])]


def _ink_box(mask: np.ndarray, start: int, end: int) -> Span | None:
    """The box of the ink in columns [start, end) of the line; None for paper alone."""
    piece = mask[:, start:end]
    cols, rows = np.flatnonzero(piece.any(axis=0)), np.flatnonzero(piece.any(axis=1))
    if not len(cols):
        return None
    return Span(start + int(cols[0]), start + int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1)


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
