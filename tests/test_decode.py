import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwr.data.charset import Charset, ctc_min_frames
from hwr.decoding.decode import beam_decode, decode, greedy_decode, hybrid_decode, lexicon_decode, softmax
from hwr.decoding.lexicon import Lexicon

CS = Charset.from_texts(["abc"])  # a=1, b=2, c=3
WIDE = 100_000  # a beam that never drops a hypothesis on these small cases


def one_hot_path(path, classes=4, certainty=1.0):
    probs = np.full((len(path), classes), (1 - certainty) / (classes - 1))
    probs[np.arange(len(path)), path] = certainty
    return probs


def random_probs(rng, frames, classes=4, peak=1.0):
    """Random per-frame distributions; a larger `peak` concentrates each frame on fewer classes."""
    return softmax(rng.normal(size=(frames, classes)) * peak)


def collapse(path):
    return tuple(c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1]))


def labelling_probabilities(probs):
    """Brute force: every alignment of every length-T path, collapsed, its probability summed per labelling."""
    totals = {}
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        p = math.prod(probs[t, c] for t, c in enumerate(path))
        totals[collapse(path)] = totals.get(collapse(path), 0.0) + p
    return {CS.decode(ids): p for ids, p in totals.items()}


def ctc_probability(probs, text):
    """P(text | probs) by the CTC forward algorithm over the blank-interleaved label."""
    ids = CS.encode(text)
    extended = [0]
    for i in ids:
        extended += [i, 0]
    alpha = np.zeros(len(extended))
    alpha[0] = probs[0, 0]
    if ids:
        alpha[1] = probs[0, extended[1]]
    for t in range(1, len(probs)):
        previous = alpha.copy()
        for s, label in enumerate(extended):
            total = previous[s] + (previous[s - 1] if s >= 1 else 0.0)
            if s >= 2 and label != 0 and label != extended[s - 2]:
                total += previous[s - 2]
            alpha[s] = total * probs[t, label]
    return alpha[-1] + (alpha[-2] if ids else 0.0)


def test_repeats_collapse_and_blanks_drop():
    probs = one_hot_path([0, 1, 1, 0, 2, 2, 2, 0, 3])
    [result] = greedy_decode(probs[None], CS)
    assert result.text == "abc"
    assert result.probability == pytest.approx(1.0)


def test_a_blank_separates_a_double_letter():
    probs = one_hot_path([1, 0, 1, 1, 0])
    assert greedy_decode(probs[None], CS)[0].text == "aa"


def test_confidence_is_the_best_path_probability():
    probs = one_hot_path([1, 0, 2], certainty=0.9)
    [result] = greedy_decode(probs[None], CS)
    assert result.text == "ab"
    assert result.probability == pytest.approx(0.9**3)


def test_confidence_is_lower_for_uncertain_frames():
    sure = greedy_decode(one_hot_path([1, 2, 3], certainty=0.99)[None], CS)[0].probability
    unsure = greedy_decode(one_hot_path([1, 2, 3], certainty=0.5)[None], CS)[0].probability
    assert 0 <= unsure < sure <= 1


def test_softmax_rows_sum_to_one():
    logits = np.random.default_rng(0).normal(size=(2, 5, 4)) * 50
    probs = softmax(logits)
    assert np.allclose(probs.sum(-1), 1.0)
    assert np.isfinite(probs).all()


def test_forward_algorithm_agrees_with_brute_force():
    probs = random_probs(np.random.default_rng(1), 5)
    for text, p in labelling_probabilities(probs).items():
        assert ctc_probability(probs, text) == pytest.approx(p)


@pytest.mark.parametrize("seed", range(30))
def test_wide_beam_search_returns_the_most_probable_labelling_with_its_exact_probability(seed):
    rng = np.random.default_rng(seed)
    probs = random_probs(rng, frames=int(rng.integers(1, 7)), peak=float(rng.uniform(0.5, 3)))
    exact = labelling_probabilities(probs)
    best = max(exact, key=exact.get)
    [result] = beam_decode(probs[None], CS, beam_width=WIDE, min_char_prob=0.0)
    assert result.text == best
    assert result.log_prob == pytest.approx(math.log(exact[best]), rel=1e-9)
    # Nothing was dropped, so the beam holds all the probability: the share is the probability.
    assert result.share == pytest.approx(exact[best], rel=1e-9)


def test_beam_search_sums_alignments_where_the_best_path_misleads():
    # Best path is blank, blank ("", 0.36); but "a" gathers 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64.
    probs = np.array([[0.6, 0.4, 0, 0], [0.6, 0.4, 0, 0]])
    assert greedy_decode(probs[None], CS)[0].text == ""
    [result] = beam_decode(probs[None], CS, beam_width=3)
    assert result.text == "a"
    assert result.probability == pytest.approx(0.64)


def test_pruned_beam_search_reads_clear_frames():
    probs = one_hot_path([0, 1, 1, 0, 1, 2, 0, 3, 3], certainty=0.97)
    [result] = beam_decode(probs[None], CS)
    assert result.text == "aabc"
    # Every alignment of the text counts, so it is at least as likely as the best path alone.
    assert greedy_decode(probs[None], CS)[0].probability < result.probability <= result.share <= 1.0


def test_scores_stay_finite_over_many_uncertain_frames():
    probs = random_probs(np.random.default_rng(2), frames=400, peak=0.1)
    [result] = beam_decode(probs[None], CS, beam_width=5)
    assert np.isfinite(result.log_prob) and result.log_prob < -100


def test_every_decoder_decodes_a_batch():
    probs = np.stack([one_hot_path([1, 0, 2], certainty=0.9), one_hot_path([3, 3, 0], certainty=0.9)])
    lexicon = Lexicon(["ab", "c", "ca"])
    for decoder in ("greedy", "beam", "lexicon", "hybrid"):
        assert [d.text for d in decode(probs, CS, decoder, lexicon=lexicon)] == ["ab", "c"]


def test_unknown_decoder_is_refused():
    with pytest.raises(ValueError, match="unknown decoder 'viterbi'"):
        decode(one_hot_path([1])[None], CS, "viterbi")


def random_lexicon(rng, size):
    words = {"".join(rng.choice(list("abc"), size=int(rng.integers(1, 4)))) for _ in range(size)}
    return Lexicon(words)


@pytest.mark.parametrize("seed", range(30))
def test_wide_lexicon_search_returns_the_most_probable_word_with_its_exact_probability(seed):
    rng = np.random.default_rng(100 + seed)
    frames = int(rng.integers(1, 7))
    probs = random_probs(rng, frames, peak=float(rng.uniform(0.5, 3)))
    lexicon = random_lexicon(rng, int(rng.integers(1, 8)))
    exact = {word: ctc_probability(probs, word) for word in lexicon.words if ctc_min_frames(word) <= frames}
    [result] = lexicon_decode(probs[None], CS, lexicon, beam_width=WIDE, min_char_prob=0.0)
    if not exact:
        assert (result.text, result.log_prob, result.share) == ("", -math.inf, 0.0)
        return
    best = max(exact, key=exact.get)
    assert result.text == best
    assert result.log_prob == pytest.approx(math.log(exact[best]), rel=1e-9)


def random_weighted_lexicon(rng, size):
    words = sorted(random_lexicon(rng, size).words)
    return Lexicon(words, dict(zip(words, rng.uniform(0.01, 1.0, size=len(words)))))


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("prior_weight", [0.5, 1.0])
def test_wide_search_with_a_word_prior_maximises_image_probability_times_prior(seed, prior_weight):
    rng = np.random.default_rng(300 + seed)
    frames = int(rng.integers(1, 7))
    probs = random_probs(rng, frames, peak=float(rng.uniform(0.5, 3)))
    lexicon = random_weighted_lexicon(rng, int(rng.integers(1, 8)))
    score = {word: math.log(ctc_probability(probs, word)) + prior_weight * math.log(lexicon.word_prior(word))
             for word in lexicon.words if ctc_min_frames(word) <= frames and ctc_probability(probs, word) > 0}
    [result] = lexicon_decode(probs[None], CS, lexicon, beam_width=WIDE, min_char_prob=0.0,
                              prior_weight=prior_weight)
    if not score:
        assert result.text == ""
        return
    best = max(score, key=score.get)
    assert result.text == best
    assert result.log_prob == pytest.approx(score[best], rel=1e-9)


def test_the_prior_settles_an_ambiguous_image_for_the_frequent_word():
    probs = one_hot_path([1, 0, 2], classes=4, certainty=0.9)  # "ab"
    probs[2] = [0.0, 0.0, 0.6, 0.4]  # ... or, a little less likely, "ac"
    weighted = Lexicon(["ab", "ac"], {"ab": 0.1, "ac": 0.9})
    assert lexicon_decode(probs[None], CS, Lexicon(["ab", "ac"]))[0].text == "ab"
    assert lexicon_decode(probs[None], CS, weighted, prior_weight=0.0)[0].text == "ab"
    assert lexicon_decode(probs[None], CS, weighted, prior_weight=0.5)[0].text == "ac"  # 0.6 * 0.1 ** 0.5 < 0.4 * 0.9 ** 0.5


def test_a_word_the_frames_cannot_spell_is_never_returned():
    # "cc" needs a blank between its letters: 3 frames; 2 frames of "c" give it probability 0.
    probs = np.array([[[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]]])
    [result] = lexicon_decode(probs, CS, Lexicon(["cc"]), beam_width=3)
    assert (result.text, result.log_prob, result.share) == ("", -math.inf, 0.0)


def test_lexicon_search_picks_a_word_over_a_likelier_non_word():
    probs = np.stack([one_hot_path([1, 0, 2, 3], certainty=0.7)])  # reads "abc"
    [free] = beam_decode(probs, CS)
    [constrained] = lexicon_decode(probs, CS, Lexicon(["ab", "cab"]))
    assert free.text == "abc"
    assert constrained.text == "ab"
    assert constrained.log_prob < free.log_prob


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("penalty", [4.0, 8.0])
def test_wide_hybrid_search_maximises_one_score_over_lexicon_words_and_every_other_text(seed, penalty):
    # Exact while the penalty outweighs every word's prior term (priors here are >= 0.01 / 7:
    # 0.5 * log(0.01 / 7) > -3.3), so a lexicon word never scores below the same text as a non-word.
    rng = np.random.default_rng(500 + seed)
    frames = int(rng.integers(1, 7))
    probs = random_probs(rng, frames, peak=float(rng.uniform(0.5, 3)))
    lexicon = random_weighted_lexicon(rng, int(rng.integers(1, 8)))
    score = {text: math.log(p) - penalty for text, p in labelling_probabilities(probs).items()
             if text not in lexicon and p > 0}
    score.update({word: math.log(ctc_probability(probs, word)) + 0.5 * math.log(lexicon.word_prior(word))
                  for word in lexicon.words if ctc_probability(probs, word) > 0})
    best = max(score, key=score.get)
    [result] = hybrid_decode(probs[None], CS, lexicon, beam_width=WIDE, min_char_prob=0.0, prior_weight=0.5,
                             penalty=penalty)
    assert result.text == best
    assert result.log_prob == pytest.approx(score[best], rel=1e-9)


def test_hybrid_reads_a_word_the_lexicon_lacks_only_when_the_image_is_clear_about_it():
    probs = np.stack([one_hot_path([1, 0, 2, 3], certainty=0.97)])  # reads "abc", not in the lexicon
    lexicon = Lexicon(["ab", "cab"])
    [free] = beam_decode(probs, CS)
    [word] = lexicon_decode(probs, CS, lexicon)
    assert word.log_prob < free.log_prob - 2.0  # "ab" is e**2 times less likely, at least
    [opened] = hybrid_decode(probs, CS, lexicon, penalty=2.0)
    assert (opened.text, opened.log_prob) == ("abc", pytest.approx(free.log_prob - 2.0))
    [closed] = hybrid_decode(probs, CS, lexicon, penalty=free.log_prob - word.log_prob + 0.1)
    assert (closed.text, closed.log_prob) == ("ab", word.log_prob)


def test_hybrid_keeps_a_lexicon_word_the_free_beam_also_reads():
    probs = np.stack([one_hot_path([1, 0, 2], certainty=0.97)])  # "ab", a lexicon word
    [result] = hybrid_decode(probs, CS, Lexicon(["ab", "cab"]), penalty=0.0)
    assert result == lexicon_decode(probs, CS, Lexicon(["ab", "cab"]))[0]


frame_strategy = st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda row: sum(row) > 0)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(frame_strategy, min_size=1, max_size=8),
    words=st.lists(st.text("abc", min_size=1, max_size=4), min_size=1, max_size=6),
    beam_width=st.integers(1, 6),
)
def test_lexicon_decoding_only_returns_lexicon_words(frames, words, beam_width):
    probs = np.array(frames)
    probs /= probs.sum(axis=1, keepdims=True)
    lexicon = Lexicon(words)
    [result] = lexicon_decode(probs[None], CS, lexicon, beam_width=beam_width)
    if result.text:
        assert result.text in lexicon.words
        assert np.isfinite(result.log_prob) and 0 < result.share <= 1 + 1e-9
    else:
        assert result.log_prob == -math.inf and result.share == 0.0


@pytest.fixture(scope="module")
def served():
    """The pyfunc around a tiny untrained model, as load_context would leave it (minus the file loading)."""
    from hwr.decoding.recognizer import Recognizer
    from hwr.model.variants import build_crnn
    from hwr.serving.pyfunc import HwrModel

    charset = Charset.from_texts(["abcdefghijklmnopqrstuvwxyz"])
    model = HwrModel()
    model.recognizer = Recognizer(build_crnn(32, 128, charset.num_classes, seed=0), charset)
    return model


def test_loading_the_served_model_warns_nothing_about_predicts_type_hints():
    """MLflow warns on every import and load of a PythonModel whose predict input has no type hint."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-W", "always", "-c", "import hwr.serving.pyfunc"], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert "type hint" not in done.stderr, done.stderr


def image_b64():
    from hwr.data.images import encode_png_base64

    return encode_png_base64(np.random.default_rng(0).integers(0, 256, (40, 150), dtype=np.uint8))


@pytest.mark.parametrize(
    "params, named",
    [
        ({"decoder": "viterbi"}, "unknown decoder 'viterbi': choose one of greedy, beam, lexicon, hybrid"),
        ({"decoder": None}, "unknown decoder None"),
        ({"beam_width": 0}, "beam_width must be an integer from 1 to 100, got 0"),
        ({"beam_width": 101}, "beam_width must be an integer from 1 to 100, got 101"),
        ({"beam_width": "abc"}, "beam_width must be an integer from 1 to 100, got 'abc'"),
        ({"beam_width": 2.5}, "beam_width"),
        ({"beam_width": True}, "beam_width"),
        ({"decoder": "beam", "beam_width": -3}, "beam_width"),
    ],
)
def test_bad_decoding_params_are_a_400_naming_the_parameter(served, params, named):
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode

    with pytest.raises(MlflowException) as refused:
        served.predict(None, {"image": [image_b64()]}, params)
    assert refused.value.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE)
    assert named in refused.value.message


@pytest.mark.parametrize(
    "params",
    [None, {"decoder": "greedy"}, {"decoder": "beam"}, {"decoder": "beam", "beam_width": 1},
     {"decoder": "beam", "beam_width": "25"}, {"decoder": "lexicon", "beam_width": 100.0}, {"decoder": "hybrid"}],
)
def test_every_decoder_is_served(served, params):
    answer = served.predict(None, {"image": [image_b64()] * 2}, params)
    assert list(answer.columns) == ["text", "confidence"] and len(answer) == 2
    assert answer["confidence"].between(0, 1).all()
    if params and params["decoder"] == "lexicon":
        from hwr.decoding.lexicon import default_lexicon

        assert all(text in default_lexicon(served.recognizer.charset) for text in answer["text"])
