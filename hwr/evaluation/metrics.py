"""Character and word error rates on decoded strings (never on padded tensors)."""

from __future__ import annotations

from typing import Sequence

from rapidfuzz.distance import Levenshtein


def _normalise(texts: Sequence[str], case_sensitive: bool) -> list[str]:
    return list(texts) if case_sensitive else [t.casefold() for t in texts]


def character_edits(references: Sequence[str], predictions: Sequence[str], case_sensitive: bool = True) -> list[int]:
    """Each prediction's character edits from its reference."""
    refs, preds = _normalise(references, case_sensitive), _normalise(predictions, case_sensitive)
    _check_lengths(refs, preds)
    return [Levenshtein.distance(r, p) for r, p in zip(refs, preds)]


def cer(references: Sequence[str], predictions: Sequence[str], case_sensitive: bool = True) -> float:
    """Character edits needed to turn predictions into references, over reference characters."""
    edits = sum(character_edits(references, predictions, case_sensitive))
    return edits / max(1, sum(len(r) for r in _normalise(references, case_sensitive)))


def wer(references: Sequence[str], predictions: Sequence[str], case_sensitive: bool = True) -> float:
    """Word edits over reference words; each text is split on whitespace."""
    refs, preds = _normalise(references, case_sensitive), _normalise(predictions, case_sensitive)
    _check_lengths(refs, preds)
    edits = sum(Levenshtein.distance(r.split(), p.split()) for r, p in zip(refs, preds))
    return edits / max(1, sum(len(r.split()) for r in refs))


def word_accuracy(references: Sequence[str], predictions: Sequence[str], case_sensitive: bool = True) -> float:
    """Share of samples read exactly right."""
    refs, preds = _normalise(references, case_sensitive), _normalise(predictions, case_sensitive)
    _check_lengths(refs, preds)
    return sum(r == p for r, p in zip(refs, preds)) / max(1, len(refs))


def _check_lengths(refs: Sequence[str], preds: Sequence[str]) -> None:
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} references but {len(preds)} predictions")
