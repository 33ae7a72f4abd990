"""train: one split — cached images, per-epoch metrics, best weights, test metrics, plots, pyfunc model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
import mlflow

from hwr.pipeline import progress
from hwr.errors import DataError
from hwr.data.images import IMAGE_HEIGHT, IMAGE_WIDTH
from hwr.model.variants import MODELS
from hwr.pipeline.registry import MODEL_URI_TAG
from hwr.pipeline.tracking import log_params_once
from hwr.training.loop import Recipe
from steps._cli import check_erase, check_image_width, positive, step_run, user_errors

FAIL_SPLIT_ENV = "HWR_TEST_FAIL_SPLIT"  # tests set it to make one split fail on purpose


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
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=0, show_default=True,
              help="Validate and keep an exponential moving average of the weights with this momentum "
                   "(e.g. 0.999); 0 = off.")
@click.option("--mix-data-dir", default="none", show_default=True,
              help="A second data folder (e.g. a synthetic set the download step made) to draw training words from.")
@click.option("--mix-fraction", type=click.FloatRange(0, 1, max_open=True), default=0, show_default=True,
              help="Share of each training batch drawn from --mix-data-dir; 0 = off.")
@click.option("--image-width", type=int, default=IMAGE_WIDTH, show_default=True, callback=check_image_width,
              help=f"Width of the canvas words are scaled into ({IMAGE_HEIGHT} pixels high): wider squeezes long "
                   f"words less and gives them more frames (width // 4); keras_example keeps {IMAGE_WIDTH}.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Decoupled weight decay (AdamW) of the kernels, e.g. 0.05; 0 = plain Adam.")
@click.option("--erase", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="With --augment: chance of each of 3 small paper patches hiding part of a word; 0 = off.")
@click.option("--conv-dropout", type=click.FloatRange(0, 1, max_open=True), default=Recipe.conv_dropout,
              show_default=True, help="Dropout after every conv block from the third on (compact, crnn).")
@click.option("--rnn-dropout", type=click.FloatRange(0, 1, max_open=True), default=Recipe.rnn_dropout,
              show_default=True, help="Dropout before and after the recurrent layers (compact, crnn).")
@user_errors
def main(splits_uri, data_dir, split, epochs, batch_size, learning_rate, seed, threads, model_name, augment,
         schedule, patience, max_minutes, init_model, ema, mix_data_dir, mix_fraction, image_width,
         weight_decay, erase, conv_dropout, rnn_dropout):
    check_erase(erase, augment, model_name)
    from hwr.runtime import limit_threads

    limit_threads(threads)
    from hwr.data import images
    from hwr.serving import packaging
    from hwr.evaluation import plots
    from hwr.training import loop as training
    from hwr.decoding.calibration import fit as fit_calibration
    from hwr.decoding.decode import DecoderSettings
    from hwr.evaluation.scoring import score_decoders
    from hwr.decoding.recognizer import Recognizer
    from hwr.model.variants import frames_for_width
    from hwr.data.splits import VOCAB_ARTIFACT, fetch_split
    from hwr.model.transfer import initializer

    with step_run() as run, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipe = Recipe(model=model_name, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                        augment=augment, schedule=schedule, patience=patience, max_minutes=max_minutes,
                        ema=ema, mix_fraction=mix_fraction, image_width=image_width,
                        weight_decay=weight_decay, erase=erase, conv_dropout=conv_dropout,
                        rnn_dropout=rnn_dropout, seed=seed).effective()
        if recipe.mix_fraction and mix_data_dir == "none":
            raise DataError(f"--mix-fraction {mix_fraction} needs --mix-data-dir: the folder to draw those words from")
        params = {"splits_uri": splits_uri, "data_dir": data_dir, "split": split, "epochs": epochs,
                  "batch_size": batch_size, "learning_rate": recipe.learning_rate, "seed": seed, "threads": threads,
                  "model": model_name, "augment": recipe.augment, "schedule": recipe.schedule,
                  "patience": patience, "max_minutes": max_minutes, "init_model": init_model, "ema": recipe.ema,
                  "mix_data_dir": mix_data_dir, "mix_fraction": recipe.mix_fraction,
                  "image_width": recipe.image_width, "weight_decay": recipe.weight_decay, "erase": recipe.erase,
                  "conv_dropout": recipe.conv_dropout, "rnn_dropout": recipe.rnn_dropout}
        log_params_once(params)
        # mlflow run logs the parameters as given; keras_example overrides some: record what trained.
        mlflow.set_tag("hwr.recipe", f"model={recipe.model} augment={recipe.augment} schedule={recipe.schedule} "
                                     f"learning_rate={recipe.learning_rate} ema={recipe.ema} "
                                     f"mix_fraction={recipe.mix_fraction} image_width={recipe.image_width} "
                                     f"weight_decay={recipe.weight_decay} erase={recipe.erase} "
                                     f"conv_dropout={recipe.conv_dropout} rnn_dropout={recipe.rnn_dropout}")
        mlflow.set_tag("hwr.split", split)
        if os.environ.get(FAIL_SPLIT_ENV) == str(split):
            raise RuntimeError(f"failure injected for split {split} by {FAIL_SPLIT_ENV} (a test-only switch)")
        prepared = fetch_split(splits_uri, split, tmp / "prepared")
        charset, test_list = prepared.charset, prepared.test
        width = recipe.image_width
        frames = frames_for_width(width)
        train_ok = training.trainable(prepared.train, charset, frames)
        val_ok = training.trainable(prepared.val, charset, frames)
        if len(train_ok) == 0 or len(val_ok) == 0:
            raise DataError(f"split {split}: no trainable words left (labels too long for {frames} frames?)")
        mlflow.log_metrics({"train_words": len(train_ok), "val_words": len(val_ok), "test_words": len(test_list),
                            "train_words_dropped": len(prepared.train) - len(train_ok)})

        progress.say(f"split {split}: loading {len(train_ok) + len(val_ok) + len(test_list)} images")
        data = Path(data_dir)
        x_train, x_val, x_test = (training.load_images(data, f, width) for f in (train_ok, val_ok, test_list))
        mix = training.load_mix(Path(mix_data_dir), charset, width) if recipe.mix_fraction else None
        if mix is not None:
            mlflow.log_metric("mix_words", len(mix[1]))

        def report(epoch):
            mlflow.log_metrics({"train_loss": epoch.train_loss, "val_loss": epoch.val_loss,
                                "val_cer": epoch.val_cer, "val_wer": epoch.val_wer,
                                "learning_rate": epoch.learning_rate, "train_minutes": epoch.minutes},
                               step=epoch.epoch)
            progress.say(f"epoch {epoch.epoch} of {epochs} complete for split {split}: "
                         f"val_cer={epoch.val_cer:.4f} val_loss={epoch.val_loss:.3f} ({epoch.minutes:.1f} min)")

        result = training.train(x_train, list(train_ok["text"]), x_val, list(val_ok["text"]), charset, recipe,
                                init=initializer(init_model, charset), on_epoch=report, mix=mix)
        mlflow.set_tag("hwr.stopped_because", result.stopped_because)

        # Confidence calibration for every decoder, fitted on the validation words with today's
        # decoder settings, which the logged model keeps (and the run shows beside its scores).
        settings = DecoderSettings()
        mlflow.log_params({f"decoder_{name}": value for name, value in settings.to_dict().items()})
        recognizer = Recognizer(result.model, charset, settings=settings)
        calibration = fit_calibration(recognizer.logits(x_val), list(val_ok["text"]), charset, settings=settings)
        recognizer.calibration = calibration
        for decoder, entry in calibration["decoders"].items():
            mlflow.log_metrics({f"val_{decoder}_ece": entry["ece"],
                                f"val_{decoder}_ece_uncalibrated": entry["ece_uncalibrated"]})

        truths = list(test_list["text"])
        test_scores, read = score_decoders(recognizer, x_test, truths)
        mlflow.log_metrics({"best_val_cer": result.best.val_cer, "best_epoch": result.best_epoch, **test_scores})

        for figure in plots.training_figures(result.history, x_test, truths, read["greedy"], tmp):
            mlflow.log_artifact(str(figure), artifact_path="plots")
        charset.save(tmp / VOCAB_ARTIFACT)
        mlflow.log_artifact(str(tmp / VOCAB_ARTIFACT))

        example = images.encode_png_base64(data / test_list["path"].iloc[0])
        info = packaging.log_model(result.model, charset, example, calibration=calibration, settings=settings)
        mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
        progress.say(f"split {split} done: test CER greedy {test_scores['test_cer']:.4f}, "
                     f"beam {test_scores['test_beam_cer']:.4f}, lexicon {test_scores['test_lexicon_cer']:.4f}, "
                     f"hybrid {test_scores['test_hybrid_cer']:.4f} (run {run.info.run_id})")


if __name__ == "__main__":
    main()
