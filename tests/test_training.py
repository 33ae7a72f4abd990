"""Model variants, augmentation, init_model weight transfer and the training recipe, on tiny data."""

import numpy as np
import pytest

from hwr.data.charset import Charset
from hwr.errors import DataError
from hwr.model import transfer
from hwr.model.variants import MODELS, build_model, frames_for_width
from hwr.training import loop as training
from hwr.training import words
from hwr.training.recipe import Recipe, RecipeError

H, W = 32, 128


def word_images(n, seed=0):
    """Ink blobs at the left of the image, as hwr.data.images lays words out."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, H, W), np.uint8)
    for i in range(n):
        x[i, 8:24, 2:rng.integers(20, 120)] = rng.integers(100, 256)
    return x


@pytest.mark.parametrize("name", MODELS)
def test_every_variant_emits_the_same_frames(name):
    model = build_model(name, H, W, num_classes=11)
    assert model.name == name
    assert model.output_shape == (None, frames_for_width(W), 11)


@pytest.mark.parametrize("name", ["compact", "crnn"])
def test_dropout_rates_replace_the_variants_own(name):
    def rates(model):
        return {layer.name: layer.rate for layer in model.layers if layer.name.startswith("drop")}

    own = rates(build_model(name, H, W, num_classes=5))
    assert own == {"drop_in": 0.2, "drop_out": 0.2}  # the variants' own: none after the conv blocks
    heavier = rates(build_model(name, H, W, num_classes=5, conv_dropout=0.1, rnn_dropout=0.4))
    assert heavier["drop_in"] == heavier["drop_out"] == 0.4
    conv = {k: v for k, v in heavier.items() if k.startswith("drop_conv")}
    assert conv and set(conv.values()) == {0.1}
    assert "drop_conv0" not in conv and "drop_conv1" not in conv  # from the third block on


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model 'big'"):
        build_model("big", H, W, 5)


def test_augmentation_changes_images_but_keeps_the_word_inside():
    from hwr.training.augment import augment_batch

    x = np.zeros((64, H, W, 1), np.float32)
    x[:, 6:26, 1:127] = 255.0  # words that fill the whole width: the worst case
    out = augment_batch(x).numpy()
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out, x)
    # The word is shrunk, never pushed out: the last two columns stay (nearly) paper.
    assert out[:, :, -2:].mean() < 0.05 * 255
    # ...and most of its ink is still there.
    assert (out > 128).sum() > 0.6 * (x > 128).sum()
    # Two calls differ: each epoch sees new variants.
    assert not np.allclose(augment_batch(x).numpy(), out)


def test_a_long_line_turns_no_further_at_its_end_than_a_word():
    from hwr.training.augment import Augmentation, augment_batch

    x = np.zeros((64, 32, 800, 1), np.float32)
    x[:, 12:20, 1:780] = 255.0  # a thin line of ink across the canvas, in the middle rows
    only_rotation = Augmentation(shear=0.0, scale_x=(1.0, 1.0), scale_y=(1.0, 1.0), shift_y=0.0, elastic_px=0.0,
                                 stroke_p=0.0, contrast=(1.0, 1.0), noise=0.0)
    out = augment_batch(x, only_rotation).numpy()
    ends = out[:, :, 700:780, 0] > 128
    rows = [np.flatnonzero(e.any(axis=1)) for e in ends]
    # At the right end the band moves at most a word's worth (128 * sin 2 degrees: 4.5 px), so it
    # never leaves the canvas; with the word's 2 degrees over 780 px it would move up to 27 px.
    assert all(r.size and r.min() >= 12 - 6 and r.max() <= 19 + 6 for r in rows)
    assert any(r.min() < 12 or r.max() > 19 for r in rows)  # but it does turn


# Every random change off but the one under test, so the effect of random erasing is exact.
STILL = dict(rotate_deg=0.0, shear=0.0, scale_x=(1.0, 1.0), scale_y=(1.0, 1.0), shift_y=0.0, elastic_px=0.0,
             stroke_p=0.0, contrast=(1.0, 1.0), noise=0.0)


def test_random_erasing_paints_small_paper_patches_over_the_word_only():
    from hwr.training.augment import ERASE_PATCHES, Augmentation, augment_batch

    x = np.zeros((128, H, W, 1), np.float32)
    x[:, 6:26, :80] = 255.0  # a word 80 pixels long
    np.testing.assert_array_equal(augment_batch(x, Augmentation(**STILL)).numpy(), x)

    always = Augmentation(**STILL, erase_p=1.0)
    out = augment_batch(x, always).numpy()
    erased = (x > 0) & (out == 0)
    assert np.array_equal(out[~erased], x[~erased])  # nothing but paper is painted
    per_image = erased.reshape(len(x), -1).sum(axis=1)
    largest = ERASE_PATCHES * always.erase_w[1] * always.erase_h[1]
    assert per_image.min() > 0 and per_image.max() <= largest
    assert erased.mean() < 0.2 * (x > 0).mean()  # parts of strokes, not the word
    # Patches land on the word, not on the paper beside it: even a word 20 of 128 columns long
    # gets at least one in every image (placed anywhere, three would all miss it in half the images).
    word = np.zeros_like(x)
    word[:, :, :20] = 255.0
    short = augment_batch(word, always).numpy()
    assert ((word > 0) & (short == 0)).any(axis=(1, 2, 3)).all()

    sometimes = augment_batch(x, Augmentation(**STILL, erase_p=0.5)).numpy()
    touched = ((x > 0) & (sometimes == 0)).any(axis=(1, 2, 3)).mean()
    assert 0.75 < touched < 0.97  # 1 - 0.5 ** 3 = 0.875 of the images get at least one patch


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_weight_decay_shrinks_kernels_but_not_batch_norm_or_biases(decay):
    import keras

    model = build_model("compact", H, W, num_classes=5)
    optimizer = training.make_optimizer(Recipe(learning_rate=0.01, weight_decay=decay))
    assert isinstance(optimizer, keras.optimizers.AdamW) == (decay > 0)
    variables = model.trainable_variables
    before = [np.array(v) for v in variables]
    # Zero gradients: Adam moves nothing, so any change is the decay alone.
    optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in variables])
    kinds = set()
    for variable, old in zip(variables, before):
        kind = variable.path.rsplit("/", 1)[-1]
        kinds.add(kind)
        shrink = 1 - 0.01 * decay if "kernel" in kind else 1.0
        np.testing.assert_allclose(np.array(variable), old * shrink, rtol=1e-5, atol=1e-7, err_msg=variable.path)
    assert {"kernel", "gamma", "beta", "bias"} <= kinds


def test_bilinear_sampling_agrees_with_keras_map_coordinates():
    import keras
    import tensorflow as tf

    from hwr.training.augment import _bilinear

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 8, 16)).astype(np.float32)
    rows, cols = np.meshgrid(np.arange(8), np.arange(16), indexing="ij")
    x = (cols + rng.normal(0, 3, (3, 8, 16))).astype(np.float32)  # some points fall outside
    y = (rows + rng.normal(0, 2, (3, 8, 16))).astype(np.float32)
    batch = np.broadcast_to(np.arange(3, dtype=np.float32)[:, None, None], x.shape)
    reference = keras.ops.image.map_coordinates(images, np.stack([batch, y, x]), order=1, fill_mode="constant")
    ours = _bilinear(tf.constant(images), tf.constant(x), tf.constant(y))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(reference), atol=1e-3)


def test_training_dataset_is_endless_and_each_epoch_sees_every_word_once():
    # fit() keeps one iterator for the whole training (hwr.training.loop.training_dataset says why), so
    # the epochs are cut from one endless stream by steps_per_epoch: it must not end, and each
    # run of ceil(n / batch) batches must be one shuffled pass, not a mix of two passes.
    n, batch = 10, 4
    x = word_images(n)
    y = np.arange(n, dtype=np.int32)[:, None]  # each word's label is its index
    stream = iter(training.training_dataset(x, y, batch_size=batch, augment=False, seed=0))
    steps = -(-n // batch)
    epochs = [np.concatenate([next(stream)[1].numpy()[:, 0] for _ in range(steps)]) for _ in range(3)]
    for seen in epochs:
        assert sorted(seen) == list(range(n))
    assert len({tuple(seen) for seen in epochs}) > 1  # reshuffled between epochs


def test_mixed_stream_draws_the_mix_share_from_the_second_set():
    n, batch, fraction = 40, 16, 0.25
    x, x_mix = word_images(n), word_images(n, seed=1)
    y = np.arange(n, dtype=np.int32)[:, None]  # real words: labels 0..39
    y_mix = y + 1000  # mixed-in words: 1000..1039
    stream = iter(training.training_dataset(x, y, batch_size=batch, augment=True, seed=0,
                                            mix=(x_mix, y_mix, fraction)))
    labels = np.concatenate([next(stream)[1].numpy()[:, 0] for _ in range(60)])
    assert len(labels) == 60 * batch  # full batches, endless
    share = np.mean(labels >= 1000)
    assert abs(share - fraction) < 0.05  # 960 draws: 3 standard deviations are 0.042
    assert set(labels[labels < 1000]) == set(range(n)) and set(labels[labels >= 1000]) == set(range(1000, 1000 + n))


def test_training_with_a_mix_of_longer_words_runs_every_epoch():
    # The mixed-in labels are longer than any real one: both sets are padded to one label width.
    charset = Charset.from_texts(["abcde"])
    texts = ["abc", "de", "cab", "ed"] * 8
    x = word_images(32)
    mix = (word_images(16, seed=3), ["badcab", "aceace", "dab", "cede"] * 4)
    result = training.train(x, texts, x[:8], texts[:8], charset,
                            Recipe(model="compact", epochs=2, batch_size=8, mix_synthetic=0.5), mix=mix)
    assert len(result.history) == 2 and 0 <= result.best.val_cer <= 1


def test_mix_folder_must_exist_and_hold_learnable_words(tmp_path):
    from tests.iam_fixture import render_iam_folder

    with pytest.raises(DataError, match="does not exist"):
        words.load_mix(tmp_path / "nowhere", Charset.from_texts(["abc"]))
    records = render_iam_folder(tmp_path / "mix", forms=1, per_form=4)
    texts = [r.text for r in records]
    x, mixed_texts = words.load_mix(tmp_path / "mix", Charset.from_texts(texts))
    assert x.shape == (4, H, W) and mixed_texts == texts
    assert words.load_mix(tmp_path / "mix", Charset.from_texts(texts), width=192)[0].shape == (4, H, 192)
    with pytest.raises(DataError, match="no word this model can learn"):
        words.load_mix(tmp_path / "mix", Charset.from_texts(["0123456789"]))


def tiny_training(recipe, n=64):
    charset = Charset.from_texts(["abcde"])
    texts = ["abc", "de", "cab", "ed"] * (n // 4)
    x = word_images(n)
    return training.train(x, texts, x[:8], texts[:8], charset, recipe)


def test_time_budget_stops_training_and_is_recorded():
    result = tiny_training(Recipe(model="compact", epochs=50, batch_size=16, max_minutes=0.001,
                                  schedule="cosine", augment=True))
    assert result.stopped_because == "time budget"
    assert len(result.history) == 1  # the budget ran out during the first epoch; it is still evaluated
    assert result.best_epoch == 1


def test_patience_stops_when_val_cer_stalls():
    result = tiny_training(Recipe(model="compact", epochs=30, batch_size=32, patience=2,
                                  learning_rate=0.0))  # frozen weights: val_cer barely moves
    assert result.stopped_because == "no better val_cer for 2 epochs"
    assert len(result.history) == result.best_epoch + 2 < 30


def test_ema_keeps_and_validates_the_averaged_weights(tmp_path):
    # 2 epochs of 4 steps: the average is the mean of the 8 steps' weights, so it moves less than
    # the raw weights but more than one Adam step (at most the learning rate) from the start.
    start = build_model("compact", H, W, Charset.from_texts(["abcde"]).num_classes, seed=0)
    start = start.get_layer("conv0").get_weights()[0]
    moved = {}
    for ema in (0.0, 0.99999):
        result = tiny_training(Recipe(model="compact", epochs=2, batch_size=16, learning_rate=0.01, ema=ema, seed=0))
        moved[ema] = np.abs(result.model.get_layer("conv0").get_weights()[0] - start).max()
    assert 0.01 * 1.001 < moved[0.99999] < moved[0.0]
    assert moved[0.0] > 2 * 0.01
    # Saved, it names Keras's own optimizer: it loads compiled where hwr is not imported.
    import keras

    result.model.save(tmp_path / "model.keras")
    optimizer = keras.saving.load_model(tmp_path / "model.keras").optimizer
    assert type(optimizer) is keras.optimizers.Adam and optimizer.ema_momentum == 0.99999


@pytest.mark.parametrize("momentum", [0.99999, 0.5])
def test_weight_average_starts_as_the_mean_of_the_steps_then_moves_at_its_momentum(momentum):
    import keras

    optimizer = training.make_optimizer(Recipe(learning_rate=0.1, ema=momentum))
    weight = keras.Variable(np.zeros(3, np.float32))
    optimizer.build([weight])
    steps = []
    for gradient in np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32):
        optimizer.apply_gradients([(gradient, weight)])
        steps.append(weight.numpy().copy())
    expected = steps[0]
    for n, value in enumerate(steps[1:], start=1):
        m = min(momentum, n / (n + 1))
        expected = m * expected + (1 - m) * value
    if momentum > 0.9:  # every step so far weighs the same
        np.testing.assert_allclose(expected, np.mean(steps, axis=0), rtol=1e-5)
    np.testing.assert_allclose(optimizer._model_variables_moving_average[0].numpy(), expected, rtol=1e-5)
    assert optimizer.get_config()["ema_momentum"] == momentum


def test_keras_example_recipe_never_averages_weights():
    assert Recipe(model="keras_example", ema=0.999).effective().ema == 0.0


def test_cosine_schedule_warms_up_then_decays():
    result = tiny_training(Recipe(model="compact", epochs=6, batch_size=16, schedule="cosine",
                                  learning_rate=0.01), n=64)
    seen = [e.learning_rate for e in result.history]
    assert max(seen) < 0.01 and seen[-1] < 0.001  # below the peak at every epoch end, near zero at the end
    assert all(a > b for a, b in zip(seen, seen[1:]))


def test_a_longer_warmup_climbs_over_that_share_of_the_budget():
    result = tiny_training(Recipe(model="compact", epochs=6, batch_size=16, schedule="cosine", warmup=0.5,
                                  learning_rate=0.01), n=64)
    seen = [e.learning_rate for e in result.history]
    # Set before each batch: the third epoch's last batch starts at 11/24 of the budget, near the peak.
    assert seen[0] < seen[1] < seen[2] > seen[3] > seen[5] and seen[2] > 0.009


def test_init_model_copies_layers_and_shared_characters():
    source_cs, target_cs = Charset(("a", "b", "c")), Charset(("b", "c", "d"))
    source = build_model("compact", H, W, source_cs.num_classes, seed=1)
    target = build_model("compact", H, W, target_cs.num_classes, seed=2)
    counts = transfer.copy_weights(source, source_cs, target, target_cs)
    assert counts["shared_chars"] == 2
    assert counts["layers"] == len([layer for layer in target.layers if layer.weights]) - 1
    np.testing.assert_array_equal(target.get_layer("conv0").get_weights()[0], source.get_layer("conv0").get_weights()[0])
    src_kernel = source.get_layer("logits").get_weights()[0]
    kernel = target.get_layer("logits").get_weights()[0]
    np.testing.assert_array_equal(kernel[:, 0], src_kernel[:, 0])  # blank
    np.testing.assert_array_equal(kernel[:, 1], src_kernel[:, 2])  # "b"
    np.testing.assert_array_equal(kernel[:, 2], src_kernel[:, 3])  # "c"
    assert not np.array_equal(kernel[:, 3], src_kernel[:, 1])  # "d" is new: left as initialised


def test_init_model_trained_with_other_dropout_layers_still_seeds_every_weighted_layer():
    # hwr-synthetic models registered while the crnn had more dropout layers (conv and between
    # the LSTMs) seed today's crnn: dropout layers hold no weights.
    from hwr.model.variants import VARIANTS, build_crnn

    cs = Charset(("a", "b"))
    spec = dict(VARIANTS["crnn"], conv_dropout=0.1, rnn_dropout=0.4, between_dropout=0.4)
    older = build_crnn(H, W, cs.num_classes, seed=1, name="crnn", **spec)
    current = build_model("crnn", H, W, cs.num_classes, seed=2)
    assert len(older.layers) > len(current.layers)  # the older model has dropout layers today's lacks
    counts = transfer.copy_weights(older, cs, current, cs)
    assert counts["layers"] == len([layer for layer in current.layers if layer.weights]) - 1
    image = word_images(2)[..., None].astype("float32")
    np.testing.assert_allclose(current.predict(image, verbose=0), older.predict(image, verbose=0), atol=1e-5)


def test_init_model_of_another_architecture_is_refused():
    cs = Charset(("a",))
    with pytest.raises(DataError, match="init_model is a 'compact' model, this training builds 'crnn'"):
        transfer.copy_weights(build_model("compact", H, W, 2), cs, build_model("crnn", H, W, 2), cs)


def test_freeze_keeps_the_first_conv_blocks_of_init_model_and_trains_the_rest():
    charset = Charset.from_texts(["abcde"])
    source = build_model("compact", H, W, charset.num_classes, seed=1)

    def init(model):
        transfer.copy_weights(source, charset, model, charset)

    x, texts = word_images(32), ["abc", "de", "ab", "cde"] * 8
    recipe = Recipe(model="compact", epochs=1, batch_size=16, learning_rate=0.01, init_model="runs:/x/model",
                    freeze=1)
    trained = training.train(x, texts, x[:8], texts[:8], charset, recipe, init=init).model
    for name in ("conv0", "bn0"):
        for kept, start in zip(trained.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(kept, start)
    assert not np.array_equal(trained.get_layer("conv1").get_weights()[0], source.get_layer("conv1").get_weights()[0])


def test_freeze_needs_init_model_and_enough_conv_blocks():
    with pytest.raises(RecipeError, match="freeze=2 keeps init_model's first layers: give init_model too"):
        Recipe(freeze=2)
    with pytest.raises(DataError, match="freeze=9: a 'compact' model has"):
        transfer.freeze_conv(build_model("compact", H, W, 3), 9)
