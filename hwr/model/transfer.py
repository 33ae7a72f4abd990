"""Copying an earlier model's weights into a new one (`init_model`), e.g. one pre-trained on the synthetic set.

The earlier model may have been trained on another alphabet: every layer is copied by name,
and the output layer row by row for the characters both alphabets share; characters new to
this training keep their fresh initial weights.
"""

from __future__ import annotations

import numpy as np

from hwr.data.charset import Charset
from hwr.errors import DataError
from hwr.model.ensemble import ENSEMBLE, MEMBER_PREFIX

OUTPUT_LAYER = "logits"


def copy_weights(source, source_charset: Charset, target, target_charset: Charset) -> dict[str, int]:
    """Copy `source`'s weights into `target`; returns counts of copied layers and shared characters.
    From an ensemble (such as the iam preset's champion), its first member's: each is a whole
    recognizer, and their weights cannot be averaged (they were trained apart)."""
    ensemble = source.name == ENSEMBLE
    if ensemble:
        source = source.get_layer(f"{MEMBER_PREFIX}0")
    elif source.name != target.name:
        raise DataError(f"init_model is a {source.name!r} model, this training builds {target.name!r}: "
                        f"choose the same model, or no init_model")
    weighted = [layer for layer in target.layers if layer.weights and layer.name != OUTPUT_LAYER]
    copied = 0
    for layer in target.layers:
        if layer.name == OUTPUT_LAYER or not layer.weights:
            continue
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        if [w.shape for w in other.get_weights()] == [w.shape for w in layer.get_weights()]:
            layer.set_weights(other.get_weights())
            copied += 1
    if ensemble and copied < len(weighted):
        raise DataError(f"init_model is an ensemble whose members are not {target.name!r} models ({copied} of "
                        f"{len(weighted)} layers fit): choose the members' model, or no init_model")
    shared = _copy_output_rows(source.get_layer(OUTPUT_LAYER), source_charset,
                               target.get_layer(OUTPUT_LAYER), target_charset)
    return {"layers": copied, "shared_chars": shared}


def _copy_output_rows(source, source_charset: Charset, target, target_charset: Charset) -> int:
    (src_kernel, src_bias), (kernel, bias) = source.get_weights(), target.get_weights()
    if src_kernel.shape[0] != kernel.shape[0]:
        raise DataError("init_model's output layer does not fit this model")
    # Column 0 is the CTC blank in both; characters are 1 + their index in the charset.
    pairs = [(0, 0)] + [(1 + source_charset.chars.index(c), 1 + i)
                        for i, c in enumerate(target_charset.chars) if c in source_charset.chars]
    src_cols, cols = np.array(pairs).T
    kernel[:, cols], bias[cols] = src_kernel[:, src_cols], src_bias[src_cols]
    target.set_weights([kernel, bias])
    return len(pairs) - 1


def freeze_conv(model, blocks: int) -> None:
    """Keep the first `blocks` conv blocks (convolution, and batch normalisation in inference
    mode) as they are: a fine-tuning then adapts the rest to the new handwriting."""
    available = len([layer for layer in model.layers if layer.name.startswith("conv")])
    if blocks > available:
        raise DataError(f"freeze={blocks}: a {model.name!r} model has {available} conv blocks")
    names = {name for i in range(blocks) for name in (f"conv{i}", f"bn{i}")}
    for layer in model.layers:
        if layer.name in names:
            layer.trainable = False
