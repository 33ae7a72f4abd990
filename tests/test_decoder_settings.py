"""A model keeps the lexicon and hybrid decoders' settings it was calibrated with, and is served with them."""

from __future__ import annotations

import json
import string
from types import SimpleNamespace

import mlflow
import numpy as np
import pytest

from hwr.data.charset import Charset
from hwr.decoding import calibration
from hwr.decoding.decode import (
    LEGACY_SETTINGS,
    DecoderSettings,
    beam_decode,
    decode,
    hybrid_decode,
    lexicon_decode,
    softmax,
)
from hwr.decoding.lexicon import Lexicon

CHARSET = Charset(tuple(string.ascii_lowercase))
FRAMES = 32


def spelled(texts, noise=0.0, seed=0):
    """(n, FRAMES, classes) probabilities that spell each text, two frames a letter, under noise."""
    rng = np.random.default_rng(seed)
    logits = np.zeros((len(texts), FRAMES, CHARSET.num_classes))
    for row, text in enumerate(texts):
        path = [0] * FRAMES
        for i, char in enumerate(text):
            path[1 + 3 * i] = path[2 + 3 * i] = CHARSET.encode(char)[0]
        logits[row, np.arange(FRAMES), path] = 6.0
    return softmax(logits + noise * rng.normal(size=logits.shape))


def test_settings_round_trip_through_their_json_form():
    settings = DecoderSettings(lexicon_size=1234, prior_weight=0.25, penalty=7.5)
    assert DecoderSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    assert DecoderSettings.from_dict({"lexicon_size": 10, "prior_weight": 0, "penalty": 3}).penalty == 3.0


@pytest.mark.parametrize("values, named", [
    ({"lexicon_size": 10, "prior_weight": 0.5}, "need exactly ['lexicon_size', 'penalty', 'prior_weight']"),
    ({"lexicon_size": 10, "prior_weight": 0.5, "penalty": 1, "beam": 3}, "got ['beam', 'lexicon_size'"),
    ({"lexicon_size": 0, "prior_weight": 0.5, "penalty": 1}, "lexicon_size must be a positive integer, got 0"),
    ({"lexicon_size": True, "prior_weight": 0.5, "penalty": 1}, "lexicon_size must be a positive integer, got True"),
    ({"lexicon_size": 10.5, "prior_weight": 0.5, "penalty": 1}, "lexicon_size must be a positive integer, got 10.5"),
    ({"lexicon_size": 10, "prior_weight": -1, "penalty": 1}, "prior_weight must be a number of at least 0, got -1"),
    ({"lexicon_size": 10, "prior_weight": 0.5, "penalty": "high"}, "penalty must be a number of at least 0, got 'high'"),
    ({"lexicon_size": 10, "prior_weight": 0.5, "penalty": float("inf")}, "penalty must be a number of at least 0"),
    ([10, 0.5, 1], "decoder settings must be a JSON object, got list"),
])
def test_bad_settings_are_named(values, named):
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        DecoderSettings.from_dict(values)


def test_decode_weighs_words_and_penalises_other_text_as_the_settings_say():
    lexicon = Lexicon(["cat", "cot", "dog"], {"cat": 1.0, "cot": 50.0, "dog": 1.0})
    probs = spelled(["cat", "cbt", "dgo"], noise=0.5)
    for settings in (DecoderSettings(10, 0.0, 0.0), DecoderSettings(10, 4.0, 1e6)):
        lexicon_read = decode(probs, CHARSET, "lexicon", lexicon=lexicon, settings=settings)
        assert lexicon_read == lexicon_decode(probs, CHARSET, lexicon, prior_weight=settings.prior_weight)
        hybrid_read = decode(probs, CHARSET, "hybrid", lexicon=lexicon, settings=settings)
        assert hybrid_read == hybrid_decode(probs, CHARSET, lexicon, prior_weight=settings.prior_weight,
                                            penalty=settings.penalty)
    # The two settings read these images differently: without a prior or a penalty the clear
    # non-words come through; with a strong prior and no way out of the lexicon, "cot" wins "cat".
    free = [d.text for d in decode(probs, CHARSET, "hybrid", lexicon=lexicon, settings=DecoderSettings(10, 0.0, 0.0))]
    closed = [d.text for d in decode(probs, CHARSET, "hybrid", lexicon=lexicon, settings=DecoderSettings(10, 4.0, 1e6))]
    assert free == [d.text for d in beam_decode(probs, CHARSET)] and free[1:] == ["cbt", "dgo"]
    assert closed[0] == "cot" and set(closed) <= set(lexicon.words)


def test_the_default_lexicon_has_the_settings_size():
    import wordfreq

    # A common word ranked between 1,500 and 2,000: in the 2,000-word lexicon, not in the 1,000-word one.
    word = next(w for w in wordfreq.top_n_list("en", 2000)[1500:] if w.isalpha() and w.islower() and len(w) >= 7)
    probs = spelled([word])
    [wide] = decode(probs, CHARSET, "lexicon", settings=DecoderSettings(2000, 0.5, 18.0))
    [narrow] = decode(probs, CHARSET, "lexicon", settings=DecoderSettings(1000, 0.5, 18.0))
    assert wide.text == word and narrow.text != word


def test_calibration_is_fitted_to_the_settings_scores():
    lexicon = Lexicon(["cat", "cot", "dog"], {"cat": 1.0, "cot": 50.0, "dog": 1.0})
    rng = np.random.default_rng(1)
    texts = [["cat", "cot", "dog", "cbt"][i] for i in rng.integers(0, 4, 80)]
    probs = spelled(texts, noise=1.5, seed=2)
    accuracies = []
    for settings in (DecoderSettings(10, 0.0, 0.0), DecoderSettings(10, 4.0, 1e6)):
        entry = calibration.fit(np.log(probs), texts, CHARSET, lexicon=lexicon, decoders=["hybrid"],
                                settings=settings)["decoders"]["hybrid"]
        read = decode(probs, CHARSET, "hybrid", lexicon=lexicon, settings=settings)
        assert entry["accuracy"] == np.mean([d.text == t for d, t in zip(read, texts)])
        accuracies.append(entry["accuracy"])
    assert accuracies[0] != accuracies[1]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from hwr.model.variants import build_crnn

    folder = tmp_path_factory.mktemp("model")
    build_crnn(32, 128, CHARSET.num_classes, seed=0).save(folder / "model.keras")
    CHARSET.save(folder / "charset.json")
    return {"keras_model": str(folder / "model.keras"), "charset": str(folder / "charset.json")}


def loaded(artifacts):
    from hwr.serving.pyfunc import HwrModel

    served = HwrModel()
    served.load_context(SimpleNamespace(artifacts=artifacts))
    return served.recognizer


def test_a_model_without_stored_settings_keeps_the_constants_of_its_time(saved_model):
    assert loaded(saved_model).settings == LEGACY_SETTINGS


def test_unreadable_stored_settings_are_named(saved_model, tmp_path):
    (tmp_path / "decoder_settings.json").write_text('{"lexicon_size": -3, "prior_weight": 0.5, "penalty": 18}')
    with pytest.raises(ValueError, match="decoder_settings artifact is unreadable: lexicon_size must be a positive"):
        loaded({**saved_model, "decoder_settings": str(tmp_path / "decoder_settings.json")})


def test_a_logged_model_is_served_with_the_settings_it_was_logged_with(tmp_path):
    from hwr.data.images import encode_png_base64
    from hwr.model.variants import build_crnn
    from hwr.serving import packaging

    settings = DecoderSettings(lexicon_size=1000, prior_weight=0.3, penalty=5.0)
    example = encode_png_base64(np.random.default_rng(0).integers(0, 256, (40, 150), dtype=np.uint8))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("settings", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = packaging.log_model(build_crnn(32, 128, CHARSET.num_classes), CHARSET, example, settings=settings)
        served = mlflow.pyfunc.load_model(info.model_uri)
    finally:
        mlflow.set_tracking_uri(None)
    assert served.unwrap_python_model().recognizer.settings == settings
    assert DecoderSettings() != settings  # so the default could not have passed for it
