"""Training one split: cached preprocessed images, CTC loss, per-epoch CER/WER, best weights kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from hwr import images, metrics
from hwr.charset import Charset, ctc_min_frames
from hwr.model import build_crnn


def load_images(data_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    """Preprocess every listed image once: epochs then read from memory, not from disk."""
    out = np.zeros((len(frame), images.IMAGE_HEIGHT, images.IMAGE_WIDTH), dtype=np.uint8)
    for row, rel in enumerate(frame["path"]):
        out[row] = images.load_file(data_dir / rel)
    return out


def trainable(frame: pd.DataFrame, charset: Charset, frames: int) -> pd.DataFrame:
    """Rows the model can learn: known characters, and short enough for CTC to emit in `frames`."""
    ok = frame["text"].map(lambda t: bool(t) and not charset.unknown_chars(t) and ctc_min_frames(t) <= frames)
    return frame[ok].reset_index(drop=True)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_cer: float
    val_wer: float


@dataclass
class TrainResult:
    model: object
    history: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0

    @property
    def best(self) -> EpochResult:
        return self.history[self.best_epoch - 1]


def _callback(recognizer, x_val, y_val, val_texts, on_epoch: Callable[[EpochResult], None], result: TrainResult):
    import keras

    ctc = keras.losses.CTC()

    class EpochEvaluator(keras.callbacks.Callback):
        """Validation on decoded strings after each epoch; remembers the best weights by CER."""

        best_cer = float("inf")
        best_weights = None

        def on_epoch_end(self, epoch, logs=None):
            logits = recognizer.logits(x_val)
            val_loss = float(np.mean(ctc(y_val, logits)))
            predicted = [text for text, _ in recognizer.recognize_logits(logits)]
            entry = EpochResult(
                epoch=epoch + 1,
                train_loss=float(logs["loss"]),
                val_loss=val_loss,
                val_cer=metrics.cer(val_texts, predicted),
                val_wer=metrics.wer(val_texts, predicted),
            )
            result.history.append(entry)
            if entry.val_cer < self.best_cer:
                self.best_cer = entry.val_cer
                self.best_weights = self.model.get_weights()
                result.best_epoch = entry.epoch
            on_epoch(entry)

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return EpochEvaluator()


def train(
    x_train: np.ndarray,
    train_texts: list[str],
    x_val: np.ndarray,
    val_texts: list[str],
    charset: Charset,
    epochs: int,
    batch_size: int,
    learning_rate: float = 1e-3,
    seed: int = 0,
    on_epoch: Callable[[EpochResult], None] = lambda e: None,
) -> TrainResult:
    import keras

    from hwr.inference import Recognizer

    height, width = x_train.shape[1:]
    model = build_crnn(height, width, charset.num_classes, seed=seed)
    max_len = max(len(t) for t in list(train_texts) + list(val_texts))
    y_train = charset.encode_batch(train_texts, max_len)
    y_val = charset.encode_batch(val_texts, max_len)
    # XLA ("auto" turns it on) makes CPU training slower here: measured, see the design notes.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.CTC(), jit_compile=False)
    result = TrainResult(model)
    recognizer = Recognizer(model, charset)
    callback = _callback(recognizer, x_val, y_val, val_texts, on_epoch, result)
    model.fit(
        x_train[..., None].astype(np.float32),
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=2,
        callbacks=[callback],
    )
    return result


