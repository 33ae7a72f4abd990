"""The words a training reads: every image preprocessed once into memory, and the labels a
model can learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hwr.data import iam, images
from hwr.data.charset import Charset, ctc_min_frames
from hwr.errors import DataError
from hwr.model.variants import frames_for_width


def load_images(data_dir: Path, frame: pd.DataFrame, width: int = images.IMAGE_WIDTH) -> np.ndarray:
    """Preprocess every listed image once: epochs then read from memory, not from disk."""
    out = np.zeros((len(frame), images.IMAGE_HEIGHT, width), dtype=np.uint8)
    for row, rel in enumerate(frame["path"]):
        out[row] = images.load_file(data_dir / rel, width=width)
    return out


def load_mix(data_dir: Path, charset: Charset, width: int = images.IMAGE_WIDTH) -> tuple[np.ndarray, list[str]]:
    """The words of another IAM-layout folder that this charset can learn, for train(mix=...)."""
    frames = frames_for_width(width)
    if not data_dir.is_dir():
        raise DataError(f"mix data folder {data_dir} does not exist")
    index, _ = iam.index_words(data_dir)
    usable = trainable(index, charset, frames)
    if len(usable) == 0:
        raise DataError(f"mix data folder {data_dir} has no word this model can learn "
                        f"(characters outside its {len(charset.chars)}, or labels too long for {frames} frames)")
    return load_images(data_dir, usable, width), list(usable["text"])


def trainable(frame: pd.DataFrame, charset: Charset, frames: int) -> pd.DataFrame:
    """Rows the model can learn: known characters, and short enough for CTC to emit in `frames`."""
    ok = frame["text"].map(lambda t: bool(t) and not charset.unknown_chars(t) and ctc_min_frames(t) <= frames)
    return frame[ok].reset_index(drop=True)
