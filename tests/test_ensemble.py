"""The ensemble model: several recognizers' per-frame log-probabilities averaged in one Keras model."""

import numpy as np
import pandas as pd
import pytest

from hwr.data.charset import Charset
from hwr.decoding.decode import softmax
from hwr.decoding.recognizer import Recognizer
from hwr.errors import DataError, HwrError
from hwr.model import transfer
from hwr.model.ensemble import ENSEMBLE, build_ensemble
from hwr.model.variants import build_model, unroll_recurrent_layers

H, W = 32, 128
CHARSET = Charset(tuple("abc"))


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, H, W, 1)).astype("float32")


def log_softmax(logits):
    return np.log(softmax(logits))


@pytest.fixture(scope="module")
def members():
    return [build_model("compact", H, W, CHARSET.num_classes, seed=s) for s in (1, 2, 3)]


def test_output_is_the_mean_of_the_members_log_probabilities(members):
    x = images(4)
    expected = np.mean([log_softmax(m.predict(x, verbose=0)) for m in members], axis=0)
    ensemble = build_ensemble(members)
    assert ensemble.name == ENSEMBLE
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-5)
    # The members differ, so the mean is none of them.
    assert not np.allclose(expected, log_softmax(members[0].predict(x, verbose=0)), atol=1e-3)


def test_an_ensemble_of_one_model_twice_reads_as_that_model(members):
    x = images(6, seed=1)[..., 0].astype(np.uint8)
    alone = Recognizer(members[0], CHARSET).recognize(x)
    twice = Recognizer(build_ensemble([members[0], members[0]]), CHARSET).recognize(x)
    assert [t for t, _ in twice] == [t for t, _ in alone]
    np.testing.assert_allclose([c for _, c in twice], [c for _, c in alone], rtol=1e-4)


def test_saved_ensemble_loads_with_its_members_and_unrolls_them(members, tmp_path):
    import keras

    ensemble = build_ensemble(members[:2])
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras", compile=False)
    x = images(3, seed=2)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ensemble.predict(x, verbose=0), atol=1e-6)
    unroll_recurrent_layers(loaded)
    lstms = [rnn for member in loaded.layers if isinstance(member, keras.Model) for layer in member.layers
             if isinstance(layer, keras.layers.Bidirectional) for rnn in (layer.forward_layer, layer.backward_layer)]
    assert len(lstms) == 2 * 2 * 2 and all(rnn.unroll for rnn in lstms)  # 2 members x 2 BiLSTMs x 2 directions


def test_models_of_other_shapes_or_a_single_model_are_refused(members):
    with pytest.raises(HwrError, match="at least 2 models, got 1"):
        build_ensemble(members[:1])
    wider = build_model("compact", H, 2 * W, CHARSET.num_classes)
    with pytest.raises(HwrError, match="cannot be averaged"):
        build_ensemble([members[0], wider])
    other_alphabet = build_model("compact", H, W, CHARSET.num_classes + 1)
    with pytest.raises(HwrError, match="cannot be averaged"):
        build_ensemble([members[0], other_alphabet])


def test_an_ensemble_as_init_model_gives_its_first_members_weights(members):
    # The iam preset's champion is an ensemble: fine-tuning from it starts from one whole member.
    target = build_model("compact", H, W, CHARSET.num_classes, seed=9)
    counts = transfer.copy_weights(build_ensemble(members[:2]), CHARSET, target, CHARSET)
    assert counts["shared_chars"] == len(CHARSET.chars)
    x = images(2)
    np.testing.assert_allclose(target.predict(x, verbose=0), members[0].predict(x, verbose=0), atol=1e-5)
    with pytest.raises(DataError, match="init_model is an ensemble whose members are not 'crnn' models"):
        transfer.copy_weights(build_ensemble(members[:2]), CHARSET,
                              build_model("crnn", H, W, CHARSET.num_classes), CHARSET)


def write_prepared(folder, vals):
    """A prepare run's artifacts as a local folder: charset.json and splits/ with one val list per split."""
    from hwr.data.splits import Splits, write_splits

    empty = pd.DataFrame({"path": [], "text": []})
    folds = [(empty, pd.DataFrame({"path": [f"w{i}.png" for i in ids], "text": [f"t{i}" for i in ids]}))
             for ids in vals]
    write_splits(Splits(empty, folds), folder / "splits")
    CHARSET.save(folder / "charset.json")
    return str(folder)


def test_calibration_words_are_those_no_member_trained_on(tmp_path):
    from hwr.pipeline.ensemble import MIN_HELD_OUT_WORDS, calibration_words

    n = MIN_HELD_OUT_WORDS
    prepared = write_prepared(tmp_path / "prepared", [range(0, 2 * n), range(n, 3 * n)])
    words, described = calibration_words(prepared, [0, 1], tmp_path / "fetched")
    assert list(words["path"]) == [f"w{i}.png" for i in range(n, 2 * n)]
    assert list(words["text"]) == [f"t{i}" for i in range(n, 2 * n)]
    assert described == f"{n} validation words no member trained on"


def test_too_few_held_out_words_calibrate_on_every_members_validation_words(tmp_path):
    from hwr.pipeline.ensemble import calibration_words

    prepared = write_prepared(tmp_path / "prepared", [range(0, 30), range(25, 60)])
    words, described = calibration_words(prepared, [0, 1], tmp_path / "fetched")
    assert sorted(words["path"]) == sorted(f"w{i}.png" for i in range(60))  # each word once
    assert "60 validation words of any member (only 5 held out by every member" in described
