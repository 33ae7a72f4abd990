"""One split's training run: from the prepared lists to a logged, calibrated, scored model.

The train step parses its options and calls `train_split` inside its MLflow run; `log_scored_model`
is the tail it shares with the ensemble that `register` logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np

from hwr.data import images
from hwr.data.charset import Charset
from hwr.data.splits import CHARSET_ARTIFACT
from hwr.decoding.calibration import fit as fit_calibration
from hwr.decoding.decode import DecoderSettings
from hwr.decoding.own_words import OwnWords
from hwr.decoding.recognizer import Recognizer
from hwr.errors import DataError
from hwr.evaluation import plots
from hwr.evaluation.scoring import score_decoders
from hwr.model.variants import frames_for_width
from hwr.pipeline.artifacts import fetch_split
from hwr.pipeline.init_model import initializer
from hwr.pipeline.tracking import MODEL_URI_TAG, TEST_DATASET, log_input, word_list
from hwr.serving import packaging
from hwr.training import loop, words
from hwr.training.recipe import Recipe

log = logging.getLogger(__name__)


@dataclass
class ScoredModel:
    info: object  # MLflow's ModelInfo
    scores: dict[str, float]  # test_cer, test_beam_cer, ..., as logged
    readings: dict[str, list[str]]  # each decoder's reading of the test words


def log_scored_model(model, charset: Charset, x_val: np.ndarray, val_texts: list[str], x_test: np.ndarray,
                     test_texts: list[str], example_image: Path, test_data, own: OwnWords | None = None,
                     unit: str = "word") -> ScoredModel:
    """Calibrate every decoder's confidence on the validation words, score every decoder on the
    test words, and log the model as the hwr pyfunc in the active run, with today's decoder
    settings (which the model keeps, and the run shows beside its scores). The scores are linked
    to the logged model and to `test_data`, the test words as an MLflow dataset. With `own`, the
    lexicon decoders know the training words too, here and where the model is served. With `unit`
    line, a line model: read, and served, word by word."""
    settings = DecoderSettings()
    mlflow.log_params({f"decoder_{name}": value for name, value in settings.to_dict().items()})
    lexicon = own.lexicon(charset, settings.lexicon_size) if own else None
    recognizer = Recognizer(model, charset, settings=settings, lexicon=lexicon, reads_lines=unit == "line")
    calibration = fit_calibration(recognizer.logits(x_val), val_texts, charset, settings=settings, lexicon=lexicon)
    recognizer.calibration = calibration
    for decoder, entry in calibration["decoders"].items():
        mlflow.log_metrics({f"val_{decoder}_ece": entry["ece"],
                            f"val_{decoder}_ece_uncalibrated": entry["ece_uncalibrated"]})
    scores, readings = score_decoders(recognizer, x_test, test_texts)
    info = packaging.log_model(model, charset, images.encode_png_base64(example_image), calibration=calibration,
                               settings=settings, own_words=own, unit=unit)
    mlflow.log_metrics(scores, model_id=info.model_id, dataset=test_data)
    mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
    return ScoredModel(info, scores, readings)


def train_split(splits_uri: str, data_dir: Path, split: int, recipe: Recipe, mix_data_dir: Path | None,
                tmp: Path) -> ScoredModel:
    """Train split `split` of the prepare run at `splits_uri` in the active run: per-epoch
    metrics, the best epoch's weights, test scores for every decoder, plots, the model."""
    recipe = recipe.effective()
    if recipe.mix_synthetic and mix_data_dir is None:
        raise DataError(f"mix_synthetic={recipe.mix_synthetic} needs mix_data_dir: the folder to draw those words from")
    prepared = fetch_split(splits_uri, split, tmp / "prepared")
    charset, test_list = prepared.charset, prepared.test
    width = recipe.image_width
    train_ok = words.trainable(prepared.train, charset, frames_for_width(width))
    val_ok = words.trainable(prepared.val, charset, frames_for_width(width))
    if len(train_ok) == 0 or len(val_ok) == 0:
        raise DataError(f"split {split}: no trainable words left "
                        f"(labels too long for {frames_for_width(width)} frames?)")
    mlflow.log_metrics({"train_words": len(train_ok), "val_words": len(val_ok), "test_words": len(test_list),
                        "train_words_dropped": len(prepared.train) - len(train_ok)})
    # The words this run trained, validated and was tested on, in MLflow's dataset view.
    log_input(word_list(train_ok, data_dir, f"split-{split}-training"), context="training")
    log_input(word_list(val_ok, data_dir, f"split-{split}-validation"), context="validation")
    test_data = word_list(test_list, data_dir, TEST_DATASET)
    log_input(test_data, context="testing")

    log.info(f"split {split}: loading {len(train_ok) + len(val_ok) + len(test_list)} images")
    x_train, x_val, x_test = (words.load_images(data_dir, f, width) for f in (train_ok, val_ok, test_list))
    mix = None
    if recipe.mix_synthetic:
        mix = words.load_mix(mix_data_dir, charset, width)
        mlflow.log_metric("mix_words", len(mix[1]))

    def report(epoch: loop.EpochResult) -> None:
        mlflow.log_metrics({"train_loss": epoch.train_loss, "val_loss": epoch.val_loss, "val_cer": epoch.val_cer,
                            "val_wer": epoch.val_wer, "learning_rate": epoch.learning_rate,
                            "train_minutes": epoch.minutes}, step=epoch.epoch)
        log.info(f"epoch {epoch.epoch} of {recipe.epochs} complete for split {split}: val_cer={epoch.val_cer:.4f} "
                 f"val_loss={epoch.val_loss:.3f} ({epoch.minutes:.1f} min)")

    result = loop.train(x_train, list(train_ok["text"]), x_val, list(val_ok["text"]), charset, recipe,
                        init=initializer(recipe.init_model, charset), on_epoch=report, mix=mix)
    mlflow.set_tag("hwr.stopped_because", result.stopped_because)
    mlflow.log_metrics({"best_val_cer": result.best.val_cer, "best_epoch": result.best_epoch})

    truths = list(test_list["text"])
    own = OwnWords.of(train_ok["text"], recipe.own_words) if recipe.own_words else None
    if own:
        mlflow.log_metric("own_words", len(own.counts))
    scored = log_scored_model(result.model, charset, x_val, list(val_ok["text"]), x_test, truths,
                              data_dir / test_list["path"].iloc[0], test_data, own, recipe.unit)
    for figure in plots.training_figures(result.history, x_test, truths, scored.readings["greedy"], tmp):
        mlflow.log_artifact(str(figure), artifact_path="plots")
    charset.save(tmp / CHARSET_ARTIFACT)
    mlflow.log_artifact(str(tmp / CHARSET_ARTIFACT))
    s = scored.scores
    log.info(f"split {split} done: test CER greedy {s['test_cer']:.4f}, beam {s['test_beam_cer']:.4f}, "
             f"lexicon {s['test_lexicon_cer']:.4f}, hybrid {s['test_hybrid_cer']:.4f}")
    return scored
