"""main's work: one pipeline run chaining the step runs under it.

download and prepare run once (a finished run with the same parameters and code is reused),
then one `train` child per split runs in parallel, then `register` promotes the best (or, with
ensemble, all the finished splits read as one model). One split's failure loses no other's.
"""

from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import as_completed
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from hwr.data import datasets
from hwr.pipeline.executors import open_executor, run_training
from hwr.pipeline.tracking import (
    DATA_DIR_TAG,
    DATA_FAMILY_TAG,
    GIT_COMMIT_TAG,
    PARENT_TAG,
    find_finished_run,
    mark_orphans_killed,
)
from hwr.training.recipe import Recipe, as_param

log = logging.getLogger(__name__)
PROJECT_DIR = str(Path(__file__).resolve().parents[2])
RECIPE_ARTIFACT = "recipe.yaml"  # the resolved recipe, on the pipeline run and on each train run


def as_parameters(values: dict) -> dict[str, str]:
    """Values as `mlflow run` parameters. Every key is given, None too, so a reused run matches on all."""
    return {key: as_param(value) for key, value in values.items()}


class Pipeline:
    """One pipeline run: the parent run's id, its experiment and code version."""

    def __init__(self, parent_run):
        self.client = MlflowClient()
        self.parent_id = parent_run.info.run_id
        self.experiment_id = parent_run.info.experiment_id
        self.git_commit = self.client.get_run(self.parent_id).data.tags.get(GIT_COMMIT_TAG)
        for run_id in mark_orphans_killed(self.client, self.experiment_id):
            log.info(f"run {run_id} was left RUNNING by a process that is gone: marked KILLED")

    def step(self, entry_point: str, params: dict):
        """Reuse a finished run of this step with the same parameters and code, or run it now."""
        params = as_parameters(params)
        previous = find_finished_run(self.client, self.experiment_id, entry_point, params, self.git_commit)
        if previous is not None and self._still_valid(entry_point, previous):
            log.info(f"{entry_point}: reusing finished run {previous.info.run_id}")
            return previous
        log.info(f"{entry_point}: starting")
        submitted = mlflow.run(PROJECT_DIR, entry_point, parameters=params, env_manager="local",
                               experiment_id=self.experiment_id, run_name=entry_point)
        self.client.set_tag(submitted.run_id, PARENT_TAG, self.parent_id)
        return self.client.get_run(submitted.run_id)

    @staticmethod
    def _still_valid(entry_point: str, run) -> bool:
        # A download is only reusable while its data is still on disk, drawn by this code.
        return entry_point != "download" or datasets.is_reusable(Path(run.data.tags.get(DATA_DIR_TAG, "/nonexistent")))


def run_pipeline(pipeline: Pipeline, recipe: Recipe, *, dataset: str, url: str, data: str | None,
                 sha256: str | None, data_root: str, fonts_dir: str | None, writers: str | None, model_name: str,
                 executor: str, scheduler: str | None, max_workers: int) -> list[str]:
    """Every step of the pipeline in the active (parent) run. Returns the failures, one line per
    failed split (empty when all went well)."""
    with tempfile.TemporaryDirectory() as tmp:
        recipe.save(Path(tmp) / RECIPE_ARTIFACT)
        mlflow.log_artifact(str(Path(tmp) / RECIPE_ARTIFACT))
    source = {"dataset": dataset, "unit": recipe.unit, "samples": recipe.samples, "seed": recipe.seed, "url": url,
              "data": data, "sha256": sha256, "data_root": data_root, "fonts_dir": fonts_dir}
    download = pipeline.step("download", source)
    data_dir = download.data.tags[DATA_DIR_TAG]
    prepare = pipeline.step("prepare", {"words_uri": f"runs:/{download.info.run_id}/words.csv",
                                        "splits": recipe.splits, "seed": recipe.seed, "split_by": recipe.split_by,
                                        "writers": writers, "test_fraction": recipe.test_fraction,
                                        "val_fraction": recipe.val_fraction})
    splits_uri = f"runs:/{prepare.info.run_id}"
    mix = {}
    if recipe.mix_synthetic:
        # A second download: the synthetic set of `samples` words (the one the pretrain preset drew,
        # when the parameters match), whose words the trainings mix into their batches.
        synthetic = pipeline.step("download", {**source, "dataset": "synthetic", "data": None, "sha256": None})
        mix = {"mix_data_dir": synthetic.data.tags[DATA_DIR_TAG]}
        mlflow.set_tag("hwr.mix_download_run", synthetic.info.run_id)
    # Reused step runs keep their first parent; record on this parent which ones it used.
    mlflow.set_tags({"hwr.download_run": download.info.run_id, "hwr.prepare_run": prepare.info.run_id,
                     DATA_DIR_TAG: data_dir})

    workers = min(max_workers or recipe.splits, recipe.splits)
    # Each TensorFlow process gets its share of the cores, so parallel trainings do not thrash.
    threads = max(1, (os.cpu_count() or 1) // workers)
    mlflow.log_params({"workers": workers, "threads_per_training": threads})
    recipe_uri = f"runs:/{pipeline.parent_id}/{RECIPE_ARTIFACT}"
    failures = []
    with open_executor(executor, workers, scheduler) as pool:
        futures = {}
        for k in range(recipe.splits):
            params = as_parameters({"splits_uri": splits_uri, "data_dir": data_dir, "split": k, "threads": threads,
                                    "recipe": recipe_uri, "seed": recipe.seed + k, **mix})
            futures[pool.submit(run_training, mlflow.get_tracking_uri(), PROJECT_DIR, pipeline.experiment_id,
                                pipeline.parent_id, k, params)] = k
            log.info(f"split {k}: training submitted to {executor}")
        for future in as_completed(futures):
            split = futures[future]
            try:
                future.result()
                log.info(f"split {split} done")
            except Exception as exc:  # one split's failure must not lose the others
                failures.append(f"split {split}: {exc}")
                log.info(f"split {split} FAILED: {exc}")

    if len(failures) < recipe.splits:
        pipeline.step("register", {"parent_run_id": pipeline.parent_id, "splits_uri": splits_uri,
                                   "data_dir": data_dir, "model_name": model_name,
                                   "dataset": f"{dataset}:{download.info.run_id}", "ensemble": recipe.ensemble,
                                   "data_family": download.data.tags.get(DATA_FAMILY_TAG, datasets.GENERAL)})
    return failures
