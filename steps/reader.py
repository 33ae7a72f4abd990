"""reader: a line model that finds the words and a word model that reads them, registered as one line model."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from mlflow.tracking import MlflowClient

from hwr.pipeline.artifacts import labelled_images
from hwr.pipeline.reader import registered_name, register_reader
from hwr.pipeline.tracking import log_params_once
from steps._cli import no_value, step, step_run, user_errors

log = logging.getLogger(__name__)


@step()
@click.option("--line-model", default="models:/hwr-line@champion", show_default=True,
              help="A model trained on lines (unit=line): it finds each line's words.")
@click.option("--word-model", default="models:/hwr@champion", show_default=True,
              help="A model trained on words: it reads each word the line model found.")
@click.option("--data", required=True, type=click.Path(file_okay=False),
              help="Labelled lines (labels.tsv or IAM layout) the reader and the champion are compared on.")
@click.option("--file-list", default="none", callback=no_value,
              help="Compare on only the images of this (path, text) CSV, paths relative to --data: for example "
                   "runs:/<prepare run>/splits/test.csv, a line pipeline's held-out test lines.")
@click.option("--model-name", default="none", callback=no_value,
              help="The registered model the reader becomes a version of; none = the line model's.")
@user_errors
def main(line_model, word_model, data, file_list, model_name):
    labelled, checked = labelled_images(Path(data), file_list)  # fails clearly before any model loads
    model_name = model_name or registered_name(line_model) or "hwr-line"
    with step_run() as run:
        log_params_once({"line_model": line_model, "word_model": word_model, "data": data,
                         "file_list": file_list or "none", "model_name": model_name})
        if checked is not None:
            log.info(f"reader: {checked.summary()}")
        outcome = register_reader(MlflowClient(), line_model, word_model, labelled, model_name, run.info.run_id)
        verdict = f"is now {model_name}@champion" if outcome.promoted else "tagged challenger"
        if outcome.held_back:
            verdict += f": {outcome.held_back}"
        elif outcome.comparison:
            verdict += f" (CER {outcome.comparison.candidate_cer:.4f}, the champion's before: " \
                       f"{outcome.comparison.champion_cer:.4f})"
        log.info(f"reader registered: {model_name} version {outcome.version}, CER {outcome.candidate_cer:.4f} "
                 f"on {len(labelled)} lines, {verdict}")


if __name__ == "__main__":
    main()
