"""The words lexicon decoding may return.

The default is a general English word list (wordfreq's most frequent words), tokenized the way
IAM labels its words: punctuation marks are words of their own, contractions are split ("don't"
is labelled "don" and "'t") and abbreviations keep their period ("Mr.", "p.m."), in lower,
Capitalised and UPPER case, plus the numbers up to four digits. Built once per charset and
size, then loaded from disk (hwr.decoding.lexicon_cache). A user's own word list replaces it through `from_file`.

The default lexicon also knows how often each entry is written (wordfreq's frequencies, shared
out over cases and punctuation as in IAM, hwr.data.iam_stats): the lexicon decoder weighs a word's
image score by that prior, so that "the" beats "tho" when the image hesitates.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import re
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from hwr.data.charset import Charset
from hwr.data.iam_stats import CASE_SHARES, PUNCTUATION, PUNCTUATION_SHARE
from hwr.decoding import lexicon_cache

# For a weakly trained model 50k words beat 100k (the longer list's rare words stole more reads
# than they added); for the 85-minute preset's models 200k words (covering 98.1 % of held-out
# writers' validation words against 96.7 %) read them 0.6 points of CER better with the hybrid
# decoder (docs/measurements.md, "Tuning the decoders"). Building it takes 2.5 s or more, once (hwr.decoding.lexicon_cache).
DEFAULT_SIZE = 200_000
APOSTROPHE_SUFFIXES = ("'s", "'t", "'ll", "'re", "'ve", "'d", "'m")
# wordfreq drops a word's final period; IAM writes these with it.
ABBREVIATIONS = ("mr", "mrs", "ms", "dr", "st", "jr", "sr", "messrs", "rev", "prof", "gen", "col", "capt", "lt",
                 "co", "ltd", "inc", "etc", "vs", "no")
MAX_NUMBER = 9_999  # years, amounts: IAM writes numbers as words of their own
# wordfreq writes every number of two or more digits with its digits replaced by 0 ("2019" is
# "0000"); such a token is a placeholder, not a word anyone writes.
_SMASHED_NUMBER = re.compile(r"\d.*\d")
# Every entry gets at least this frequency, so that no lexicon word is ruled out by its prior.
MIN_FREQUENCY = 1e-9
# Sorts after any character a word can hold: words starting with p lie in [p, p + _AFTER_ALL).
_AFTER_ALL = "\U0010ffff"


class Lexicon:
    """A sorted word list answering "is this a word?" and "does any word start with this?" by bisection.

    A sorted tuple of strings takes a fraction of the memory of a trie of dicts for 150k words,
    and each question costs one binary search. With `frequencies`, it also knows each word's
    prior probability and, for a prefix, the total prior of the words it starts (a running sum
    over the sorted words makes that two binary searches too).
    """

    def __init__(self, words: Iterable[str], frequencies: Mapping[str, float] | None = None):
        self.words = tuple(sorted({word for word in words if word}))
        self._cumulative = None
        if frequencies is not None and self.words:
            weights = np.array([max(frequencies.get(word, 0.0), MIN_FREQUENCY) for word in self.words])
            self._cumulative = np.concatenate([[0.0], np.cumsum(weights / weights.sum())])

    @classmethod
    def from_state(cls, words: tuple[str, ...], cumulative: np.ndarray | None) -> "Lexicon":
        """A lexicon from `words` already sorted and unique, and their running prior sum (what
        hwr.decoding.lexicon_cache keeps), without sorting or summing again."""
        lexicon = cls.__new__(cls)
        lexicon.words, lexicon._cumulative = words, cumulative
        return lexicon

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        i = bisect_left(self.words, word)
        return i < len(self.words) and self.words[i] == word

    def is_prefix(self, prefix: str) -> bool:
        i = bisect_left(self.words, prefix)
        return i < len(self.words) and self.words[i].startswith(prefix)

    @property
    def has_prior(self) -> bool:
        return self._cumulative is not None

    def prefix_prior(self, prefix: str) -> float:
        """P(the word starts with `prefix`): 1 for "", 0 when no word does."""
        if self._cumulative is None:
            raise ValueError("this lexicon has no word frequencies")
        return float(self._cumulative[bisect_left(self.words, prefix + _AFTER_ALL)]
                     - self._cumulative[bisect_left(self.words, prefix)])

    def word_prior(self, word: str) -> float:
        """P(word), 0 for a word not in the lexicon."""
        if self._cumulative is None:
            raise ValueError("this lexicon has no word frequencies")
        i = bisect_left(self.words, word)
        found = i < len(self.words) and self.words[i] == word
        return float(self._cumulative[i + 1] - self._cumulative[i]) if found else 0.0


class MixedLexicon:
    """Two lexicons read as one: a word is in it when it is in either, and its prior is the
    interpolation (1 - weight) * P_general(word) + weight * P_own(word). Used to add the words of
    a user's own transcriptions, as often as they occur there, to the general English lexicon:
    an archive's names, old spellings and words with punctuation attached ("Regiment.") become
    words the lexicon decoders may return. Prefix priors interpolate the same way, so the beam
    search's telescoping of lookaheads still ends at the word's interpolated prior."""

    def __init__(self, general: Lexicon, own: Lexicon, weight: float):
        if not general.has_prior or not own.has_prior:
            raise ValueError("a mixed lexicon needs word frequencies in both lexicons")
        if not 0 < weight < 1:
            raise ValueError(f"the own words' weight must lie between 0 and 1, got {weight}")
        self.general, self.own, self.weight = general, own, weight

    def __len__(self) -> int:
        return len(self.general) + sum(word not in self.general for word in self.own.words)

    def __contains__(self, word: str) -> bool:
        return word in self.own or word in self.general

    def is_prefix(self, prefix: str) -> bool:
        return self.own.is_prefix(prefix) or self.general.is_prefix(prefix)

    has_prior = True

    def prefix_prior(self, prefix: str) -> float:
        return (1 - self.weight) * self.general.prefix_prior(prefix) + self.weight * self.own.prefix_prior(prefix)

    def word_prior(self, word: str) -> float:
        return (1 - self.weight) * self.general.word_prior(word) + self.weight * self.own.word_prior(word)


def own_words(counts: Mapping[str, int], charset: Charset) -> Lexicon:
    """A lexicon of a collection's own words, taken as transcribed (no case variants: a name is
    written as it is), each as often as it occurs; words the model cannot write are dropped."""
    allowed = set(charset.chars)
    kept = {word: float(count) for word, count in counts.items() if word and count > 0 and set(word) <= allowed}
    if not kept:
        raise ValueError("none of the own words is written only with the model's characters")
    return Lexicon(kept, kept)


def word_tokens(word: str) -> set[str]:
    """The word and what IAM would label it as: "don't" adds "don" and "'t", "p.m" adds "p.m."."""
    tokens = {word}
    stem, apostrophe, rest = word.partition("'")
    if apostrophe and stem:
        tokens.add(stem)
        if apostrophe + rest in APOSTROPHE_SUFFIXES:
            tokens.add(apostrophe + rest)
    if "." in word.strip("."):
        tokens.add(word + ".")
    return tokens


def iam_tokens(words: Iterable[str]) -> set[str]:
    """Every word's IAM tokens, plus the common contraction endings and abbreviations."""
    tokens = set(APOSTROPHE_SUFFIXES) | {abbreviation + "." for abbreviation in ABBREVIATIONS}
    for word in words:
        tokens |= word_tokens(word)
    return tokens


def iam_token_frequencies(frequencies: Mapping[str, float]) -> dict[str, float]:
    """How often each IAM token is written, from lower-case words' frequencies: a word's
    frequency goes to each of its tokens, split over lower, Capitalised and UPPER case as in IAM;
    an abbreviation's period keeps its word's frequency. Words make up 1 - PUNCTUATION_SHARE of
    the total, punctuation marks the rest."""
    tokens: dict[str, float] = {}
    total = sum(frequencies.values()) or 1.0
    for word, frequency in frequencies.items():
        share = frequency / total * (1 - PUNCTUATION_SHARE)
        for token in word_tokens(word) | ({word + "."} if word in ABBREVIATIONS else set()):
            # "I" and "I'm" are never written in lower case.
            cases = {"capitalised": 1.0} if token == "i" or token.startswith("i'") else CASE_SHARES
            for case, case_share in cases.items():
                cased = _in_case(token, case)
                tokens[cased] = tokens.get(cased, 0.0) + share * case_share
    marks = sum(PUNCTUATION.values())
    for mark, weight in PUNCTUATION.items():
        tokens[mark] = tokens.get(mark, 0.0) + PUNCTUATION_SHARE * weight / marks
    return tokens


def _in_case(word: str, case: str) -> str:
    if case == "lower":
        return word.lower()
    if case == "capitalised":
        return word[:1].upper() + word[1:].lower()
    return word.upper()


def case_variants(word: str) -> set[str]:
    return {_in_case(word, case) for case in CASE_SHARES}


def build(words: Iterable[str], charset: Charset, frequencies: Mapping[str, float] | None = None) -> Lexicon:
    """IAM-style tokens of `words` in every case, with each punctuation mark of the charset as a word.

    Entries with a character the model cannot write are dropped. With `frequencies` (of the
    lower-case `words`), the lexicon carries each token's prior (iam_token_frequencies).
    """
    words = list(words)
    punctuation = {char for char in charset.chars if not char.isalnum()}
    tokens = {variant for token in iam_tokens(words) for variant in case_variants(token)} | punctuation
    allowed = set(charset.chars)
    priors = None
    if frequencies is not None:
        priors = iam_token_frequencies({word: frequencies.get(word, 0.0) for word in words})
    return Lexicon((token for token in tokens if set(token) <= allowed), priors)


@lru_cache(maxsize=4)
def default_lexicon(charset: Charset, size: int = DEFAULT_SIZE) -> Lexicon:
    """The `size` most frequent English words (wordfreq) and the numbers up to MAX_NUMBER, built as
    `build` says; cached, so a process builds it once per charset, and kept on disk
    (hwr.decoding.lexicon_cache), so the next process loads it instead. The memory only the build needed
    is given back (release_build_memory)."""
    stored_at = lexicon_cache.cache_file(charset.chars, size)
    stored = lexicon_cache.load(stored_at)
    if stored is not None:
        return Lexicon.from_state(*stored)
    lexicon = build_default(charset, size)
    release_build_memory()
    lexicon_cache.save(stored_at, lexicon.words, lexicon._cumulative)
    return lexicon


def build_default(charset: Charset, size: int = DEFAULT_SIZE) -> Lexicon:
    """default_lexicon's words, built afresh every call, keeping what the build filled."""
    import wordfreq

    words = [word for word in wordfreq.top_n_list("en", size) if not _SMASHED_NUMBER.search(word)]
    numbers = [str(n) for n in range(MAX_NUMBER + 1)]
    frequency = wordfreq.get_frequency_dict("en")
    frequencies = {word: frequency.get(word, 0.0) for word in words}
    frequencies.update({number: wordfreq.word_frequency(number, "en") for number in numbers})
    return build(words + numbers, charset, frequencies)


def release_build_memory() -> None:
    """Give back what building the default lexicon filled and no longer needs.

    wordfreq keeps its whole English word list and frequency dict cached (~33 MiB), and glibc keeps
    the heap that the build's temporary strings and dicts freed. Together, for 200k words, ~50 of the
    ~100 MiB the build kept (bench/lexicon.py); a served preset model's worker went from 981 to 881 MiB
    after 1,000 requests (bench/serve.py).
    """
    import wordfreq

    for cached in (wordfreq.get_frequency_dict, wordfreq.get_frequency_list, wordfreq.top_n_list):
        cached.cache_clear()
    gc.collect()
    _return_free_heap()


def _return_free_heap() -> None:
    """glibc's malloc_trim hands freed heap back to the system; without glibc (macOS, musl) nothing to do."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def from_file(path: str | Path, charset: Charset) -> Lexicon:
    """A user's lexicon: one word per line, taken as written (no case variants or contraction pieces).

    Words with characters outside the charset are dropped, since the model could never write them.
    """
    allowed = set(charset.chars)
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    lexicon = Lexicon(word for word in (line.strip() for line in lines) if word and set(word) <= allowed)
    if not len(lexicon):
        raise ValueError(f"{path}: no word written only with the model's characters")
    return lexicon
