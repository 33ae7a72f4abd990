"""register: the best child of a pipeline run (or, with --ensemble, all its finished children read
as one model) becomes a new version of `hwr`; champion if it wins."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from hwr.pipeline import progress
from hwr.pipeline.registry import finished_children, register_best, register_candidate
from hwr.data.splits import fetch_test_list
from hwr.pipeline.tracking import log_params_once
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
@click.option("--ensemble", type=click.BOOL, default=False, show_default=True,
              help="Register every finished child as one model that averages their outputs, not the best one alone.")
@user_errors
def main(parent_run_id, splits_uri, data_dir, model_name, dataset, ensemble):
    with step_run() as run:
        log_params_once({"parent_run_id": parent_run_id, "splits_uri": splits_uri, "data_dir": data_dir,
                         "model_name": model_name, "dataset": dataset, "ensemble": ensemble})
        client, labelled_test = MlflowClient(), test_images(splits_uri, data_dir)
        children = finished_children(client, parent_run_id) if ensemble else []
        if len(children) >= 2:
            outcome = register_ensemble(client, run.info.run_id, parent_run_id, children, splits_uri,
                                        Path(data_dir), labelled_test, model_name, dataset)
        else:
            if ensemble:
                progress.say("ensemble asked for, but one split finished: registering it alone")
            outcome = register_best(client, parent_run_id, labelled_test, model_name, dataset)
        mlflow.log_metrics({"candidate_test_cer": outcome.candidate_cer, "registered_version": int(outcome.version)})
        mlflow.set_tags({"hwr.registered_version": outcome.version, "hwr.promoted": str(outcome.promoted)})
        if outcome.champion_cer is not None:
            mlflow.log_metric("champion_test_cer", outcome.champion_cer)
        verdict = (f"is now {model_name}@champion" if outcome.promoted
                   else f"tagged challenger (champion keeps CER {outcome.champion_cer:.4f})")
        progress.say(f"model registered: {model_name} version {outcome.version} from run {outcome.run_id}, "
                     f"test CER {outcome.candidate_cer:.4f}, {verdict}")


def register_ensemble(client, run_id, parent_run_id, children, splits_uri, data_dir, labelled_test, model_name,
                      dataset):
    """Log the children's ensemble in this run, score it on the test words with every decoder
    (as a train run scores its model), and register it."""
    from hwr.model import ensemble
    from hwr.evaluation import scoring as evaluation
    from hwr.decoding.decode import DECODERS

    members = [child.info.run_id for child in children]
    progress.say(f"ensemble of {len(members)} models: {', '.join(members)}")
    with tempfile.TemporaryDirectory() as tmp:
        info = ensemble.log_ensemble(children, splits_uri, data_dir, Path(tmp))
    scores, _ = evaluation.evaluate(mlflow.pyfunc.load_model(info.model_uri), labelled_test, decoders=DECODERS)
    mlflow.log_metrics({f"test_{name}": value for name, value in scores.items()})
    mlflow.set_tag("hwr.ensemble_members", ",".join(members))
    progress.say("ensemble on the test words: " + ", ".join(f"{d} CER {scores[f'{d}_cer']:.4f}" for d in DECODERS))
    tags = {"source_run": run_id, "parent_run": parent_run_id, "dataset": dataset, "members": ",".join(members),
            "test_cer": f"{scores['cer']:.4f}", "test_wer": f"{scores['wer']:.4f}"}
    description = (f"Ensemble of the {len(members)} CRNNs trained by pipeline run {parent_run_id} on "
                   f"{dataset or 'unknown data'} (runs {', '.join(members)}), their per-frame log-probabilities "
                   f"averaged: test CER {scores['cer']:.4f} greedy, {scores['hybrid_cer']:.4f} hybrid.")
    # Its greedy CER on these test words is measured above: the registry need not read them again.
    return register_candidate(client, info.model_uri, run_id, labelled_test, model_name, tags, description,
                              candidate_cer=scores["cer"])


if __name__ == "__main__":
    main()
