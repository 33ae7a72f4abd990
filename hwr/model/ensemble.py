"""Several trained recognizers read as one: their per-frame log-probabilities, averaged.

The children of one pipeline run train on different splits (other validation writers, other
seeds), so they make different mistakes. The mean of their log-softmax outputs (a normalised
geometric mean of their per-frame probabilities) is again a tensor of per-frame logits, so the
ensemble is one Keras model that the pyfunc, the decoders and the calibration use like any
other. It costs one forward pass per member at inference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwr.data.charset import Charset
from hwr.errors import HwrError

ENSEMBLE = "ensemble"  # the ensemble model's name: hwr.model.transfer refuses it as an init_model by name


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
        config["name"] = f"member{i}"
        copy = keras.Model.from_config(config)
        copy.set_weights(member.get_weights())
        log_probs.append(layers.Activation("log_softmax", name=f"log_probs{i}")(copy(image)))
    return keras.Model(image, layers.Average(name="logits")(log_probs), name=ENSEMBLE)


def load_members(model_uris: list[str]) -> tuple[list, Charset]:
    """The Keras models behind logged hwr models, and the alphabet they share."""
    from hwr.model.transfer import load_logged_model

    loaded = [load_logged_model(uri) for uri in model_uris]
    charsets = {tuple(charset.chars) for _, charset in loaded}
    if len(charsets) > 1:
        raise HwrError(f"the models {', '.join(model_uris)} were trained on different alphabets: "
                       f"they cannot be averaged")
    return [model for model, _ in loaded], loaded[0][1]


# Fewer words than this held out by every member, and the ensemble calibrates on all their
# validation words instead: a biased sample beats a fit on a handful.
MIN_HELD_OUT_WORDS = 100


def calibration_words(splits_uri: str, splits: list[int], dest: Path) -> tuple[pd.DataFrame, str]:
    """The words to calibrate the ensemble on (path, text), and which words they are, in words.

    The honest ones are those no member trained on: in every member's validation list. Each split
    draws its validation writers at random, so there may be few; then it is the words of any
    member's validation list, each once, on which the ensemble is over-confident: a word one
    member validated on, another trained on.
    """
    from hwr.data.splits import fetch_split

    lists = [fetch_split(splits_uri, k, dest / f"split-{k}").val for k in splits]
    held_out = set.intersection(*(set(frame["path"]) for frame in lists))
    if len(held_out) >= MIN_HELD_OUT_WORDS:
        words = lists[0][lists[0]["path"].isin(held_out)].reset_index(drop=True)
        return words, f"{len(words)} validation words no member trained on"
    words = pd.concat(lists, ignore_index=True).drop_duplicates("path").reset_index(drop=True)
    return words, (f"{len(words)} validation words of any member (only {len(held_out)} held out by every member, "
                   f"under {MIN_HELD_OUT_WORDS}): confidence may run high on new writers")


def log_ensemble(children: list, splits_uri: str, data_dir: Path, tmp: Path):
    """The ensemble of `children` (finished training runs) as the hwr pyfunc, logged in the active
    run: calibrated on their validation words (see calibration_words) with today's decoder
    settings. Returns MLflow's ModelInfo."""
    import mlflow

    from hwr.data import images
    from hwr.serving import packaging
    from hwr.training import loop as training
    from hwr.decoding.calibration import fit as fit_calibration
    from hwr.decoding.decode import DecoderSettings
    from hwr.decoding.recognizer import Recognizer
    from hwr.model.variants import frames_for_width
    from hwr.pipeline.registry import MODEL_URI_TAG
    from hwr.data.splits import fetch_test_list

    members, charset = load_members([run.data.tags[MODEL_URI_TAG] for run in children])
    model = build_ensemble(members)
    width = model.input_shape[2]
    splits = [int(run.data.tags.get("hwr.split", 0)) for run in children]
    words, described = calibration_words(splits_uri, splits, tmp)
    mlflow.set_tag("hwr.calibration_words", described)
    val = training.trainable(words, charset, frames_for_width(width))
    if val.empty:
        raise HwrError(f"the splits {splits} of {splits_uri} have no validation word to calibrate the ensemble on")
    settings = DecoderSettings()
    recognizer = Recognizer(model, charset, settings=settings)
    calibration = fit_calibration(recognizer.logits(training.load_images(data_dir, val, width)), list(val["text"]),
                                  charset, settings=settings)
    example = images.encode_png_base64(data_dir / fetch_test_list(splits_uri)["path"].iloc[0])
    return packaging.log_model(model, charset, example, calibration=calibration, settings=settings)
