import pytest

from hwr.evaluation import metrics


def test_cer_counts_edits_over_reference_characters():
    assert metrics.cer(["hello"], ["hello"]) == 0.0
    assert metrics.cer(["hello"], ["hallo"]) == pytest.approx(1 / 5)
    # Totals over the whole set, not a mean of per-word rates.
    assert metrics.cer(["ab", "cdef"], ["", "cdef"]) == pytest.approx(2 / 6)


def test_cer_can_exceed_one_for_insertions():
    assert metrics.cer(["a"], ["abc"]) == pytest.approx(2.0)


def test_wer_and_word_accuracy():
    assert metrics.wer(["the cat sat"], ["the bat sat"]) == pytest.approx(1 / 3)
    assert metrics.word_accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == pytest.approx(0.75)


def test_case_insensitive_comparison():
    assert metrics.cer(["LEA"], ["lea"]) == pytest.approx(1.0)
    assert metrics.cer(["LEA"], ["lea"], case_sensitive=False) == 0.0
    assert metrics.word_accuracy(["JEAN"], ["Jean"], case_sensitive=False) == 1.0


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        metrics.cer(["a", "b"], ["a"])
