"""From one machine to a team: the pipeline against a shared tracking server on a real PostgreSQL,
split trainings on a Dask cluster, and serving the champion through that server."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.tracking import MlflowClient

from tests.processes import PROJECT_DIR, free_port, mlflow_run, model_server

pytestmark = pytest.mark.slow

PARAMS = {"samples": 300, "epochs": 2, "splits": 3, "batch_size": 32}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """scripts/tracking-server.sh on fresh ports: PostgreSQL + mlflow server with proxied artifacts."""
    workdir = tmp_path_factory.mktemp("team")
    pg_port = free_port()
    env = {**os.environ, "HWR_SERVER_DIR": str(workdir / "server"), "HWR_PG_PORT": str(pg_port),
           "HWR_MLFLOW_PORT": str(free_port()), "MLFLOW": str(Path(sys.executable).parent / "mlflow")}
    script = str(PROJECT_DIR / "scripts" / "tracking-server.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stderr
        yield workdir, started.stdout.strip().splitlines()[-1], pg_port
    finally:
        subprocess.run([script, "purge"], env=env, timeout=120)


def train_runs(client, parent_id):
    return client.search_runs(["0"], f"tags.`mlflow.parentRunId` = '{parent_id}' "
                                     "and tags.`mlflow.project.entryPoint` = 'train'")


def newest_parent(client):
    return client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'main'",
                              order_by=["attributes.start_time DESC"], max_results=1)[0]


def postgres_count(pg_port, table):
    import psycopg2

    with psycopg2.connect(host="127.0.0.1", port=pg_port, user="hwr", password="hwr", dbname="mlflow") as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return cursor.fetchone()[0]


def test_server_is_up_on_postgresql(server):
    _, uri, pg_port = server
    assert uri.startswith("http://127.0.0.1:")
    assert requests.get(f"{uri}/health", timeout=10).status_code == 200
    assert postgres_count(pg_port, "experiments") >= 1  # MLflow created its tables there


def test_main_through_the_tracking_server(server, tmp_path):
    workdir, uri, pg_port = server
    result = mlflow_run(tmp_path, "main", env={"MLFLOW_TRACKING_URI": uri}, data_root=workdir / "data", **PARAMS)
    assert result.returncode == 0, result.stderr[-5000:]
    client = MlflowClient(uri)
    parent = newest_parent(client)
    children = train_runs(client, parent.info.run_id)
    assert sorted(c.data.tags["hwr.split"] for c in children) == ["0", "1", "2"]
    points = 0
    for child in children:
        assert child.info.status == "FINISHED"
        for metric in ("train_loss", "val_loss", "val_cer", "val_wer"):
            history = client.get_metric_history(child.info.run_id, metric)
            assert [m.step for m in history] == [1, 2]
            points += len(history)
        # Artifacts come back through the server (proxied), not from this machine's disk.
        assert child.info.artifact_uri.startswith("mlflow-artifacts:")
        local = client.download_artifacts(child.info.run_id, "plots/loss.png", str(tmp_path))
        assert Path(local).read_bytes().startswith(b"\x89PNG")
    assert points == 3 * 4 * 2
    # The points are rows in PostgreSQL.
    assert postgres_count(pg_port, "metrics") >= points
    champion = client.get_model_version_by_alias("hwr", "champion")
    assert champion.tags["source_run"] in {c.info.run_id for c in children}


def test_champion_served_through_the_tracking_server(server, tmp_path):
    workdir, uri, pg_port = server
    word = next((workdir / "data").rglob("*.png"))
    encoded = base64.b64encode(word.read_bytes()).decode()
    with model_server("models:/hwr@champion", tmp_path, env={"MLFLOW_TRACKING_URI": uri}) as url:
        answer = requests.post(f"{url}/invocations", json={"inputs": {"image": [encoded]}}, timeout=60)
    assert answer.status_code == 200 and set(answer.json()["predictions"][0]) == {"text", "confidence"}


def test_logged_requirements_match_the_project_pins(server):
    _, uri, _ = server
    mlflow.set_tracking_uri(uri)
    try:
        path = mlflow.pyfunc.get_model_dependencies("models:/hwr@champion")
    finally:
        mlflow.set_tracking_uri(None)
    logged = {line.strip() for line in Path(path).read_text().splitlines() if line.strip() and "==" in line}
    pins = set(tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["dependencies"])
    served = {"mlflow", "tensorflow-cpu", "keras", "numpy", "pandas", "pillow"}  # what hwr.serving.pyfunc imports
    assert {line.split("==")[0] for line in logged} >= served
    assert logged <= pins, logged - pins


@pytest.fixture
def dask_cluster():
    proc = subprocess.Popen([sys.executable, str(PROJECT_DIR / "tests" / "dask_cluster.py"), "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def test_splits_train_on_dask_workers(server, dask_cluster, tmp_path):
    workdir, uri, pg_port = server
    result = mlflow_run(tmp_path, "main", env={"MLFLOW_TRACKING_URI": uri}, data_root=workdir / "data",
                        executor="dask", scheduler=dask_cluster, **{**PARAMS, "splits": 2, "epochs": 1})
    assert result.returncode == 0, result.stderr[-5000:]
    client = MlflowClient(uri)
    parent = newest_parent(client)
    assert parent.data.params["executor"] == "dask"
    children = train_runs(client, parent.info.run_id)
    assert len(children) == 2 and all(c.info.status == "FINISHED" for c in children)
    workers = {c.data.tags["hwr.worker"] for c in children}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)


def test_dask_without_scheduler_is_refused_before_work(server, tmp_path):
    _, uri, _ = server
    result = mlflow_run(tmp_path, "main", env={"MLFLOW_TRACKING_URI": uri}, executor="dask", timeout=120)
    assert result.returncode != 0 and "needs scheduler=tcp://HOST:PORT" in result.stderr
