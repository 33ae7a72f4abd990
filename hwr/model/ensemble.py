"""Several trained recognizers read as one: their per-frame log-probabilities, averaged.

The children of one pipeline run train on different splits (other validation writers, other
seeds), so they make different mistakes. The mean of their log-softmax outputs (a normalised
geometric mean of their per-frame probabilities) is again a tensor of per-frame logits, so the
ensemble is one Keras model that the pyfunc, the decoders and the calibration use like any
other. It costs one forward pass per member at inference.
"""

from __future__ import annotations

from hwr.errors import HwrError

ENSEMBLE = "ensemble"  # the ensemble model's name
MEMBER_PREFIX = "member"  # its members' names: member0, member1, ...


def build_ensemble(members: list):
    """One Keras model whose output is the mean of the members' log-softmax outputs."""
    import keras
    from keras import layers

    if len(members) < 2:
        raise HwrError(f"an ensemble needs at least 2 models, got {len(members)}")
    shapes = {tuple(m.input_shape[1:]) for m in members}
    outputs = {tuple(m.output_shape[1:]) for m in members}
    if len(shapes) > 1 or len(outputs) > 1:
        raise HwrError(f"the models cannot be averaged: their input shapes {sorted(shapes)} and output shapes "
                       f"{sorted(outputs)} must each be one shape")
    image = keras.Input(shape=members[0].input_shape[1:], name="image")
    log_probs = []
    for i, member in enumerate(members):
        # A copy under a unique name: the members share their own name (crnn), a model's layers may not.
        config = member.get_config()
        config["name"] = f"{MEMBER_PREFIX}{i}"
        copy = keras.Model.from_config(config)
        copy.set_weights(member.get_weights())
        log_probs.append(layers.Activation("log_softmax", name=f"log_probs{i}")(copy(image)))
    return keras.Model(image, layers.Average(name="logits")(log_probs), name=ENSEMBLE)
