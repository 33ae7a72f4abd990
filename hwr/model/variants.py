"""The recognizers: convolution blocks read the image, BiLSTMs read its columns left to right.

Input: (height, width, 1) ink values 0..255 (see hwr.data.images). Output: per-column logits over
the blank plus every character; one column of the final feature map is one CTC frame. Every
variant keeps the width down to width // 4, so all of them emit the same number of frames.

Keras is imported inside the builders, so steps can read MODELS before TensorFlow starts.
Layers have fixed names, so the weights of one model can seed another (hwr.model.transfer).
"""

from __future__ import annotations

DOWNSAMPLE = 4  # horizontal pooling: frames = width // 4

# blocks: (filters, pool); pool None keeps the size; the width is only halved twice.
# Dropout: conv_dropout after every conv block from the third on; rnn_dropout before and after
# the recurrent layers, between_dropout between them.
VARIANTS = {
    # The quick-start model: small enough for 3 parallel trainings in the 15-minute quick start.
    "compact": {"blocks": ((32, (2, 2)), (64, (2, 2)), (128, (2, 1))), "rnn": (96, 96),
                "conv_dropout": 0.0, "rnn_dropout": 0.2, "between_dropout": 0.0},
    # The stronger CRNN for real handwriting: six conv layers, wider recurrent layers. Dropout
    # 0.2 around the recurrent layers only: heavier dropout (0.1 conv, 0.4 around and between
    # the LSTMs, as in Puigcerver 2017) read unseen writers worse after the same 55 minutes
    # (validation CER 24.4 % against 22.0 %, runs ab55-dropout-*); it may pay off only after far
    # more epochs than the 2-core preset gets.
    "crnn": {
        "blocks": ((32, (2, 2)), (64, (2, 2)), (96, None), (96, (2, 1)), (128, None), (128, (2, 1))),
        "rnn": (128, 128), "conv_dropout": 0.0, "rnn_dropout": 0.2, "between_dropout": 0.0,
    },
}
KERAS_EXAMPLE = "keras_example"  # the public Keras handwriting example, as written, for comparison
# Its dropout, as a recipe reports it: none after the conv blocks, 0.2 into the LSTMs (which
# keep their own 0.25 inside).
KERAS_EXAMPLE_DROPOUT = {"conv_dropout": 0.0, "rnn_dropout": 0.2}
MODELS = (*VARIANTS, KERAS_EXAMPLE)


def frames_for_width(width: int) -> int:
    return width // DOWNSAMPLE


def build_model(name: str, height: int, width: int, num_classes: int, seed: int = 0,
                conv_dropout: float | None = None, rnn_dropout: float | None = None):
    """conv_dropout / rnn_dropout, when given, replace the variant's own (keras_example keeps its own)."""
    if name == KERAS_EXAMPLE:
        return build_keras_example(height, width, num_classes, seed)
    if name not in VARIANTS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    given = {"conv_dropout": conv_dropout, "rnn_dropout": rnn_dropout}
    return build_crnn(height, width, num_classes, seed, name=name,
                      **{key: value for key, value in given.items() if value is not None})


def build_crnn(height: int, width: int, num_classes: int, seed: int = 0, name: str = "compact", **spec):
    """The variant `name` (a key of VARIANTS), with any of its spec's entries replaced by `spec`'s."""
    import keras
    from keras import layers

    spec = {**VARIANTS[name], **spec}
    blocks, rnn = spec["blocks"], spec["rnn"]
    conv_dropout, rnn_dropout, between_dropout = spec["conv_dropout"], spec["rnn_dropout"], spec["between_dropout"]

    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=(height, width, 1), name="image")
    x = layers.Rescaling(1.0 / 255, name="scale")(image)
    for i, (filters, pool) in enumerate(blocks):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                          name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        if pool:
            x = layers.MaxPooling2D(pool, name=f"pool{i}")(x)
        if conv_dropout and i >= 2:
            x = layers.Dropout(conv_dropout, name=f"drop_conv{i}")(x)
    x = _columns_to_frames(x)
    x = layers.Dropout(rnn_dropout, name="drop_in")(x)
    for i, units in enumerate(rnn):
        if i and between_dropout:
            x = layers.Dropout(between_dropout, name=f"drop_rnn{i}")(x)
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True, dropout=0.1), name=f"rnn{i}")(x)
    x = layers.Dropout(rnn_dropout, name="drop_out")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(image, logits, name=name)


def build_keras_example(height: int, width: int, num_classes: int, seed: int = 0):
    """The model of keras.io/examples/vision/handwriting_recognition, on our (height, width) input.

    Two conv blocks of 32 and 64 filters with 2x2 pooling, a 64-unit dense layer, BiLSTMs of 128
    and 64 units with dropout 0.25. It outputs logits (the example's softmax moves into the loss).
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=(height, width, 1), name="image")
    x = layers.Rescaling(1.0 / 255, name="scale")(image)
    for i, filters in enumerate((32, 64)):
        x = layers.Conv2D(filters, 3, activation="relu", kernel_initializer="he_normal", padding="same",
                          name=f"conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), name=f"pool{i}")(x)
    x = _columns_to_frames(x)
    x = layers.Dense(64, activation="relu", name="dense1")(x)
    x = layers.Dropout(KERAS_EXAMPLE_DROPOUT["rnn_dropout"], name="drop_in")(x)
    x = layers.Bidirectional(layers.LSTM(128, return_sequences=True, dropout=0.25), name="rnn0")(x)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True, dropout=0.25), name="rnn1")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(image, logits, name=KERAS_EXAMPLE)


def unroll_recurrent_layers(model) -> None:
    """Unroll every recurrent loop of `model` in place, for inference.

    Every variant emits a fixed number of frames (width // 4), so the loop over them can be
    written out in the graph instead of run as a while-loop: one image's forward pass of the
    crnn took ~20 % less on 2 cores, with the same outputs (bench/unroll.py); tracing the graph
    takes ~3 s longer, once, when a server starts. Training keeps the loop: there it was no
    faster; so do line models (`--width 800`: 200 frames, no faster, 9.7 s to trace). Call it
    before the model's first call traces a graph.
    """
    import keras
    from keras import layers

    for layer in model.layers:
        if isinstance(layer, keras.Model):  # an ensemble's members
            unroll_recurrent_layers(layer)
            continue
        recurrent = [layer.forward_layer, layer.backward_layer] if isinstance(layer, layers.Bidirectional) else [layer]
        for rnn in recurrent:
            if isinstance(rnn, layers.RNN):
                rnn.unroll = True


def _columns_to_frames(x):
    from keras import layers

    # (h, w, c) -> (w, h * c): one time step per image column.
    _, h, w, c = x.shape
    x = layers.Permute((2, 1, 3), name="columns")(x)
    return layers.Reshape((w, h * c), name="frames")(x)
