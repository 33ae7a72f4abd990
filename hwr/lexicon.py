"""The words lexicon decoding may return.

The default is a general English word list (wordfreq's most frequent words), tokenized the way
IAM labels its words: punctuation marks are words of their own, contractions are split ("don't"
is labelled "don" and "'t") and abbreviations keep their period ("Mr.", "p.m."), in lower,
Capitalised and UPPER case, plus the numbers up to four digits. Built once per process and
charset. A user's own word list replaces it through `from_file`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from hwr.charset import Charset

# On 1,835 IAM validation words read by a weakly trained model, 50k words covered 96.6% of the
# labels and 100k 97.4%, but the longer list's rare words stole more reads than it added
# (lexicon decoding got 35.4% of the words right against 34.2%).
DEFAULT_SIZE = 50_000
APOSTROPHE_SUFFIXES = ("'s", "'t", "'ll", "'re", "'ve", "'d", "'m")
# wordfreq drops a word's final period; IAM writes these with it.
ABBREVIATIONS = ("mr", "mrs", "ms", "dr", "st", "jr", "sr", "messrs", "rev", "prof", "gen", "col", "capt", "lt",
                 "co", "ltd", "inc", "etc", "vs", "no")
MAX_NUMBER = 9_999  # years, amounts: IAM writes numbers as words of their own
# wordfreq writes every number of two or more digits with its digits replaced by 0 ("2019" is
# "0000"); such a token is a placeholder, not a word anyone writes.
_SMASHED_NUMBER = re.compile(r"\d.*\d")


class Lexicon:
    """A sorted word list answering "is this a word?" and "does any word start with this?" by bisection.

    A sorted tuple of strings takes a fraction of the memory of a trie of dicts for 150k words,
    and each question costs one binary search.
    """

    def __init__(self, words: Iterable[str]):
        self.words = tuple(sorted({word for word in words if word}))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        i = bisect_left(self.words, word)
        return i < len(self.words) and self.words[i] == word

    def is_prefix(self, prefix: str) -> bool:
        i = bisect_left(self.words, prefix)
        return i < len(self.words) and self.words[i].startswith(prefix)


def iam_tokens(words: Iterable[str]) -> set[str]:
    """The words, plus what IAM would label them as: "don't" adds "don" (and "'t"), "p.m" adds "p.m."."""
    tokens = set(APOSTROPHE_SUFFIXES) | {abbreviation + "." for abbreviation in ABBREVIATIONS}
    for word in words:
        tokens.add(word)
        stem, apostrophe, _ = word.partition("'")
        if apostrophe and stem:
            tokens.add(stem)
        if "." in word.strip("."):
            tokens.add(word + ".")
    return tokens


def case_variants(word: str) -> set[str]:
    return {word.lower(), word[:1].upper() + word[1:].lower(), word.upper()}


def build(words: Iterable[str], charset: Charset) -> Lexicon:
    """IAM-style tokens of `words` in every case, with each punctuation mark of the charset as a word.

    Entries with a character the model cannot write are dropped.
    """
    punctuation = {char for char in charset.chars if not char.isalnum()}
    tokens = {variant for token in iam_tokens(words) for variant in case_variants(token)} | punctuation
    allowed = set(charset.chars)
    return Lexicon(token for token in tokens if set(token) <= allowed)


@lru_cache(maxsize=4)
def default_lexicon(charset: Charset, size: int = DEFAULT_SIZE) -> Lexicon:
    """The `size` most frequent English words (wordfreq) and the numbers up to MAX_NUMBER, built as
    `build` says; cached, so a process builds it once per charset."""
    import wordfreq

    words = [word for word in wordfreq.top_n_list("en", size) if not _SMASHED_NUMBER.search(word)]
    return build(words + [str(n) for n in range(MAX_NUMBER + 1)], charset)


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
