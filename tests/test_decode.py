import numpy as np
import pytest

from hwr.charset import Charset
from hwr.decode import greedy_decode, softmax

CS = Charset.from_texts(["abc"])  # a=1, b=2, c=3


def one_hot_path(path, classes=4, certainty=1.0):
    probs = np.full((len(path), classes), (1 - certainty) / (classes - 1))
    probs[np.arange(len(path)), path] = certainty
    return probs


def test_repeats_collapse_and_blanks_drop():
    probs = one_hot_path([0, 1, 1, 0, 2, 2, 2, 0, 3])
    [(text, conf)] = greedy_decode(probs[None], CS)
    assert text == "abc"
    assert conf == pytest.approx(1.0)


def test_a_blank_separates_a_double_letter():
    probs = one_hot_path([1, 0, 1, 1, 0])
    assert greedy_decode(probs[None], CS)[0][0] == "aa"


def test_confidence_is_the_best_path_probability():
    probs = one_hot_path([1, 0, 2], certainty=0.9)
    [(text, conf)] = greedy_decode(probs[None], CS)
    assert text == "ab"
    assert conf == pytest.approx(0.9**3)


def test_confidence_is_lower_for_uncertain_frames():
    sure = greedy_decode(one_hot_path([1, 2, 3], certainty=0.99)[None], CS)[0][1]
    unsure = greedy_decode(one_hot_path([1, 2, 3], certainty=0.5)[None], CS)[0][1]
    assert 0 <= unsure < sure <= 1


def test_softmax_rows_sum_to_one():
    logits = np.random.default_rng(0).normal(size=(2, 5, 4)) * 50
    probs = softmax(logits)
    assert np.allclose(probs.sum(-1), 1.0)
    assert np.isfinite(probs).all()
