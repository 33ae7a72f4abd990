"""MLflow helpers shared by the steps: reusing finished step runs, finding a parent's children."""

from __future__ import annotations

import os
import socket
import tempfile
import time
import warnings
from pathlib import Path
from typing import Mapping

import mlflow
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

ENTRY_POINT_TAG = "mlflow.project.entryPoint"
PARENT_TAG = "mlflow.parentRunId"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
# Which process owns a RUNNING run, so a later pipeline can tell a live run from an orphan.
HOST_TAG = "hwr.host"
PID_TAG = "hwr.pid"
DATA_DIR_TAG = "hwr.data_dir"  # on a download run: the folder its data is in
# On a download run and on each model version: which data it was trained on (see datasets.family).
DATA_FAMILY_TAG = "hwr.data_family"
SPLIT_TAG = "hwr.split"  # on a train run: its split
MODEL_URI_TAG = "hwr.model_uri"  # on a train (or register) run: the model it logged
TEST_DATASET = "test"  # the dataset name of a pipeline's shared test words, in every run scored on them
ERROR_TAG = "hwr.error"  # why a step's run failed, for the pipeline's parent run to report
REJECTED_ARTIFACT = "rejected.tsv"  # a labelled folder's rejected rows, on the run that read it


def find_finished_run(
    client: MlflowClient, experiment_id: str, entry_point: str, params: Mapping[str, object], git_commit: str | None
) -> Run | None:
    """The newest FINISHED run of `entry_point` with the same parameters and code, as MLflow's
    multistep example does; None when the step must run again."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{ENTRY_POINT_TAG}` = '{entry_point}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    for run in runs:
        if git_commit and run.data.tags.get(GIT_COMMIT_TAG) != git_commit:
            continue
        if all(run.data.params.get(key) == str(value) for key, value in params.items()):
            return run
    return None


def child_runs(client: MlflowClient, parent_run_id: str, entry_point: str = "train") -> list[Run]:
    parent = client.get_run(parent_run_id)
    return client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}' and tags.`{ENTRY_POINT_TAG}` = '{entry_point}'",
        max_results=1000,
    )


def log_params_once(params: Mapping[str, object]) -> None:
    """Log the parameters `mlflow run` has not logged already (it logs an entry point's own,
    shell-quoted), so a step run directly and a step run by MLflow record the same keys."""
    run = mlflow.active_run()
    existing = MlflowClient().get_run(run.info.run_id).data.params if run else {}
    fresh = {k: v for k, v in params.items() if k not in existing}
    if fresh:
        mlflow.log_params(fresh)


def claim_run(client: MlflowClient, run_id: str, pid: int | None = None) -> None:
    """Record that process `pid` (default: this one) on this host is working on the run."""
    client.set_tag(run_id, HOST_TAG, socket.gethostname())
    client.set_tag(run_id, PID_TAG, str(pid or os.getpid()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def mark_orphans_killed(client: MlflowClient, experiment_id: str) -> list[str]:
    """RUNNING runs whose owning process on this host is gone (killed pipeline, crashed step)
    become KILLED instead of staying RUNNING forever. Runs of live processes, such as a second
    pipeline running at the same time, are left alone."""
    host = socket.gethostname()
    killed = []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000):
        tags = run.data.tags
        if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit() or _alive(int(tags[PID_TAG])):
            continue
        client.set_tag(run.info.run_id, ERROR_TAG, f"process {tags[PID_TAG]} ended without finishing the run")
        client.set_terminated(run.info.run_id, "KILLED")
        killed.append(run.info.run_id)
    return killed


def log_rejected(rejected, log, shown: int = 20) -> None:
    """A labelled folder's rejected rows (line, file, text, reason): all of them as the run's
    REJECTED_ARTIFACT, the first `shown` on the console."""
    if rejected.empty:
        return
    with tempfile.TemporaryDirectory() as tmp:
        rejected.to_csv(Path(tmp) / REJECTED_ARTIFACT, sep="\t", index=False)
        mlflow.log_artifact(str(Path(tmp) / REJECTED_ARTIFACT))
    log.warning(f"{len(rejected)} rows rejected (all of them, with reasons: the run's {REJECTED_ARTIFACT}):")
    for row in rejected.head(shown).itertuples():
        log.warning(f"  line {row.line}: {row.file}: {row.reason}" if row.line else f"  {row.file}: {row.reason}")
    if len(rejected) > shown:
        log.warning(f"  ... and {len(rejected) - shown} more")


def word_list(frame, data_dir, name: str):
    """A word list (path, text, ...) as an MLflow dataset: its rows and digest, and the folder its
    images are in as its source."""
    with warnings.catch_warnings():
        # MLflow registers its local-folder source for both "" and "file:" and warns that a path
        # matches both; they are one and the same class of source.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        return mlflow.data.from_pandas(frame, source=str(data_dir), name=name)


def log_input(dataset, context: str, attempts: int = 5) -> None:
    """mlflow.log_input, retried when two runs log the same dataset at the same moment: the
    store checks for the dataset, then inserts it, and the slower run hits the unique constraint.
    Once the other insert is committed, the retry links the existing dataset."""
    for attempt in range(attempts):
        try:
            mlflow.log_input(dataset, context=context)
            return
        except MlflowException as exc:
            if attempt == attempts - 1 or ("UNIQUE" not in str(exc) and "IntegrityError" not in str(exc)):
                raise
            time.sleep(0.2 * (attempt + 1))
