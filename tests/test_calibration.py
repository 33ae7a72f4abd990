import json
import math
import string
from types import SimpleNamespace

import numpy as np
import pytest

from hwr.data.charset import Charset
from hwr.decoding import calibration
from hwr.decoding.decode import DECODERS, DEFAULT_BEAM_WIDTH, Decoded, decode, softmax
from hwr.decoding.lexicon import Lexicon

CHARSET = Charset(tuple(string.ascii_lowercase))
FRAMES = 32


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def word_logits(word, noise, rng):
    """Logits that spell `word` (two frames a letter, blanks around) under Gaussian noise of scale `noise`."""
    path = [0] * FRAMES
    for i, char in enumerate(word):
        path[2 + 3 * i] = path[3 + 3 * i] = CHARSET.encode(char)[0]
    logits = np.zeros((FRAMES, CHARSET.num_classes))
    logits[np.arange(FRAMES), path] = 6.0
    return logits + noise * rng.normal(size=logits.shape)


VOCABULARY = ["cat", "dog", "house", "tree", "river", "stone", "light", "paper", "green", "water", "sun", "moon"]
LEXICON = Lexicon(VOCABULARY)


def generated_validation_set(samples, seed=0, noise=(0.0, 4.0)):
    rng = np.random.default_rng(seed)
    texts = [VOCABULARY[i] for i in rng.integers(0, len(VOCABULARY), samples)]
    logits = np.stack([word_logits(text, rng.uniform(*noise), rng) for text in texts])
    return logits, texts


@pytest.fixture(scope="module")
def fitted():
    logits, texts = generated_validation_set(400)
    return calibration.fit(logits, texts, CHARSET, lexicon=LEXICON)


def test_platt_scaling_recovers_a_known_relation_and_is_calibrated():
    rng = np.random.default_rng(0)
    score = rng.uniform(-12, 0, 5000)
    correct = rng.random(5000) < sigmoid(0.7 * score + 4)
    weights, bias = calibration.fit_platt(score[:, None], correct)
    assert weights[0] == pytest.approx(0.7, abs=0.1) and bias == pytest.approx(4, abs=0.6)
    confidence = sigmoid(score * weights[0] + bias)
    assert np.all(np.diff(confidence[np.argsort(score)]) >= 0)
    assert calibration.expected_calibration_error(confidence, correct) < 0.03


def test_scores_that_separate_right_from_wrong_perfectly_still_give_finite_weights():
    score = np.linspace(-10, 0, 200)
    weights, bias = calibration.fit_platt(score[:, None], score > -5)
    assert np.isfinite(weights).all() and np.isfinite(bias) and weights[0] > 0


def test_a_score_that_would_get_a_negative_weight_is_left_out():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 2))
    correct = rng.random(3000) < sigmoid(2 * x[:, 0] - 1 * x[:, 1])
    weights, _ = calibration.fit_platt(x, correct)
    assert weights[0] > 0 and weights[1] == 0


def test_expected_calibration_error_is_the_gap_between_confidence_and_accuracy():
    nine_of_ten = np.arange(10) < 9
    assert calibration.expected_calibration_error(np.full(10, 0.9), nine_of_ten) == pytest.approx(0.0)
    assert calibration.expected_calibration_error(np.full(10, 1.0), np.arange(10) < 5) == pytest.approx(0.5)


def test_fit_gives_a_json_dict_with_one_platt_model_per_decoder(fitted):
    assert json.loads(json.dumps(fitted)) == fitted
    assert fitted["beam_width"] == DEFAULT_BEAM_WIDTH
    assert set(fitted["decoders"]) == set(DECODERS)
    for name, entry in fitted["decoders"].items():
        assert entry["method"] == "platt", (name, entry)
        assert entry["samples"] == 400
        assert len(entry["weights"]) == len(entry["features"]) == len(calibration.FEATURES[name])
        assert 0 < entry["accuracy"] < 1
        assert entry["ece"] < 0.08, (name, entry)


@pytest.mark.parametrize("decoder", DECODERS)
def test_fitted_confidence_is_monotone_in_the_score(fitted, decoder):
    log_probs = np.linspace(-40, 0, 50)
    decoded = [Decoded("cat", float(lp), 0.5) for lp in log_probs]
    confidence = calibration.apply(fitted, decoder, decoded)
    assert np.all(np.diff(confidence) >= 0) and confidence[-1] > confidence[0]
    shares = [Decoded("cat", -2.0, float(s)) for s in np.linspace(0.01, 1, 50)]
    assert np.all(np.diff(calibration.apply(fitted, decoder, shares)) >= 0)


@pytest.mark.parametrize("decoder", DECODERS)
def test_clean_frames_get_more_confidence_than_noise_like_ones(fitted, decoder):
    rng = np.random.default_rng(7)
    peaked = softmax(word_logits("river", 0.0, rng)[None])
    flat = softmax(word_logits("river", 0.0, rng)[None] * 0.1 + rng.normal(size=(1, FRAMES, CHARSET.num_classes)))
    for calibrated in (fitted, None):
        [clean] = calibration.apply(calibrated, decoder, decode(peaked, CHARSET, decoder, lexicon=LEXICON))
        [noisy] = calibration.apply(calibrated, decoder, decode(flat, CHARSET, decoder, lexicon=LEXICON))
        assert 0 <= noisy < clean <= 1


def test_too_few_samples_fall_back_to_the_model_probability():
    logits, texts = generated_validation_set(12)
    result = calibration.fit(logits, texts, CHARSET, lexicon=LEXICON)
    for entry in result["decoders"].values():
        assert entry["method"] == "identity" and "only 12 validation samples" in entry["reason"]
        assert "weights" not in entry and entry["samples"] == 12
    decoded = decode(softmax(logits), CHARSET, "beam")
    assert calibration.apply(result, "beam", decoded) == pytest.approx([math.exp(d.log_prob) for d in decoded])


def test_all_right_samples_fall_back_too():
    logits, texts = generated_validation_set(30, noise=(0.0, 0.1))
    entry = calibration.fit(logits, texts, CHARSET, lexicon=LEXICON, decoders=["greedy"])["decoders"]["greedy"]
    assert entry["method"] == "identity" and "every validation sample was right" in entry["reason"]
    assert entry["accuracy"] == 1.0


def test_without_calibration_the_confidence_is_the_model_probability():
    decoded = [Decoded("a", -0.5, 1.0), Decoded("", -math.inf, 0.0)]
    assert calibration.apply(None, "greedy", decoded) == pytest.approx([math.exp(-0.5), 0.0])


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from hwr.model.variants import build_crnn

    folder = tmp_path_factory.mktemp("model")
    build_crnn(32, 128, CHARSET.num_classes, seed=0).save(folder / "model.keras")
    CHARSET.save(folder / "charset.json")
    return folder


def served_confidence(artifacts, params=None):
    from hwr.data.images import encode_png_base64
    from hwr.serving.pyfunc import HwrModel

    served = HwrModel()
    served.load_context(SimpleNamespace(artifacts={k: str(v) for k, v in artifacts.items()}))
    image = encode_png_base64(np.random.default_rng(0).integers(0, 256, (40, 150), dtype=np.uint8))
    return served.predict(None, {"image": [image]}, params)["confidence"][0]


def test_the_served_model_applies_its_calibration_artifact(saved_model, tmp_path):
    # A calibration whose every weight is 0 and bias 0 answers 0.5 whatever the image.
    flat = {"decoders": {d: {"method": "platt", "features": list(calibration.FEATURES[d]),
                             "weights": [0.0] * len(calibration.FEATURES[d]), "bias": 0.0} for d in DECODERS}}
    (tmp_path / "calibration.json").write_text(json.dumps(flat))
    artifacts = {"keras_model": saved_model / "model.keras", "charset": saved_model / "charset.json"}
    for decoder in DECODERS:
        params = {"decoder": decoder}
        assert served_confidence({**artifacts, "calibration": tmp_path / "calibration.json"}, params) == 0.5
    # A model logged before calibration existed has no such artifact and keeps its own probability.
    assert served_confidence(artifacts) != 0.5
