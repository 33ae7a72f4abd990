"""The CRNN: convolution blocks read the image, a BiLSTM reads the columns left to right.

Input: (height, width, 1) ink values 0..255 (see hwr.images). Output: per-column logits over
the blank plus every character; one column of the final feature map is one CTC frame.
"""

from __future__ import annotations

import keras
from keras import layers

DOWNSAMPLE = 4  # horizontal pooling: frames = width // 4
CONV_BLOCKS = ((32, (2, 2)), (64, (2, 2)), (128, (2, 1)))  # (filters, pool); the last keeps the width


def frames_for_width(width: int) -> int:
    return width // DOWNSAMPLE


def build_crnn(height: int, width: int, num_classes: int, seed: int = 0, rnn_units: int = 96) -> keras.Model:
    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=(height, width, 1), name="image")
    x = layers.Rescaling(1.0 / 255)(image)
    for filters, pool in CONV_BLOCKS:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool)(x)
    # (h, w, c) -> (w, h * c): one time step per image column.
    _, h, w, c = x.shape
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((w, h * c))(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Bidirectional(layers.LSTM(rnn_units, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(rnn_units, return_sequences=True))(x)
    x = layers.Dropout(0.2)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(image, logits, name="crnn")
