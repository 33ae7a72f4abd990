"""Tracking helpers under concurrency: several processes logging the same dataset at once."""

import multiprocessing

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient


def _log_same_dataset(uri: str, barrier, use_retry: bool, results) -> None:
    from hwr.pipeline.tracking import log_input

    mlflow.set_tracking_uri(uri)
    frame = pd.DataFrame({"path": ["a.png", "b.png"], "text": ["a", "b"]})
    dataset = mlflow.data.from_pandas(frame, source="/data/same", name="same-words")
    with mlflow.start_run():
        barrier.wait(timeout=120)  # all processes insert at the same moment
        try:
            log_input(dataset, "download") if use_retry else mlflow.log_input(dataset, context="download")
            results.put("ok")
        except Exception as exc:
            results.put(f"{type(exc).__name__}: {exc}")


def race(tmp_path, use_retry: bool, processes: int = 4, rounds: int = 3) -> list[str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # create the store before the race
    context = multiprocessing.get_context("spawn")
    outcomes = []
    for _ in range(rounds):
        results, barrier = context.Queue(), context.Barrier(processes)
        workers = [context.Process(target=_log_same_dataset, args=(uri, barrier, use_retry, results))
                   for _ in range(processes)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        outcomes += [results.get(timeout=5) for _ in workers]
    return outcomes


def test_same_dataset_logged_by_parallel_runs_is_linked_to_every_run(tmp_path):
    outcomes = race(tmp_path, use_retry=True)
    assert outcomes == ["ok"] * len(outcomes)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs(["0"])
    assert len(runs) == len(outcomes)
    assert all(len(r.inputs.dataset_inputs) == 1 for r in runs)
