"""CTC decoding of the model's per-frame probabilities into text with a confidence."""

from __future__ import annotations

import numpy as np

from hwr.charset import BLANK, Charset


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def greedy_decode(probs: np.ndarray, charset: Charset) -> list[tuple[str, float]]:
    """Best path decoding of a (batch, frames, classes) probability array.

    The confidence is the probability of the best path (product of the per-frame maxima): 1.0
    when every frame is certain, lower as soon as any frame hesitates.
    """
    best = probs.argmax(axis=-1)  # (batch, frames)
    best_prob = np.take_along_axis(probs, best[..., None], axis=-1)[..., 0]
    confidence = np.exp(np.log(np.clip(best_prob, 1e-12, 1.0)).sum(axis=-1))
    results = []
    for path, conf in zip(best, confidence):
        # Collapse repeats, then drop blanks.
        keep = np.ones_like(path, dtype=bool)
        keep[1:] = path[1:] != path[:-1]
        ids = path[keep]
        results.append((charset.decode(ids[ids != BLANK].tolist()), float(conf)))
    return results
