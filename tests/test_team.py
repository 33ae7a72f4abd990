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

from tests.processes import PROJECT_DIR, environment, free_port, mlflow_run, model_server

pytestmark = pytest.mark.slow

PARAMS = {"samples": 300, "epochs": 2, "splits": 2, "batch_size": 32}


USERS = {"carol": ["--can-promote"], "dave": [], "rita": ["--read-only"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """scripts/tracking-server.sh on fresh ports: PostgreSQL + mlflow server with basic auth and
    proxied artifacts, with a user who may promote (carol), one who may log runs (dave) and one
    who may only read (rita)."""
    workdir = tmp_path_factory.mktemp("team")
    pg_port = free_port()
    env = {**os.environ, "HWR_SERVER_DIR": str(workdir / "server"), "HWR_PG_PORT": str(pg_port),
           "HWR_MLFLOW_PORT": str(free_port()), "HWR_MLFLOW_WORKERS": "2",
           "MLFLOW": str(Path(sys.executable).parent / "mlflow")}
    script = str(PROJECT_DIR / "scripts" / "tracking-server.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stderr
        for name, flags in USERS.items():
            added = subprocess.run([script, "add-user", name, *flags], env=env, capture_output=True, text=True,
                                   timeout=120)
            assert added.returncode == 0, added.stderr
        yield workdir, started.stdout.strip().splitlines()[-1], pg_port
    finally:
        subprocess.run([script, "purge"], env=env, timeout=120)


def secrets_dir(server) -> Path:
    return server[0] / "server" / "secrets"


def credentials(server, user: str) -> dict[str, str]:
    """MLFLOW_TRACKING_USERNAME/PASSWORD from the file add-user wrote, and the tracking URI."""
    lines = (secrets_dir(server) / "users" / f"{user}.env").read_text().split()
    return {"MLFLOW_TRACKING_URI": server[1], **dict(line.split("=", 1) for line in lines)}


@pytest.fixture
def as_carol(server, monkeypatch):
    """This process talks to the server as carol; yields her environment for the processes it starts."""
    env = credentials(server, "carol")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


def secrets_of(server) -> list[str]:
    folder = secrets_dir(server)
    found = [line.rsplit(":", 1)[1] for line in (folder / "pgpass").read_text().split()]
    found += [line.split("=", 1)[1].strip() for line in (folder / "basic_auth.ini").read_text().splitlines()
              if line.startswith("admin_password")]
    found += [line.split("=", 1)[1] for line in (folder / "server.env").read_text().split()]
    found += [credentials(server, user)["MLFLOW_TRACKING_PASSWORD"] for user in USERS]
    return found


def train_runs(client, parent_id):
    return client.search_runs(["0"], f"tags.`mlflow.parentRunId` = '{parent_id}' "
                                     "and tags.`mlflow.project.entryPoint` = 'train'")


def newest_parent(client):
    return client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'main'",
                              order_by=["attributes.start_time DESC"], max_results=1)[0]


def postgres_count(server, table):
    import psycopg2

    password = (secrets_dir(server) / "pgpass").read_text().strip().rsplit(":", 1)[1]
    with psycopg2.connect(host="127.0.0.1", port=server[2], user="hwr", password=password, dbname="mlflow") as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return cursor.fetchone()[0]


def test_server_is_up_on_postgresql(server):
    _, uri, _ = server
    assert uri.startswith("http://127.0.0.1:")
    assert requests.get(f"{uri}/health", timeout=10).status_code == 200
    assert postgres_count(server, "experiments") >= 1  # MLflow created its tables there


def test_server_runs_only_what_hwr_needs(server):
    workdir = server[0]
    leader = (workdir / "server" / "mlflow.pid").read_text().strip()
    listed = subprocess.run(["ps", "-eo", "pgid=,args="], capture_output=True, text=True, check=True).stdout
    group = [args for pgid, _, args in (line.strip().partition(" ") for line in listed.splitlines()) if pgid == leader]
    assert any("uvicorn" in args for args in group), group
    # No GenAI job runner (8 processes), and password checks are remembered for a while.
    assert not [args for args in group if "huey" in args or "jobs" in args]
    settings = (secrets_dir(server) / "basic_auth.ini").read_text()
    assert "auth_cache_ttl_seconds = 60" in settings


def test_bench_of_a_request_with_and_without_a_login(server):
    _, uri, _ = server
    bench = [sys.executable, str(PROJECT_DIR / "bench" / "tracking_requests.py"), "--uri", uri, "--requests", "3"]
    plain = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    measured = subprocess.run(bench, env={**plain, **credentials(server, "rita")}, capture_output=True, text=True,
                              timeout=120)
    assert measured.returncode == 0, measured.stderr
    assert [line.split("HTTP ")[1][:3] for line in measured.stdout.splitlines()] == ["401", "200"]
    refused = subprocess.run(bench, env=plain, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "source a user's credentials" in refused.stderr


def test_no_one_gets_in_without_credentials(server):
    _, uri, _ = server
    search = f"{uri}/api/2.0/mlflow/experiments/search?max_results=1"
    # The REST API, the UI's own routes, the artifact proxy and GraphQL alike.
    for path in ("/api/2.0/mlflow/experiments/search?max_results=1", "/ajax-api/2.0/mlflow/runs/search",
                 "/api/2.0/mlflow/registered-models/search", "/api/2.0/mlflow-artifacts/artifacts"):
        assert requests.get(f"{uri}{path}", timeout=10).status_code == 401, path
    assert requests.post(f"{uri}/graphql", json={"query": "{ __typename }"}, timeout=10).status_code == 401
    assert requests.get(search, auth=("carol", "not her password"), timeout=10).status_code == 401
    user = credentials(server, "rita")
    assert requests.get(search, auth=(user["MLFLOW_TRACKING_USERNAME"], user["MLFLOW_TRACKING_PASSWORD"]),
                        timeout=10).status_code == 200


@pytest.mark.parametrize("user, may_log, may_promote", [("rita", False, False), ("dave", True, False),
                                                        ("carol", True, True)])
def test_each_user_may_do_what_they_were_granted(server, user, may_log, may_promote):
    _, uri, _ = server
    env = credentials(server, user)
    auth = (env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"])
    run = requests.post(f"{uri}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}, auth=auth, timeout=30)
    assert run.status_code == (200 if may_log else 403), run.text
    # Version 999 does not exist: a user allowed to move the alias hears that, anyone else 403.
    alias = requests.post(f"{uri}/api/2.0/mlflow/registered-models/alias", auth=auth, timeout=30,
                          json={"name": "hwr", "alias": "champion", "version": "999"})
    assert alias.status_code != 403 if may_promote else alias.status_code == 403, alias.text


def test_postgresql_checks_passwords(server):
    import psycopg2

    for user, password in (("hwr", "hwr"), ("hwr", None), ("postgres", None)):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host="127.0.0.1", port=server[2], user=user, password=password, dbname="mlflow",
                             connect_timeout=10)


@pytest.fixture
def dask_cluster(as_carol):
    # The workers log their runs to the server with the credentials of their own environment.
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


def test_main_on_dask_workers_through_the_tracking_server(server, as_carol, dask_cluster, tmp_path):
    workdir, uri, _ = server
    result = mlflow_run(tmp_path, "main", env=as_carol, data_root=workdir / "data",
                        executor="dask", scheduler=dask_cluster, **PARAMS)
    assert result.returncode == 0, result.stderr[-5000:]
    client = MlflowClient(uri)
    parent = newest_parent(client)
    assert parent.data.params["executor"] == "dask"
    children = train_runs(client, parent.info.run_id)
    assert sorted(c.data.tags["hwr.split"] for c in children) == ["0", "1"]
    # Each split on its own worker, each worker logging to the server with its own environment's credentials.
    workers = {c.data.tags["hwr.worker"] for c in children}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
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
    assert points == 2 * 4 * 2
    # The points are rows in PostgreSQL.
    assert postgres_count(server, "metrics") >= points
    champion = client.get_model_version_by_alias("hwr", "champion")
    assert champion.tags["source_run"] in {c.info.run_id for c in children}


def test_champion_served_through_the_tracking_server(server, tmp_path):
    workdir, uri, _ = server
    word = next((workdir / "data").rglob("*.png"))
    encoded = base64.b64encode(word.read_bytes()).decode()
    # Serving needs only to read: the read-only user's credentials load the champion.
    with model_server("models:/hwr@champion", tmp_path, env=credentials(server, "rita")) as url:
        answer = requests.post(f"{url}/invocations", json={"inputs": {"image": [encoded]}}, timeout=60)
    assert answer.status_code == 200 and set(answer.json()["predictions"][0]) == {"text", "confidence"}


def test_logged_requirements_match_the_project_pins(server, as_carol):
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


def test_dask_without_scheduler_is_refused_before_work(server, as_carol, tmp_path):
    result = mlflow_run(tmp_path, "main", env=as_carol, executor="dask", timeout=120)
    assert result.returncode != 0 and "needs scheduler=tcp://HOST:PORT" in result.stderr


def test_two_registers_at_once_leave_one_champion_and_both_versions(server, as_carol, tmp_path):
    workdir, uri, _ = server
    client = MlflowClient(uri)
    [last] = client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'register'",
                                order_by=["attributes.start_time DESC"], max_results=1)
    before = {v.version for v in client.search_model_versions("name='hwr'")}
    champion = client.get_model_version_by_alias("hwr", "champion").version
    register = [sys.executable, "-m", "mlflow", "run", str(PROJECT_DIR), "-e", "register", "--env-manager", "local",
                *[arg for name in ("parent_run_id", "splits_uri", "data_dir")
                  for arg in ("-P", f"{name}={last.data.params[name]}")]]
    racing = [subprocess.Popen(register, cwd=tmp_path, env={**environment(tmp_path), **as_carol},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=600)[1] for proc in racing]
    assert [proc.returncode for proc in racing] == [0, 0], outputs
    added = {v.version for v in client.search_model_versions("name='hwr'")} - before
    assert len(added) == 2
    # Both are the champion's own model again: neither reads better beyond noise, so neither moves it.
    assert client.get_model_version_by_alias("hwr", "champion").version == champion
    assert all(client.get_model_version("hwr", v).tags.get("challenger") == "true" for v in added)


def test_no_secret_in_a_process_list_or_a_log(server):
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    pg_logs = list(Path("/var/lib/postgresql").glob("hwr-*/postgres.log")) + list(server[0].rglob("postgres.log"))
    logs = "".join(path.read_text(errors="replace") for path in [*server[0].rglob("*.log"), *pg_logs])
    secrets = secrets_of(server)
    assert len(secrets) == 3 + len(USERS) and all(len(secret) >= 24 for secret in secrets)
    assert [s for s in secrets if s in listed or s in logs] == []
    # Only their owner may read the secrets.
    for path in secrets_dir(server).rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
