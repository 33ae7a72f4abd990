"""bench/decoders.py's sweep must score exactly what the product's decoders return."""

import numpy as np

from bench.decoders import sweep
from hwr.data.charset import Charset
from hwr.decoding.decode import hybrid_decode, lexicon_decode, softmax
from hwr.decoding.lexicon import default_lexicon
from hwr.evaluation import metrics

SIZE = 2000  # a small default lexicon keeps the test fast; the rule is the same at any size


def noisy_readings(charset, texts, frames=16, seed=0):
    """Logits that spell each text (one character per frame, blanks between), with noise."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.0, (len(texts), frames, charset.num_classes))
    for row, text in enumerate(texts):
        for i, index in enumerate(charset.encode(text)):
            logits[row, 2 * i, index] += 6.0
            logits[row, 2 * i + 1, 0] += 6.0
        logits[row, 2 * len(text):, 0] += 6.0
    return softmax(logits.astype(np.float32))


def test_the_sweep_reproduces_the_lexicon_and_hybrid_decoders():
    charset = Charset.from_texts(["abcdefghijklmnopqrstuvwxyz"])
    truths = ["the", "house", "water", "zqxv", "people", "thr"]  # two outside any lexicon
    probs = noisy_readings(charset, truths)
    lexicon = default_lexicon(charset, SIZE)
    rows = sweep(probs, truths, charset, sizes=[SIZE], weights=[0.5], penalties=[0.0, 18.0, 1e6])
    (row,) = rows
    words = [d.text for d in lexicon_decode(probs, charset, lexicon, 50, prior_weight=0.5)]
    assert row["lexicon"]["cer"] == metrics.cer(truths, words)
    for penalty in (0.0, 18.0, 1e6):
        hybrid = [d.text for d in hybrid_decode(probs, charset, lexicon, 50, prior_weight=0.5, penalty=penalty)]
        assert row["hybrid"][penalty]["cer"] == metrics.cer(truths, hybrid)
    # An unbearable penalty is the lexicon decoder; no penalty lets the clear non-words through.
    assert row["hybrid"][1e6] == row["lexicon"]
    assert row["hybrid"][0.0]["cer"] < row["lexicon"]["cer"]
    assert row["covers"] == sum(t in lexicon for t in truths) / len(truths)


def test_own_words_join_the_lexicon_as_often_as_they_occur():
    from hwr.decoding.lexicon import MixedLexicon, own_words

    charset = Charset.from_texts(["abcdefghijklmnopqrstuvwxyzR.,"])
    general = default_lexicon(charset, SIZE)
    own = own_words({"Regiment.": 3, "the": 1, "Zeta": 2}, charset)  # Z cannot be written: dropped
    assert "Zeta" not in own and "Regiment." not in general
    mixed = MixedLexicon(general, own, 0.5)
    assert "Regiment." in mixed and "house" in mixed and mixed.is_prefix("Regim")
    assert mixed.word_prior("Regiment.") == 0.5 * 3 / 4
    assert mixed.word_prior("the") == 0.5 * general.word_prior("the") + 0.5 * 1 / 4
    assert abs(mixed.prefix_prior("") - 1.0) < 1e-9
    truths = ["Regiment.", "the", "house"]
    probs = noisy_readings(charset, truths, frames=24)
    rows = sweep(probs, truths, charset, sizes=[SIZE], weights=[0.75], penalties=[1e6], own=own,
                 own_weights=[0.0, 0.5])
    alone, with_own = rows
    assert (alone["own_weight"], with_own["own_weight"]) == (0.0, 0.5)
    assert alone["covers"] == 2 / 3 and with_own["covers"] == 1.0
    words = [d.text for d in lexicon_decode(probs, charset, mixed, 50, prior_weight=0.75)]
    assert with_own["lexicon"]["cer"] == metrics.cer(truths, words) < alone["lexicon"]["cer"]
