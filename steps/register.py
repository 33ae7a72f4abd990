"""register: the best child of a pipeline run becomes a new version of `hwr`; champion if it wins."""

from __future__ import annotations

from pathlib import Path

import click
import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from hwr import progress
from hwr.registry import register_best
from hwr.splits import fetch_test_list
from hwr.tracking import log_params_once
from steps._cli import step_run, user_errors


def test_images(splits_uri: str, data_dir: str) -> pd.DataFrame:
    test = fetch_test_list(splits_uri)
    return pd.DataFrame({"file": [str(Path(data_dir) / p) for p in test["path"]], "text": test["text"]})


@click.command()
@click.option("--parent-run-id", required=True, help="The pipeline (main) run whose training children compete.")
@click.option("--splits-uri", required=True, help="The prepare run's artifacts, for the shared test list.")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--model-name", default="hwr", show_default=True)
@click.option("--dataset", default="unknown", show_default=True, help="A description of the training data, kept on the model version.")
@user_errors
def main(parent_run_id, splits_uri, data_dir, model_name, dataset):
    with step_run():
        log_params_once({"parent_run_id": parent_run_id, "splits_uri": splits_uri, "data_dir": data_dir,
                         "model_name": model_name, "dataset": dataset})
        outcome = register_best(MlflowClient(), parent_run_id, test_images(splits_uri, data_dir), model_name, dataset)
        mlflow.log_metrics({"candidate_test_cer": outcome.candidate_cer, "registered_version": int(outcome.version)})
        mlflow.set_tags({"hwr.registered_version": outcome.version, "hwr.promoted": str(outcome.promoted)})
        if outcome.champion_cer is not None:
            mlflow.log_metric("champion_test_cer", outcome.champion_cer)
        verdict = (f"is now {model_name}@champion" if outcome.promoted
                   else f"tagged challenger (champion keeps CER {outcome.champion_cer:.4f})")
        progress.say(f"model registered: {model_name} version {outcome.version} from run {outcome.run_id}, "
                     f"test CER {outcome.candidate_cer:.4f}, {verdict}")


if __name__ == "__main__":
    main()
