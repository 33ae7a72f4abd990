"""A line model's output read word by word.

A line model (trained on labels of several words, so its alphabet has the space) reads whole
lines. Its best path says where each word is: the frames from a word's first character to its
last, between spaces. Each word's frames (and the blank or space frames around it, up to halfway
to its neighbours) are then decoded on their own, so every decoder, the lexicon and hybrid ones
included, reads a line as a sequence of words; the line's text is the words joined by spaces and
its score the product of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwr.data.charset import BLANK, Charset
from hwr.data.lines import join_words
from hwr.decoding.decode import Decoded

SPACE = " "
# Written against the end of a word; the lexicon decoders read the word without them.
TRAILING_MARKS = frozenset(".,;:!?)'\"")


@dataclass(frozen=True)
class LineWord:
    """One word of a line: its reading, and frames [start, end) from its first character to its last."""

    decoded: Decoded
    start: int
    end: int


def word_frames(path: np.ndarray, space: int) -> list[tuple[int, int]]:
    """[start, end) frames of each word on a best path (one class per frame): from its first
    character frame to its last, words separated by space frames."""
    words, start, last = [], None, None
    for frame, label in enumerate(path.tolist()):
        if label == space:
            if start is not None:
                words.append((start, last + 1))
                start = None
        elif label != BLANK:
            if start is None:
                start = frame
            last = frame
    if start is not None:
        words.append((start, last + 1))
    return words


def word_regions(words: list[tuple[int, int]], frames: int) -> list[tuple[int, int]]:
    """Each word's frames widened halfway into the gaps beside it: what its decoder reads."""
    regions = []
    for i, (start, end) in enumerate(words):
        left = 0 if i == 0 else (words[i - 1][1] + start) // 2
        right = frames if i == len(words) - 1 else (end + words[i + 1][0] + 1) // 2
        regions.append((left, right))
    return regions


def without_space(probs: np.ndarray, space: int) -> np.ndarray:
    """A word's frames with the space's probability moved to the blank: inside one word a space
    can only mean "no character here"."""
    out = probs.copy()
    out[..., BLANK] += out[..., space]
    out[..., space] = 0.0
    return out


def trailing_marks(path: np.ndarray, start: int, end: int, charset: Charset) -> tuple[str, int]:
    """The punctuation the best path ends a word's frames [start, end) with ("," of "said,"), and
    the frame where it begins; ("", end) when the word ends in a letter or is punctuation alone."""
    chars = []  # (character, first frame) along the collapsed best path
    previous = BLANK
    for frame in range(start, end):
        label = int(path[frame])
        if label != BLANK and label != previous:
            chars.append((charset.chars[label - 1], frame))
        previous = label
    cut = len(chars)
    while cut > 1 and chars[cut - 1][0] in TRAILING_MARKS:
        cut -= 1
    if cut == len(chars) or not chars or chars[cut - 1][0] in TRAILING_MARKS:
        return "", end
    return "".join(c for c, _ in chars[cut:]), chars[cut][1]


def split_lines(probs: np.ndarray, charset: Charset, marks_apart: bool = False) -> list[list[tuple]]:
    """For each line's (frames, classes) probabilities, its words: ((start, end) frames, the word
    region's probabilities without the space, and the punctuation read after it). With
    `marks_apart`, a word's trailing punctuation is left out of its region and given as read by
    the best path, so a lexicon decoder picks the word and keeps the comma after it."""
    space = charset.encode(SPACE)[0]
    lines = []
    for line in probs:
        path = line.argmax(axis=-1)
        words = word_frames(path, space)
        regions = word_regions(words, len(line))
        found = []
        for (start, end), (left, right) in zip(words, regions):
            marks, cut = trailing_marks(path, start, end, charset) if marks_apart else ("", right)
            found.append(((start, end), without_space(line[left : cut if marks else right], space), marks))
        lines.append(found)
    return lines


def padded(regions: list[np.ndarray], classes: int) -> np.ndarray:
    """Regions of different lengths as one batch, padded with certain blanks (which no decoder reads as text)."""
    length = max((len(r) for r in regions), default=1)
    batch = np.zeros((len(regions), length, classes), dtype=np.float32)
    batch[:, :, BLANK] = 1.0
    for i, region in enumerate(regions):
        batch[i, : len(region)] = region
    return batch


def with_marks(decoded: Decoded, marks: str) -> Decoded:
    """A word's reading with the punctuation read after it."""
    return Decoded(decoded.text + marks, decoded.log_prob, decoded.share) if marks else decoded


def joined(words: list[LineWord]) -> Decoded:
    """The line's reading: its words' texts joined as a line is written (spaced, punctuation against
    the word before: hwr.data.lines.join_words), their log-probabilities summed and their shares
    multiplied (an empty line is certain)."""
    return Decoded(join_words([w.decoded.text for w in words]),
                   float(sum(w.decoded.log_prob for w in words)),
                   float(np.prod([w.decoded.share for w in words])) if words else 1.0)
