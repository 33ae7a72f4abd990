"""evaluate: a model on a labelled folder (labels.tsv or IAM layout): CER, WER, word accuracy, predictions."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import mlflow

from hwr import evaluation, progress
from hwr.tracking import log_params_once
from steps._cli import step_run, user_errors


@click.command()
@click.option("--model-uri", default="models:/hwr@champion", show_default=True)
@click.option("--data", required=True, type=click.Path(file_okay=False),
              help="Folder with labels.tsv (columns file, text) or an IAM-layout words.txt.")
@click.option("--case-sensitive", type=click.BOOL, default=True, show_default=True,
              help="false compares case-insensitively (for sets labelled in capitals).")
@user_errors
def main(model_uri, data, case_sensitive):
    labelled = evaluation.read_labelled_folder(Path(data))  # fails clearly before the model loads
    with step_run(), tempfile.TemporaryDirectory() as tmp:
        log_params_once({"model_uri": model_uri, "data": data, "case_sensitive": case_sensitive})
        model = mlflow.pyfunc.load_model(model_uri)
        scores, table = evaluation.evaluate(model, labelled, case_sensitive)
        mlflow.log_metrics(scores)
        table.to_csv(Path(tmp) / "predictions.csv", index=False)
        mlflow.log_artifact(str(Path(tmp) / "predictions.csv"))
        progress.say(f"evaluate: {int(scores['images'])} images, CER {scores['cer']:.4f}, WER {scores['wer']:.4f}, "
                     f"word accuracy {scores['word_accuracy']:.4f}")


if __name__ == "__main__":
    main()
