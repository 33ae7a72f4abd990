"""register: the best child of a pipeline run (or, with ensemble, all its finished children read
as one model) becomes a new version of the registered model; champion if it wins."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import mlflow
from mlflow.tracking import MlflowClient

from hwr.data.datasets import GENERAL
from hwr.pipeline.registry import DEFAULT_MODEL_NAME, MIN_GAIN, Z_ONE_SIDED_5_PERCENT, register_pipeline
from hwr.pipeline.tracking import log_params_once
from steps._cli import model_name_option, recipe_options, resolve_recipe, step, step_run, user_errors

log = logging.getLogger(__name__)


@step()
@click.option("--parent-run-id", required=True, help="The pipeline (main) run whose training children compete.")
@click.option("--splits-uri", required=True, help="The prepare run's artifacts, for the shared test list.")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False))
@model_name_option
@click.option("--dataset", default="unknown", help="A description of the training data, kept on the model version.")
@click.option("--data-family", default=GENERAL,
              help="Which data the model learnt from (the download run's hwr.data_family tag): a champion is "
                   "only replaced by a model of the same family.")
@recipe_options("register")
@user_errors
def main(parent_run_id, splits_uri, data_dir, model_name, dataset, data_family, **options):
    ensemble = resolve_recipe("register", options).ensemble
    model_name = model_name or DEFAULT_MODEL_NAME
    with step_run() as run:
        log_params_once({"parent_run_id": parent_run_id, "splits_uri": splits_uri, "data_dir": data_dir,
                         "model_name": model_name, "dataset": dataset, "data_family": data_family,
                         "ensemble": str(ensemble).lower()})
        outcome = register_pipeline(MlflowClient(), run.info.run_id, parent_run_id, splits_uri, Path(data_dir),
                                    model_name, dataset, ensemble, data_family)
        mlflow.log_metrics({"candidate_test_cer": outcome.candidate_cer, "registered_version": int(outcome.version)})
        mlflow.set_tags({"hwr.registered_version": outcome.version, "hwr.promoted": str(outcome.promoted)})
        compared = outcome.comparison
        if compared:
            mlflow.log_metrics({"champion_test_cer": compared.champion_cer, "cer_gain": compared.gain,
                                "cer_gain_standard_error": compared.standard_error})
        if outcome.promoted:
            verdict = f"is now {model_name}@champion"
            if compared:
                verdict += f" (CER {compared.gain:.4f} lower than the champion's, standard error {compared.standard_error:.4f})"
        elif outcome.held_back:
            verdict = f"tagged challenger, the alias left alone: {outcome.held_back}"
        elif compared:
            verdict = (f"tagged challenger: CER {compared.candidate_cer:.4f} against the champion's "
                       f"{compared.champion_cer:.4f}, a gain below the promotion rule's "
                       f"max({MIN_GAIN}, {Z_ONE_SIDED_5_PERCENT} x standard error {compared.standard_error:.4f})")
        else:
            verdict = "tagged challenger: the alias kept moving while it was compared"
        log.info(f"model registered: {model_name} version {outcome.version} from run {outcome.run_id}, "
                 f"test CER {outcome.candidate_cer:.4f}, {verdict}")


if __name__ == "__main__":
    main()
