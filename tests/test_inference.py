"""The served model runs its recurrent layers unrolled (a line model's loop stays), and reads exactly what the trained model reads."""

import string
from types import SimpleNamespace

import numpy as np
import pytest

from hwr.data.charset import Charset
from hwr.model.variants import MODELS, build_model, unroll_recurrent_layers

H, W = 32, 128
CHARSET = Charset(tuple(string.ascii_lowercase))


def images(n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, H, W, 1)).astype(np.float32)


def recurrent_layers(model):
    from keras import layers

    found = []
    for layer in model.layers:
        if isinstance(layer, layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, layers.RNN):
            found.append(layer)
    return found


@pytest.mark.parametrize("name", MODELS)
def test_unrolled_variants_read_the_same(name):
    looped = build_model(name, H, W, CHARSET.num_classes, seed=1)
    unrolled = build_model(name, H, W, CHARSET.num_classes, seed=2)
    unrolled.set_weights(looped.get_weights())
    unroll_recurrent_layers(unrolled)

    assert recurrent_layers(unrolled) and all(rnn.unroll for rnn in recurrent_layers(unrolled))
    assert not any(rnn.unroll for rnn in recurrent_layers(looped))
    x = images()
    np.testing.assert_allclose(unrolled(x, training=False), looped(x, training=False), atol=1e-5)


def test_the_served_model_is_unrolled_and_reads_what_was_saved(tmp_path):
    from hwr.serving.pyfunc import HwrModel

    saved = build_model("compact", H, W, CHARSET.num_classes, seed=3)
    saved.save(tmp_path / "model.keras")
    CHARSET.save(tmp_path / "charset.json")
    served = HwrModel()
    served.load_context(SimpleNamespace(artifacts={"keras_model": str(tmp_path / "model.keras"),
                                                   "charset": str(tmp_path / "charset.json")}))

    assert all(rnn.unroll for rnn in recurrent_layers(served.recognizer.model))
    x = images(seed=4)
    np.testing.assert_allclose(served.recognizer.logits(x[..., 0].astype(np.uint8)),
                               saved(x.astype(np.uint8).astype(np.float32), training=False), atol=1e-5)


def test_a_line_reader_keeps_its_line_models_loop_and_unrolls_its_word_model(tmp_path):
    from hwr.serving.pyfunc import WORD_READER_PREFIX, HwrModel

    line_charset = Charset(tuple(" " + string.ascii_lowercase))
    build_model("compact", H, 256, line_charset.num_classes, seed=5).save(tmp_path / "line.keras")
    build_model("compact", H, W, CHARSET.num_classes, seed=6).save(tmp_path / "word.keras")
    line_charset.save(tmp_path / "line.json")
    CHARSET.save(tmp_path / "word.json")
    served = HwrModel()
    served.load_context(SimpleNamespace(model_config={"unit": "line"}, artifacts={
        "keras_model": str(tmp_path / "line.keras"), "charset": str(tmp_path / "line.json"),
        WORD_READER_PREFIX + "keras_model": str(tmp_path / "word.keras"),
        WORD_READER_PREFIX + "charset": str(tmp_path / "word.json")}))

    assert served.recognizer.reads_lines and served.recognizer.width == 256
    assert not any(rnn.unroll for rnn in recurrent_layers(served.recognizer.model))  # 64 frames: the loop
    assert not served.word_reader.reads_lines and served.word_reader.charset == CHARSET
    assert all(rnn.unroll for rnn in recurrent_layers(served.word_reader.model))
