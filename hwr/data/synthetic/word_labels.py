"""Labels for the synthetic set: IAM-like words drawn by English word frequency.

Mostly English words (wordfreq, offline) with a long tail, plus IAM's punctuation tokens,
numbers, abbreviations, hyphenations, split contractions and its mix of cases.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from hwr.data.iam_stats import PUNCTUATION

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
WORD_LIST_SIZE = 50_000
# Word frequency ** FLATTENING: "the" stays common, yet a third of the words come from beyond the
# 10,000 most frequent.
FLATTENING = 0.6


@dataclass(frozen=True)
class WordList:
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
def english_words() -> WordList:
    """The 50,000 most frequent English words (wordfreq, offline), weighted by flattened frequency."""
    import wordfreq

    frequency = wordfreq.get_frequency_dict("en")
    words = tuple(w for w in wordfreq.top_n_list("en", WORD_LIST_SIZE) if re.fullmatch(r"[a-z]+('[a-z]+)?", w))
    weights = np.array([frequency[w] for w in words], dtype=np.float64) ** FLATTENING
    return WordList(words, np.cumsum(weights))


def _draw_word(rng: np.random.Generator, words: WordList | Sequence[str]) -> str:
    if isinstance(words, WordList):
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


def _hyphenated(rng: np.random.Generator, words: WordList | Sequence[str]) -> str:
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


def sample_label(rng: np.random.Generator, words: WordList | Sequence[str] | None = None) -> str:
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
