"""Calibrated confidence: P(the decoded text is exactly right) from a decoder's raw scores.

Platt scaling: per decoder, a logistic model over the raw scores (log P(text), and for the beam
decoders the logit of the text's share of the beam), fitted on validation data by Newton's method.
The result is a small JSON-serialisable dict that travels with the served model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from hwr.data.charset import Charset
from hwr.decoding.decode import DECODERS, DEFAULT_BEAM_WIDTH, Decoded, DecoderSettings, decode, softmax

if TYPE_CHECKING:
    from hwr.decoding.lexicon import Lexicon

MIN_SAMPLES = 20
FEATURES = {"greedy": ("log_prob",), "beam": ("log_prob", "share_logit"), "lexicon": ("log_prob", "share_logit"),
            "hybrid": ("log_prob", "share_logit")}
# Bounds that keep the scores finite: the lexicon decoder's "found nothing" is log_prob -inf, share 0.
LOG_PROB_FLOOR = -1000.0
SHARE_EPSILON = 1e-6
ECE_BINS = 10


def features(decoded: Sequence[Decoded], names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) raw scores of the results, one column per name (see FEATURES)."""
    log_prob = np.maximum([d.log_prob for d in decoded], LOG_PROB_FLOOR)
    share = np.clip([d.share for d in decoded], SHARE_EPSILON, 1 - SHARE_EPSILON)
    columns = {"log_prob": log_prob, "share_logit": np.log(share) - np.log1p(-share)}
    return np.stack([columns[name] for name in names], axis=1).reshape(len(decoded), -1)


def uncalibrated(decoded: Sequence[Decoded]) -> np.ndarray:
    """The model's own probability of each text: the confidence when there is no calibration."""
    return np.exp([d.log_prob for d in decoded])


def fit_platt(x: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression of `correct` on the columns of `x`, each weight at least 0: (weights, bias).

    Every raw score says "more likely right" as it grows, so a negative weight (collinear scores
    trading off on the fitting sample) is dropped and the rest refitted: the confidence is then
    monotone in every score.
    """
    active = np.ones(x.shape[1], dtype=bool)
    while True:
        weights = np.zeros(x.shape[1])
        weights[active], bias = _logistic_regression(x[:, active], correct)
        if (weights >= 0).all():
            return weights, bias
        active &= weights > 0


def _logistic_regression(x: np.ndarray, correct: np.ndarray, ridge: float = 1e-3) -> tuple[np.ndarray, float]:
    """Newton's method. Platt's smoothed targets ((positives+1)/(positives+2), 1/(negatives+2))
    keep the weights finite when the scores separate right from wrong perfectly; the columns are
    standardised for the steps and the weights returned for the raw scores; a tiny ridge keeps a
    constant column from making the Hessian singular."""
    correct = np.asarray(correct, dtype=bool)
    positives, negatives = int(correct.sum()), int((~correct).sum())
    target = np.where(correct, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    design = np.column_stack([(x - mean) / std, np.ones(len(x))])
    penalty = np.diag([ridge] * x.shape[1] + [0.0])
    theta = np.zeros(design.shape[1])
    for _ in range(100):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (p - target) + penalty @ theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(theta)), gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = theta[:-1] / std
    return weights, float(theta[-1] - weights @ mean)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by how many fall in each."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if len(confidence) == 0:
        return 0.0
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def fit(
    logits_val: np.ndarray,
    texts_val: Sequence[str],
    charset: Charset,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lexicon: Lexicon | None = None,
    decoders: Sequence[str] = DECODERS,
    settings: DecoderSettings = DecoderSettings(),
) -> dict:
    """Fit one Platt model per decoder on validation logits (n, frames, classes) and their true texts.

    Returns {"beam_width": ..., "decoders": {name: {...}}}, each decoder's entry holding
    "method" ("platt", or "identity" with a "reason" when there are fewer than MIN_SAMPLES samples
    or only right or only wrong answers: the confidence then stays the model's own probability),
    "features", "weights", "bias", "samples", "accuracy" (exact-match rate), and "ece" and
    "ece_uncalibrated" (expected calibration error on these same samples, with and without it).
    lexicon=None means the default lexicon. The scores, and so the fit, hold for the lexicon and
    hybrid decoders' `settings`: a model must be served with the settings it was calibrated with.
    """
    probs = softmax(np.asarray(logits_val, dtype=np.float64))
    entries = {}
    for decoder in decoders:
        decoded = decode(probs, charset, decoder, beam_width, lexicon, settings)
        correct = np.array([d.text == truth for d, truth in zip(decoded, texts_val, strict=True)], dtype=bool)
        ece_uncalibrated = expected_calibration_error(uncalibrated(decoded), correct)
        reason = _identity_reason(correct)
        if reason:
            entry = {"method": "identity", "reason": reason, "features": list(FEATURES[decoder])}
        else:
            weights, bias = fit_platt(features(decoded, FEATURES[decoder]), correct)
            entry = {"method": "platt", "features": list(FEATURES[decoder]), "weights": weights.tolist(), "bias": bias}
        confidence = apply({"decoders": {decoder: entry}}, decoder, decoded)
        entry.update(
            samples=len(decoded),
            accuracy=float(correct.mean()) if len(correct) else 0.0,
            ece=expected_calibration_error(confidence, correct),
            ece_uncalibrated=ece_uncalibrated,
        )
        entries[decoder] = entry
    return {"beam_width": beam_width, "decoders": entries}


def apply(calibration: dict | None, decoder: str, decoded: Sequence[Decoded]) -> list[float]:
    """Confidence of each result: calibrated when `calibration` has a Platt model for `decoder`."""
    entry = (calibration or {}).get("decoders", {}).get(decoder)
    if entry is None or entry["method"] != "platt":
        return uncalibrated(decoded).tolist()
    return _platt(entry, decoded).tolist()


def _identity_reason(correct: np.ndarray) -> str | None:
    if len(correct) < MIN_SAMPLES:
        return f"only {len(correct)} validation samples (at least {MIN_SAMPLES} needed)"
    if correct.all() or not correct.any():
        return f"every validation sample was {'right' if correct.all() else 'wrong'}: nothing to tell them apart"
    return None


def _platt(entry: dict, decoded: Sequence[Decoded]) -> np.ndarray:
    return _sigmoid(features(decoded, entry["features"]) @ np.asarray(entry["weights"]) + entry["bias"])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))  # tanh form: no overflow for large |z|

