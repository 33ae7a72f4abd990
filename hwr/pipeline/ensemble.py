"""The finished trainings of one pipeline run, logged as one ensemble model (hwr.model.ensemble)."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import pandas as pd

from hwr.data.charset import Charset
from hwr.errors import HwrError
from hwr.model.ensemble import build_ensemble
from hwr.model.variants import frames_for_width
from hwr.decoding.own_words import OwnWords
from hwr.pipeline.artifacts import fetch_split, load_logged_model_and_words
from hwr.pipeline.tracking import MODEL_URI_TAG, SPLIT_TAG, TEST_DATASET, log_input, word_list
from hwr.pipeline.training_run import ScoredModel, log_scored_model
from hwr.training import words

log = logging.getLogger(__name__)
MEMBERS_TAG = "hwr.ensemble_members"


def load_members(model_uris: list[str]) -> tuple[list, Charset, OwnWords | None]:
    """The Keras models behind logged hwr models, the alphabet they share, and the training words
    their lexicons knew, added up (None when none did)."""
    loaded = [load_logged_model_and_words(uri, "ensemble member") for uri in model_uris]
    charsets = {tuple(charset.chars) for _, charset, _ in loaded}
    if len(charsets) > 1:
        raise HwrError(f"the models {', '.join(model_uris)} were trained on different alphabets: "
                       f"they cannot be averaged")
    own = [words for _, _, words in loaded if words is not None]
    return [model for model, _, _ in loaded], loaded[0][1], OwnWords.merged(own) if own else None


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
    lists = [fetch_split(splits_uri, k, dest / f"split-{k}").val for k in splits]
    held_out = set.intersection(*(set(frame["path"]) for frame in lists))
    if len(held_out) >= MIN_HELD_OUT_WORDS:
        chosen = lists[0][lists[0]["path"].isin(held_out)].reset_index(drop=True)
        return chosen, f"{len(chosen)} validation words no member trained on"
    chosen = pd.concat(lists, ignore_index=True).drop_duplicates("path").reset_index(drop=True)
    return chosen, (f"{len(chosen)} validation words of any member (only {len(held_out)} held out by every member, "
                    f"under {MIN_HELD_OUT_WORDS}): confidence may run high on new writers")


def log_ensemble(children: list, splits_uri: str, test: pd.DataFrame, data_dir: Path, tmp: Path) -> ScoredModel:
    """The ensemble of `children` (finished training runs) as the hwr pyfunc, logged in the active
    run as a train run logs its model: calibrated (on the words calibration_words chooses) and
    scored on the prepare run's `test` words (path, text) with every decoder."""
    members = [run.info.run_id for run in children]
    log.info(f"ensemble of {len(members)} models: {', '.join(members)}")
    models, charset, own = load_members([run.data.tags[MODEL_URI_TAG] for run in children])
    model = build_ensemble(models)
    width = model.input_shape[2]
    splits = [int(run.data.tags.get(SPLIT_TAG, 0)) for run in children]
    chosen, described = calibration_words(splits_uri, splits, tmp)
    mlflow.set_tags({"hwr.calibration_words": described, MEMBERS_TAG: ",".join(members)})
    val = words.trainable(chosen, charset, frames_for_width(width))
    if val.empty:
        raise HwrError(f"the splits {splits} of {splits_uri} have no validation word to calibrate the ensemble on")
    test_data = word_list(test, data_dir, TEST_DATASET)
    log_input(test_data, context="testing")
    scored = log_scored_model(model, charset, words.load_images(data_dir, val, width), list(val["text"]),
                              words.load_images(data_dir, test, width), list(test["text"]),
                              data_dir / test["path"].iloc[0], test_data, own,
                              unit=children[0].data.params.get("unit", "word"))
    log.info("ensemble on the test words: " + ", ".join(
        f"{decoder} CER {scored.scores['test_cer' if decoder == 'greedy' else f'test_{decoder}_cer']:.4f}"
        for decoder in scored.readings))
    return scored
