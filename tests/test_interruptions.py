"""A pipeline killed mid-training, and two pipelines at once: nothing stays RUNNING, nothing is
registered twice, and neither pipeline damages the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.processes import PROJECT_DIR, environment, mlflow_run

pytestmark = pytest.mark.slow

PARAMS = {"samples": 400, "epochs": 2, "splits": 2, "batch_size": 32}


def start_main(workdir, **params):
    args = [sys.executable, "-m", "mlflow", "run", str(PROJECT_DIR), "--env-manager", "local"]
    for key, value in params.items():
        args += ["-P", f"{key}={value}"]
    log = open(workdir / f"main-{time.monotonic_ns()}.log", "w")
    return subprocess.Popen(args, cwd=workdir, env=environment(workdir), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def wait_for(predicate, timeout=600):  # generous: another test file may share the cores (make test's workers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise TimeoutError("condition not reached")


def runs(client, entry_point=None, status=None):
    filters = []
    if entry_point:
        filters.append(f"tags.`mlflow.project.entryPoint` = '{entry_point}'")
    if status:
        filters.append(f"attributes.status = '{status}'")
    return client.search_runs(["0"], " and ".join(filters))


def test_killed_pipeline_is_cleaned_up_and_its_steps_reused(tmp_path):
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    params = {**PARAMS, "data_root": tmp_path / "data"}
    first = start_main(tmp_path, **{**params, "epochs": 50})
    # Kill the whole process group once both trainings have logged an epoch.
    wait_for(lambda: sum(1 for r in runs(client, "train", "RUNNING") if "val_cer" in r.data.metrics) == 2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    orphans = {r.info.run_id for r in runs(client, status="RUNNING")}
    assert len(orphans) == 3  # the parent and its two trainings

    result = mlflow_run(tmp_path, "main", **params)
    assert result.returncode == 0, result.stderr[-5000:]
    assert "marked KILLED" in result.stderr
    assert runs(client, status="RUNNING") == []
    assert {r.info.run_id for r in runs(client, status="KILLED")} == orphans
    assert len(runs(client, "download")) == 1 and len(runs(client, "prepare")) == 1
    assert len(client.search_model_versions("name='hwr'")) == 1


def test_two_pipelines_at_once_leave_each_other_intact(tmp_path):
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    # Create the store first, so the two pipelines do not race to create its tables.
    assert mlflow_run(tmp_path, "download", samples=20, data_root=tmp_path / "warmup").returncode == 0
    # One split each: two pipelines already train side by side on the one store.
    params = {**PARAMS, "splits": 1, "data_root": tmp_path / "data"}
    first, second = start_main(tmp_path, **params), start_main(tmp_path, **params)
    assert first.wait(timeout=900) == 0 and second.wait(timeout=900) == 0
    parents = runs(client, "main")
    assert len(parents) == 2 and all(p.info.status == "FINISHED" for p in parents)
    for parent in parents:
        children = client.search_runs(["0"], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' "
                                             "and tags.`mlflow.project.entryPoint` = 'train'")
        assert [c.data.tags["hwr.split"] for c in children] == ["0"]
        for child in children:
            assert child.info.status == "FINISHED"
            # Every metric point arrived: one per epoch for each per-epoch metric.
            for metric in ("train_loss", "val_loss", "val_cer", "val_wer"):
                assert len(client.get_metric_history(child.info.run_id, metric)) == PARAMS["epochs"]
    assert len(client.search_model_versions("name='hwr'")) == 2
    assert client.get_model_version_by_alias("hwr", "champion") is not None
