"""train: one split — cached images, per-epoch metrics, best weights, test metrics, plots, pyfunc model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
import mlflow

from hwr import progress
from hwr.errors import DataError
from hwr.model import MODELS
from hwr.training import Recipe
from hwr.registry import MODEL_URI_TAG
from hwr.tracking import log_params_once
from steps._cli import positive, step_run, user_errors

FAIL_SPLIT_ENV = "HWR_TEST_FAIL_SPLIT"  # tests set it to make one split fail on purpose


def fetch_split(splits_uri: str, split: int, dest: Path):
    """The prepare run's vocabulary, this split's train/val lists and the shared test list."""
    from hwr.charset import Charset
    from hwr.splits import read_list

    dest.mkdir(parents=True, exist_ok=True)
    try:
        for name in ("splits", "vocab.json"):
            mlflow.artifacts.download_artifacts(artifact_uri=f"{splits_uri.rstrip('/')}/{name}", dst_path=str(dest))
    except Exception as exc:  # MLflow raises several types for a missing artifact
        raise DataError(f"cannot fetch the prepared splits {splits_uri}: {exc}") from None
    root = dest
    folder = root / "splits" / f"split-{split}"
    if not folder.is_dir():
        available = sorted(p.name for p in (root / "splits").glob("split-*"))
        raise DataError(f"{splits_uri} has no split {split} (it has: {', '.join(available) or 'none'})")
    return (Charset.load(root / "vocab.json"), read_list(folder / "train.csv"), read_list(folder / "val.csv"),
            read_list(root / "splits" / "test.csv"))


def initializer(init_model: str, charset):
    """A function that copies init_model's weights into the new model, or None to start from scratch."""
    if init_model == "none":
        return None
    from hwr import transfer

    source, source_charset = transfer.load_logged_model(init_model)

    def init(model):
        counts = transfer.copy_weights(source, source_charset, model, charset)
        mlflow.log_metrics({"init_layers_copied": counts["layers"], "init_shared_chars": counts["shared_chars"]})
        progress.say(f"init_model {init_model}: {counts['layers']} layers and {counts['shared_chars']} of "
                     f"{len(charset.chars)} characters copied")

    return init


@click.command()
@click.option("--splits-uri", required=True, help="The prepare run's artifacts: runs:/<prepare run id>.")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The IAM-layout folder the download step made.")
@click.option("--split", type=int, default=0, show_default=True)
@click.option("--epochs", type=int, default=5, show_default=True, callback=positive("epochs"))
@click.option("--batch-size", type=int, default=32, show_default=True, callback=positive("batch_size"))
@click.option("--learning-rate", type=float, default=1e-3, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--threads", type=int, default=0, show_default=True, help="CPU threads for TensorFlow; 0 = all.")
@click.option("--model", "model_name", type=click.Choice(MODELS), default="compact", show_default=True,
              help="compact (quick start), crnn (stronger, for real handwriting), keras_example (the public recipe).")
@click.option("--augment", type=click.BOOL, default=False, show_default=True,
              help="Random slant, rotation, scale, elastic distortion, stroke width, contrast and noise.")
@click.option("--schedule", type=click.Choice(Recipe.SCHEDULES), default="constant", show_default=True)
@click.option("--patience", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many epochs without a better val_cer; 0 = never.")
@click.option("--max-minutes", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Training time budget in minutes; 0 = no limit.")
@click.option("--init-model", default="none", show_default=True,
              help="Start from this hwr model's weights (models:/NAME@ALIAS, runs:/ID/model); none = from scratch.")
@user_errors
def main(splits_uri, data_dir, split, epochs, batch_size, learning_rate, seed, threads, model_name, augment,
         schedule, patience, max_minutes, init_model):
    from hwr.runtime import limit_threads

    limit_threads(threads)
    from hwr import images, metrics, packaging, plots, training
    from hwr.calibration import fit as fit_calibration
    from hwr.decode import DECODERS
    from hwr.inference import Recognizer
    from hwr.model import frames_for_width

    with step_run() as run, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipe = Recipe(model=model_name, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                        augment=augment, schedule=schedule, patience=patience, max_minutes=max_minutes,
                        seed=seed).effective()
        params = {"splits_uri": splits_uri, "data_dir": data_dir, "split": split, "epochs": epochs,
                  "batch_size": batch_size, "learning_rate": recipe.learning_rate, "seed": seed, "threads": threads,
                  "model": model_name, "augment": recipe.augment, "schedule": recipe.schedule,
                  "patience": patience, "max_minutes": max_minutes, "init_model": init_model}
        log_params_once(params)
        # mlflow run logs the parameters as given; keras_example overrides some: record what trained.
        mlflow.set_tag("hwr.recipe", f"model={recipe.model} augment={recipe.augment} schedule={recipe.schedule} "
                                     f"learning_rate={recipe.learning_rate}")
        mlflow.set_tag("hwr.split", split)
        if os.environ.get(FAIL_SPLIT_ENV) == str(split):
            raise RuntimeError(f"failure injected for split {split} by {FAIL_SPLIT_ENV} (a test-only switch)")
        charset, train_list, val_list, test_list = fetch_split(splits_uri, split, tmp / "prepared")
        frames = frames_for_width(images.IMAGE_WIDTH)
        train_ok = training.trainable(train_list, charset, frames)
        val_ok = training.trainable(val_list, charset, frames)
        if len(train_ok) == 0 or len(val_ok) == 0:
            raise DataError(f"split {split}: no trainable words left (labels too long for {frames} frames?)")
        mlflow.log_metrics({"train_words": len(train_ok), "val_words": len(val_ok), "test_words": len(test_list),
                            "train_words_dropped": len(train_list) - len(train_ok)})

        progress.say(f"split {split}: loading {len(train_ok) + len(val_ok) + len(test_list)} images")
        data = Path(data_dir)
        x_train, x_val, x_test = (training.load_images(data, f) for f in (train_ok, val_ok, test_list))

        def report(epoch):
            mlflow.log_metrics({"train_loss": epoch.train_loss, "val_loss": epoch.val_loss,
                                "val_cer": epoch.val_cer, "val_wer": epoch.val_wer,
                                "learning_rate": epoch.learning_rate, "train_minutes": epoch.minutes},
                               step=epoch.epoch)
            progress.say(f"epoch {epoch.epoch} of {epochs} complete for split {split}: "
                         f"val_cer={epoch.val_cer:.4f} val_loss={epoch.val_loss:.3f} ({epoch.minutes:.1f} min)")

        result = training.train(x_train, list(train_ok["text"]), x_val, list(val_ok["text"]), charset, recipe,
                                init=initializer(init_model, charset), on_epoch=report)
        mlflow.set_tag("hwr.stopped_because", result.stopped_because)

        # Confidence calibration for every decoder, fitted on the validation words.
        recognizer = Recognizer(result.model, charset)
        calibration = fit_calibration(recognizer.logits(x_val), list(val_ok["text"]), charset)
        recognizer.calibration = calibration
        for decoder, entry in calibration["decoders"].items():
            mlflow.log_metrics({f"val_{decoder}_ece": entry["ece"],
                                f"val_{decoder}_ece_uncalibrated": entry["ece_uncalibrated"]})

        truths = list(test_list["text"])
        test_logits = recognizer.logits(x_test)
        test_scores, read = {}, {}
        for decoder in DECODERS:
            texts = read[decoder] = [text for text, _ in recognizer.recognize_logits(test_logits, decoder)]
            prefix = "test" if decoder == "greedy" else f"test_{decoder}"
            test_scores.update({f"{prefix}_cer": metrics.cer(truths, texts), f"{prefix}_wer": metrics.wer(truths, texts),
                                f"{prefix}_word_accuracy": metrics.word_accuracy(truths, texts)})
        predicted = read["greedy"]
        test_cer = test_scores["test_cer"]
        mlflow.log_metrics({"best_val_cer": result.best.val_cer, "best_epoch": result.best_epoch, **test_scores})

        epochs_seen = [e.epoch for e in result.history]
        plots.loss_curves(epochs_seen, [e.train_loss for e in result.history], [e.val_loss for e in result.history],
                          tmp / "loss.png")
        plots.cer_curve(epochs_seen, [e.val_cer for e in result.history], tmp / "cer.png")
        plots.prediction_gallery(x_test[:16], truths[:16], predicted[:16], tmp / "test_gallery.png")
        charset.save(tmp / "vocab.json")
        for name in ("loss.png", "cer.png", "test_gallery.png", "vocab.json"):
            mlflow.log_artifact(str(tmp / name), artifact_path="plots" if name.endswith(".png") else None)

        example = images.encode_png_base64(data / test_list["path"].iloc[0])
        info = packaging.log_model(result.model, charset, example, calibration=calibration)
        mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
        progress.say(f"split {split} done: test CER greedy {test_cer:.4f}, beam {test_scores['test_beam_cer']:.4f}, "
                     f"lexicon {test_scores['test_lexicon_cer']:.4f} (run {run.info.run_id})")


if __name__ == "__main__":
    main()
