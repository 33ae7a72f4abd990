"""Registering what a pipeline run trained, and deciding who holds the `champion` alias."""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ErrorCode, RESOURCE_DOES_NOT_EXIST
from mlflow.tracking import MlflowClient

from hwr.data import datasets
from hwr.errors import HwrError
from hwr.evaluation import metrics, scoring
from hwr.pipeline.artifacts import fetch_test_list
from hwr.pipeline.ensemble import log_ensemble
from hwr.pipeline.tracking import DATA_FAMILY_TAG, MODEL_URI_TAG, SPLIT_TAG, child_runs

log = logging.getLogger(__name__)
CHAMPION = "champion"
CHALLENGER_TAG = "challenger"
HELD_BACK_TAG = "hwr.held_back"  # on a version: why it did not compete for the champion alias
DEFAULT_MODEL_NAME = "hwr"
# A candidate replaces the champion only when it reads the same test words better by more than
# chance: a one-sided paired z-test at 5 % on the per-word edit differences, and at least
# MIN_GAIN of CER, so that two equal models do not swap the alias back and forth on noise.
Z_ONE_SIDED_5_PERCENT = 1.645
MIN_GAIN = 0.001
# How often the alias is re-read and the comparison redone when another register moved it meanwhile.
ALIAS_RETRIES = 3


def model_name_for(model_name: str | None, dataset: str, data: str | None, unit: str = "word") -> str:
    """The registered model a pipeline's model joins: the name given, else hwr for synthetic and
    IAM words (hwr-line for their lines), hwr-<folder name> for a user's folder, so no one's own
    data lands in hwr by default."""
    if model_name:
        return model_name
    if dataset == "folder" and data:
        return f"{DEFAULT_MODEL_NAME}-{datasets.name_of(data)}"
    return DEFAULT_MODEL_NAME if unit == "word" else f"{DEFAULT_MODEL_NAME}-{unit}"


@dataclass
class Outcome:
    version: str
    run_id: str
    promoted: bool
    candidate_cer: float
    comparison: Comparison | None  # None when there was no champion, or it was not compared
    held_back: str | None = None  # why it did not compete: its champion learnt from other data


def finished_children(client: MlflowClient, parent_run_id: str) -> list:
    """The parent's training runs that finished with a validated, logged model, by split number."""
    finished = [
        r for r in child_runs(client, parent_run_id)
        if r.info.status == "FINISHED" and "best_val_cer" in r.data.metrics and MODEL_URI_TAG in r.data.tags
    ]
    if not finished:
        raise HwrError(f"run {parent_run_id} has no finished training child with a model: nothing to register")
    return sorted(finished, key=lambda r: int(r.data.tags.get(SPLIT_TAG, 0)))


def best_child(client: MlflowClient, parent_run_id: str):
    """The finished child training run with the lowest best_val_cer (ties: lower split number)."""
    return min(finished_children(client, parent_run_id), key=lambda r: r.data.metrics["best_val_cer"])


def current_champion(client: MlflowClient, name: str):
    """The version `name`@champion points at, or None when the model or the alias does not exist.
    Anything else (a server that answers 403 or 500, a timeout) raises: promoting a candidate
    unchecked because the registry could not be read would be worse than stopping."""
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise _unreadable(name, exc) from exc
    version = model.aliases.get(CHAMPION)
    if version is None:
        return None
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        raise _unreadable(name, exc) from exc


def _unreadable(name: str, exc: MlflowException) -> HwrError:
    return HwrError(f"cannot read {name}@{CHAMPION} from the model registry ({exc.error_code}: {exc.message}); "
                    f"the alias was left as it was. Check the tracking server and your credentials, then run "
                    f"register again.")


@dataclass(frozen=True)
class Comparison:
    """The candidate's and the champion's greedy CER on the same test words, and the standard
    error of their difference (paired word by word)."""
    candidate_cer: float
    champion_cer: float
    standard_error: float

    @property
    def gain(self) -> float:
        return self.champion_cer - self.candidate_cer

    @property
    def wins(self) -> bool:
        return self.gain >= max(MIN_GAIN, Z_ONE_SIDED_5_PERCENT * self.standard_error)


def compare(truths: list[str], candidate: list[str], champion: list[str]) -> Comparison:
    """Paired: each word's edits by the candidate minus the champion's; CER is total edits over
    total characters, so its difference's standard error is sqrt(n * var(d)) / characters."""
    characters = max(1, sum(len(t) for t in truths))
    ours = np.array(metrics.character_edits(truths, candidate), dtype=float)
    theirs = np.array(metrics.character_edits(truths, champion), dtype=float)
    spread = math.sqrt(len(ours) * np.var(ours - theirs, ddof=1)) / characters if len(ours) > 1 else math.inf
    return Comparison(float(ours.sum() / characters), float(theirs.sum() / characters), spread)


def _read(model_uri: str, labelled: pd.DataFrame) -> list[str]:
    """Greedy readings of the labelled images by the model at `model_uri`."""
    _, table = scoring.evaluate(mlflow.pyfunc.load_model(model_uri), labelled)
    return list(table["prediction"])


def _champion_reads(client: MlflowClient, name: str, champion, labelled_test: pd.DataFrame) -> list[str]:
    """The champion's readings of the candidate's test images; refuses a champion that is gone."""
    try:
        lifecycle = client.get_run(champion.run_id).info.lifecycle_stage if champion.run_id else "active"
    except MlflowException:
        lifecycle = "deleted"
    problem = f"its source run {champion.run_id} was deleted" if lifecycle == "deleted" else None
    if problem is None:
        try:
            return _read(f"models:/{name}/{champion.version}", labelled_test)
        except Exception as exc:  # any load or predict failure means it cannot be compared
            problem = f"it cannot be loaded ({type(exc).__name__}: {exc})"
    raise HwrError(
        f"the current champion, {name} version {champion.version}, cannot be compared: {problem}. Nothing was "
        f"registered and the alias was left as it was; point it at a working version "
        f"(MlflowClient().set_registered_model_alias({name!r}, {CHAMPION!r}, VERSION)) or delete it, then run "
        f"register again."
    )


def register_best(client: MlflowClient, parent_run_id: str, labelled_test: pd.DataFrame, name: str,
                  dataset: str = "", family: str = datasets.GENERAL) -> Outcome:
    """Register the best child as a new version of `name`; it becomes champion only if it beats the
    current champion on `labelled_test` (the same images for both), else it is tagged challenger."""
    run = best_child(client, parent_run_id)
    metrics = run.data.metrics
    tags = {"source_run": run.info.run_id, "parent_run": parent_run_id, "dataset": dataset,
            "best_val_cer": f"{metrics['best_val_cer']:.4f}", "test_cer": f"{metrics.get('test_cer', float('nan')):.4f}",
            "test_wer": f"{metrics.get('test_wer', float('nan')):.4f}"}
    description = (
        f"CRNN trained by run {run.info.run_id} (split {run.data.tags.get(SPLIT_TAG, '?')}) of pipeline run "
        f"{parent_run_id} on {dataset or 'unknown data'}: val CER {metrics['best_val_cer']:.4f}, "
        f"test CER {metrics.get('test_cer', float('nan')):.4f}."
    )
    return register_candidate(client, run.data.tags[MODEL_URI_TAG], run.info.run_id, labelled_test, name, tags,
                              description, family=family)


def held_back(name: str, champion, family: str) -> str | None:
    """Why a candidate learnt from `family` may not replace `champion`: it learnt from other data
    (versions from before families were recorded learnt from synthetic or IAM words)."""
    held = champion.tags.get(DATA_FAMILY_TAG, datasets.GENERAL)
    if held == family:
        return None
    return (f"{name}@{CHAMPION} (version {champion.version}) learnt from {held}, this model from {family}: "
            f"a champion is only replaced from the same data. To make it the champion on purpose: "
            f"MlflowClient().set_registered_model_alias({name!r}, {CHAMPION!r}, VERSION)")


def register_candidate(client: MlflowClient, model_uri: str, source_run_id: str, labelled_test: pd.DataFrame,
                       name: str, tags: dict[str, str], description: str, candidate_texts: list[str] | None = None,
                       family: str = datasets.GENERAL) -> Outcome:
    """Register the logged model at `model_uri` as a new version of `name`, champion only if it reads
    `labelled_test` better than the current champion does, beyond noise (`Comparison.wins`), and
    learnt from the same data family; else it is tagged challenger. `candidate_texts`: its greedy
    readings of `labelled_test` when the caller has just made them."""
    champion = current_champion(client, name)
    reason = held_back(name, champion, family) if champion else None
    # The champion is read before anything is registered, so a failure changes nothing.
    champion_texts = _champion_reads(client, name, champion, labelled_test) if champion and not reason else None
    version = mlflow.register_model(model_uri, name, tags={**tags, DATA_FAMILY_TAG: family}).version
    client.update_model_version(name, version, description=description)
    if candidate_texts is None:
        candidate_texts = _read(f"models:/{name}/{version}", labelled_test)
    truths = list(labelled_test["text"])
    comparison, promoted = None, False
    for _ in range(ALIAS_RETRIES):
        if reason:
            break
        comparison = compare(truths, candidate_texts, champion_texts) if champion else None
        if comparison and not comparison.wins:
            break
        # Re-read just before moving it: another register may have promoted a version meanwhile.
        now = current_champion(client, name)
        if (now and now.version) == (champion and champion.version):
            client.set_registered_model_alias(name, CHAMPION, version)
            promoted = True
            break
        champion = now
        reason = held_back(name, champion, family) if champion else None
        champion_texts = _champion_reads(client, name, champion, labelled_test) if champion and not reason else None
    else:
        log.warning(f"{name}@{CHAMPION} moved {ALIAS_RETRIES} times while version {version} was compared with it: "
                    f"left as it is, version {version} tagged challenger")
    candidate_cer = comparison.candidate_cer if comparison else metrics.cer(truths, candidate_texts)
    client.set_model_version_tag(name, version, "eval_cer", f"{candidate_cer:.4f}")
    if not promoted:
        client.set_model_version_tag(name, version, CHALLENGER_TAG, "true")
    if reason:
        client.set_model_version_tag(name, version, HELD_BACK_TAG, reason)
    return Outcome(str(version), source_run_id, promoted, candidate_cer, comparison, reason)


def test_images(test: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """The prepare run's shared test list (path, text) as labelled files (file, text)."""
    return pd.DataFrame({"file": [str(data_dir / p) for p in test["path"]], "text": test["text"]})


def register_pipeline(client: MlflowClient, run_id: str, parent_run_id: str, splits_uri: str, data_dir: Path,
                      name: str, dataset: str, ensemble: bool, family: str = datasets.GENERAL) -> Outcome:
    """The register step, in run `run_id`: the best child of the pipeline run, or with `ensemble`
    all its finished children logged here as one model, becomes a new version of `name`."""
    test = fetch_test_list(splits_uri)
    labelled_test = test_images(test, data_dir)
    children = finished_children(client, parent_run_id) if ensemble else []
    if len(children) < 2:
        if ensemble:
            log.info("ensemble asked for, but one split finished: registering it alone")
        return register_best(client, parent_run_id, labelled_test, name, dataset, family)
    members = [child.info.run_id for child in children]
    with tempfile.TemporaryDirectory() as tmp:
        scored = log_ensemble(children, splits_uri, test, data_dir, Path(tmp))
    s = scored.scores
    tags = {"source_run": run_id, "parent_run": parent_run_id, "dataset": dataset, "members": ",".join(members),
            "test_cer": f"{s['test_cer']:.4f}", "test_wer": f"{s['test_wer']:.4f}"}
    description = (f"Ensemble of the {len(members)} models trained by pipeline run {parent_run_id} on "
                   f"{dataset or 'unknown data'} (runs {', '.join(members)}), their per-frame log-probabilities "
                   f"averaged: test CER {s['test_cer']:.4f} greedy, {s['test_hybrid_cer']:.4f} hybrid.")
    # Its greedy readings of these test words are made: the registry need not read them again.
    return register_candidate(client, scored.info.model_uri, run_id, labelled_test, name, tags, description,
                              candidate_texts=scored.readings["greedy"], family=family)
