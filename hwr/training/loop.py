"""Training one split: cached preprocessed images, augmentation in tf.data, a learning-rate
schedule over the epoch and time budget, per-epoch CER/WER, early stopping, best weights kept."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hwr.data.charset import Charset
from hwr.evaluation import metrics
from hwr.model.transfer import freeze_conv
from hwr.model.variants import build_model
from hwr.training.recipe import Recipe


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_cer: float
    val_wer: float
    learning_rate: float
    minutes: float


@dataclass
class TrainResult:
    model: object
    history: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    stopped_because: str = "epochs"

    @property
    def best(self) -> EpochResult:
        return self.history[self.best_epoch - 1]


def _schedule_callback(recipe: Recipe, steps_per_epoch: int, started: float, result: TrainResult):
    """Sets the learning rate before every batch; ends training when the time budget is spent."""
    import keras

    total_steps = recipe.epochs * steps_per_epoch
    budget = recipe.max_minutes * 60

    class Schedule(keras.callbacks.Callback):
        step = 0

        def on_train_batch_begin(self, batch, logs=None):
            elapsed = time.monotonic() - started
            if budget and elapsed >= budget:
                result.stopped_because = "time budget"
                self.model.stop_training = True
            # Progress through the budget, whichever of epochs and minutes runs out first.
            progress = max(self.step / total_steps, elapsed / budget if budget else 0.0)
            self.step += 1
            if recipe.schedule == "cosine":
                warmup = recipe.warmup
                factor = progress / warmup if progress < warmup else (
                    0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup)))))
                self.model.optimizer.learning_rate.assign(recipe.learning_rate * max(factor, 0.01))

    return Schedule()


def _evaluator(recognizer, x_val, y_val, val_texts, recipe: Recipe, started: float,
               on_epoch: Callable[[EpochResult], None], result: TrainResult):
    import keras

    ctc = keras.losses.CTC()

    class EpochEvaluator(keras.callbacks.Callback):
        """Validation on decoded strings after each epoch; keeps the best weights by CER, stops early."""

        best_cer = float("inf")
        best_weights = None

        def on_epoch_end(self, epoch, logs=None):
            logits = recognizer.logits(x_val)
            predicted = [text for text, _ in recognizer.recognize_logits(logits)]
            entry = EpochResult(
                epoch=epoch + 1,
                train_loss=float(logs["loss"]),
                val_loss=float(np.mean(ctc(y_val, logits))),
                val_cer=metrics.cer(val_texts, predicted),
                val_wer=metrics.wer(val_texts, predicted),
                learning_rate=float(self.model.optimizer.learning_rate.numpy()),
                minutes=(time.monotonic() - started) / 60,
            )
            result.history.append(entry)
            if entry.val_cer < self.best_cer:
                self.best_cer = entry.val_cer
                self.best_weights = self.model.get_weights()
                result.best_epoch = entry.epoch
            elif recipe.patience and entry.epoch - result.best_epoch >= recipe.patience:
                result.stopped_because = f"no better val_cer for {recipe.patience} epochs"
                self.model.stop_training = True
            on_epoch(entry)

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return EpochEvaluator()


def training_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, augment: bool, seed: int,
                     mix: tuple[np.ndarray, np.ndarray, float] | None = None, erase: float = 0.0):
    """Shuffled batches from the in-memory cache; augmentation runs in tf.data's threads, ahead of the model.

    An endless stream: every ceil(len(x) / batch_size) batches are one epoch, each word once, in a
    new order. Endless, so that fit() keeps one iterator for the whole training: a new iterator
    per epoch waited up to 5 s for the old one's tf.data threads to stop, in about half of the
    epochs, with both cores idle (py-spy: the main thread in the old iterator's destructor).

    mix = (x_mix, y_mix, fraction): each word of the stream is drawn from the mix set with that
    probability instead (both sets reshuffled on every pass), so epochs are no longer exact passes.
    erase: Augmentation.erase_p, used when augment is on.
    """
    import tensorflow as tf

    from hwr.training.augment import Augmentation, augment_batch

    def shuffled(images, labels, shuffle_seed):
        return tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(
            len(images), seed=shuffle_seed, reshuffle_each_iteration=True)

    if mix is None:
        data = shuffled(x, y, seed).batch(batch_size).repeat()
    else:
        x_mix, y_mix, fraction = mix
        words = tf.data.Dataset.sample_from_datasets(
            [shuffled(x, y, seed).repeat(), shuffled(x_mix, y_mix, seed + 1).repeat()],
            weights=[1.0 - fraction, fraction], seed=seed)
        data = words.batch(batch_size)
    data = data.map(lambda xb, yb: (tf.cast(xb, tf.float32)[..., None], yb), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmentation = Augmentation(erase_p=erase)
        data = data.map(lambda xb, yb: (augment_batch(xb, augmentation), yb), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


# Variable names (Keras matches substrings) that weight decay leaves alone.
NOT_DECAYED = ("gamma", "beta", "bias")


class _EvenEMAStart:
    """Weight averaging that starts as the plain mean of the steps so far (momentum n/(n+1) at step
    n) and becomes the recipe's moving average once that reaches its momentum (step 999 for 0.999).

    Keras's moving average starts at the first step's weights: with 0.999, the average is still 90 %
    of them after 100 steps, which is all a page of words gets (6 steps an epoch) before `patience`
    gives up on a validation that does not move. From that step on it moves as Keras's does."""

    @property
    def ema_momentum(self):
        if not hasattr(self, "_iterations"):  # read while the optimizer is being built
            return self._peak_ema_momentum
        from keras import ops

        steps = ops.cast(self.iterations, "float32")
        return ops.minimum(self._peak_ema_momentum, steps / (steps + 1.0))

    @ema_momentum.setter
    def ema_momentum(self, value):
        self._peak_ema_momentum = value

    def get_config(self):
        return {**super().get_config(), "ema_momentum": self._peak_ema_momentum}


def make_optimizer(recipe: Recipe):
    """Adam, or AdamW when the recipe asks for weight decay; with the recipe's weight averaging."""
    import keras

    base = keras.optimizers.AdamW if recipe.weight_decay else keras.optimizers.Adam
    if recipe.ema:
        # Named and placed as Keras's own class, so a saved model names a plain Keras optimizer and
        # loads (with compile=True too) where hwr is not installed.
        base = type(base.__name__, (_EvenEMAStart, base), {"__module__": base.__module__})
    optimizer = base(recipe.learning_rate, weight_decay=recipe.weight_decay or None, use_ema=recipe.ema > 0,
                     ema_momentum=recipe.ema or 0.99)
    if recipe.weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NOT_DECAYED))
    return optimizer


def train(
    x_train: np.ndarray,
    train_texts: list[str],
    x_val: np.ndarray,
    val_texts: list[str],
    charset: Charset,
    recipe: Recipe,
    init: Callable[[object], None] | None = None,
    on_epoch: Callable[[EpochResult], None] = lambda e: None,
    mix: tuple[np.ndarray, list[str]] | None = None,
) -> TrainResult:
    """`init`, if given, is called with the freshly built model (to copy pre-trained weights in).

    `mix` = (images, texts): words drawn into training batches at recipe.mix_synthetic (ignored at
    0). Validation stays on x_val alone. An epoch is still len(x_train) real words on average.
    """
    import keras

    from hwr.decoding.recognizer import Recognizer

    recipe = recipe.effective()
    height, width = x_train.shape[1:]
    model = build_model(recipe.model, height, width, charset.num_classes, seed=recipe.seed,
                        conv_dropout=recipe.conv_dropout, rnn_dropout=recipe.rnn_dropout)
    if init is not None:
        init(model)
    if recipe.freeze:
        freeze_conv(model, recipe.freeze)
    mixing = mix is not None and recipe.mix_synthetic > 0
    mix_texts = list(mix[1]) if mixing else []
    max_len = max(len(t) for t in list(train_texts) + list(val_texts) + mix_texts)
    y_train = charset.encode_batch(train_texts, max_len)
    y_val = charset.encode_batch(val_texts, max_len)
    mixed = (mix[0], charset.encode_batch(mix_texts, max_len), recipe.mix_synthetic) if mixing else None
    # XLA ("auto" turns it on) makes CPU training slower here: measured, see the design notes.
    optimizer = make_optimizer(recipe)
    model.compile(optimizer=optimizer, loss=keras.losses.CTC(), jit_compile=False)
    result = TrainResult(model)
    started = time.monotonic()
    steps = math.ceil(len(x_train) / (recipe.batch_size * (1 - recipe.mix_synthetic if mixing else 1)))
    callbacks = [_schedule_callback(recipe, steps, started, result)]
    if recipe.ema:
        # Puts the averaged weights in the model at each epoch's end (for the evaluator after it)
        # and the training weights back at the next epoch's start.
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks.append(_evaluator(Recognizer(model, charset, reads_lines=recipe.unit == "line"), x_val, y_val, val_texts, recipe, started, on_epoch, result))
    model.fit(training_dataset(x_train, y_train, recipe.batch_size, recipe.augment, recipe.seed, mixed, recipe.erase),
              epochs=recipe.epochs, steps_per_epoch=steps, verbose=2, callbacks=callbacks,
              shuffle=False)  # training_dataset shuffles; Keras would warn that it ignores shuffle=True
    return result
