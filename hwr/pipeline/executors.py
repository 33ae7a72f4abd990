"""Where split trainings run: threads on this machine, or a Dask cluster's workers.

Both are concurrent.futures executors; the task submitted to either is `run_training`, which
needs nothing from the submitting process but plain values and URIs: the tracking server's URI,
the prepare run's artifact URI, and a data folder every worker can read.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from concurrent.futures import Executor, ThreadPoolExecutor

import mlflow
from mlflow.tracking import MlflowClient

from hwr.errors import HwrError
from hwr.pipeline.tracking import ENTRY_POINT_TAG, ERROR_TAG, PARENT_TAG, SPLIT_TAG, claim_run

EXECUTORS = ("threads", "dask")
WORKER_TAG = "hwr.worker"


def use_this_python() -> None:
    """Make `python` in the step commands of `mlflow run --env-manager local` the interpreter running
    this code, so steps run in the same environment even when it is not activated (a .venv
    called by path, a Dask worker started from it)."""
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def worker_name() -> str:
    """The Dask worker's address when running on one, else this host, process and thread."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def run_training(tracking_uri: str, project_dir: str, experiment_id: str, parent_id: str, split: int,
                params: dict) -> str:
    """Create the split's child run under the parent and train it with mlflow.run; returns its id.

    The child is created here with the parent tag because runs started from threads or other
    processes do not nest under the parent by themselves."""
    use_this_python()
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    child = client.create_run(experiment_id, run_name=f"train-split-{split}", tags={
        PARENT_TAG: parent_id, ENTRY_POINT_TAG: "train", SPLIT_TAG: str(split), WORKER_TAG: worker_name()})
    run_id = child.info.run_id
    claim_run(client, run_id)  # until the train process claims it for itself
    try:
        mlflow.run(project_dir, "train", parameters=params, env_manager="local", experiment_id=experiment_id,
                   run_id=run_id)
    except Exception as exc:
        # The step records why it failed on its run; report that rather than "Run failed".
        reason = client.get_run(run_id).data.tags.get(ERROR_TAG, str(exc))
        raise RuntimeError(f"{reason} (run {run_id})") from None
    return run_id


@contextlib.contextmanager
def open_executor(kind: str, workers: int, scheduler: str = "") -> Executor:
    if kind == "threads":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield pool
    elif kind == "dask":
        from distributed import Client

        check_scheduler(kind, scheduler)
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise HwrError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client.get_executor()
    else:
        raise HwrError(f"unknown executor {kind!r}: choose one of {', '.join(EXECUTORS)}")


def check_scheduler(kind: str, scheduler: str | None) -> None:
    if kind == "dask" and not scheduler:
        raise HwrError("executor=dask needs scheduler=tcp://HOST:PORT (the address of a running Dask scheduler)")
