"""main: the whole pipeline under one parent run.

download and prepare run once (a finished run with the same parameters and code is reused),
then one `train` child per split runs in parallel, then `register` promotes the best (or, with
--ensemble true, all the finished splits read as one model).
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import as_completed
from pathlib import Path

import click
import mlflow
from mlflow.tracking import MlflowClient

from hwr.data import datasets
from hwr.pipeline import progress
from hwr.pipeline.executors import EXECUTORS, check_scheduler, open_executor, train_split, use_this_python
from hwr.data.images import IMAGE_WIDTH
from hwr.model.variants import MODELS
from hwr.pipeline.progress import SCRIPT_LOG_ENV
from hwr.data.splits import SPLIT_BY
from hwr.training.loop import Recipe
from hwr.pipeline.tracking import GIT_COMMIT_TAG, PARENT_TAG, find_finished_run, log_params_once, mark_orphans_killed
from steps._cli import check_erase, check_image_width, positive, step_run, user_errors
from steps.download import DATA_DIR_TAG

PROJECT_DIR = str(Path(__file__).resolve().parents[1])


class Pipeline:
    """One pipeline run: the parent run's id, its experiment and code version."""

    def __init__(self, parent_run):
        self.client = MlflowClient()
        self.parent_id = parent_run.info.run_id
        self.experiment_id = parent_run.info.experiment_id
        self.git_commit = self.client.get_run(self.parent_id).data.tags.get(GIT_COMMIT_TAG)
        for run_id in mark_orphans_killed(self.client, self.experiment_id):
            progress.say(f"run {run_id} was left RUNNING by a process that is gone: marked KILLED")

    def step(self, entry_point: str, params: dict):
        """Reuse a finished run of this step with the same parameters and code, or run it now."""
        previous = find_finished_run(self.client, self.experiment_id, entry_point, params, self.git_commit)
        if previous is not None and self._still_valid(entry_point, previous):
            progress.say(f"{entry_point}: reusing finished run {previous.info.run_id}")
            return previous
        progress.say(f"{entry_point}: starting")
        submitted = mlflow.run(PROJECT_DIR, entry_point, parameters=params, env_manager="local",
                               experiment_id=self.experiment_id, run_name=entry_point)
        self.client.set_tag(submitted.run_id, PARENT_TAG, self.parent_id)
        return self.client.get_run(submitted.run_id)

    @staticmethod
    def _still_valid(entry_point: str, run) -> bool:
        # A download is only reusable while its data is still on disk, drawn by this code.
        return entry_point != "download" or datasets.is_reusable(Path(run.data.tags.get(DATA_DIR_TAG, "/nonexistent")))


def run_pipeline(pipeline: Pipeline, *, epochs, splits, max_workers, dataset, samples, batch_size, seed, url,
                 sha256, data_root, learning_rate, model_name, executor, scheduler, fonts_dir, split_by, writers, test_fraction,
                 val_fraction, mix_synthetic, ensemble, **recipe) -> list[str]:
    """`recipe`: the train step's model, augment, schedule, patience, max_minutes, init_model, ema, image_width,
    weight_decay, erase, conv_dropout and rnn_dropout.

    Returns the failures, one line per failed split (empty when all went well)."""
    download = pipeline.step("download", {"dataset": dataset, "samples": samples, "seed": seed, "url": url,
                                          "sha256": sha256, "data_root": data_root, "fonts_dir": fonts_dir})
    data_dir = download.data.tags[DATA_DIR_TAG]
    prepare = pipeline.step("prepare", {"words_uri": f"runs:/{download.info.run_id}/words.csv", "splits": splits,
                                        "seed": seed, "split_by": split_by, "writers": writers,
                                        "test_fraction": test_fraction, "val_fraction": val_fraction})
    splits_uri = f"runs:/{prepare.info.run_id}"
    mix = {"mix_data_dir": "none", "mix_fraction": 0}
    if mix_synthetic:
        # A second download: the synthetic set of `samples` words (the one `make pretrain` drew, when
        # the parameters match), whose words the trainings mix into their batches.
        synthetic = pipeline.step("download", {"dataset": "synthetic", "samples": samples, "seed": seed, "url": url,
                                               "sha256": sha256, "data_root": data_root, "fonts_dir": fonts_dir})
        mix = {"mix_data_dir": synthetic.data.tags[DATA_DIR_TAG], "mix_fraction": mix_synthetic}
        mlflow.set_tag("hwr.mix_download_run", synthetic.info.run_id)
    # Reused step runs keep their first parent; record on this parent which ones it used.
    mlflow.set_tags({"hwr.download_run": download.info.run_id, "hwr.prepare_run": prepare.info.run_id,
                     "hwr.data_dir": data_dir})

    workers = min(max_workers or splits, splits)
    # Each TensorFlow process gets its share of the cores, so parallel trainings do not thrash.
    threads = max(1, (os.cpu_count() or 1) // workers)
    mlflow.log_params({"workers": workers, "threads_per_training": threads})
    failures = []
    with open_executor(executor, workers, scheduler) as pool:
        futures = {}
        for k in range(splits):
            params = {"splits_uri": splits_uri, "data_dir": data_dir, "split": k, "epochs": epochs,
                      "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed + k, "threads": threads,
                      **mix,
                      **{name: str(value).lower() if isinstance(value, bool) else value
                         for name, value in recipe.items()}}
            futures[pool.submit(train_split, mlflow.get_tracking_uri(), PROJECT_DIR, pipeline.experiment_id,
                                pipeline.parent_id, k, params)] = k
            progress.say(f"split {k}: training submitted to {executor}")
        for future in as_completed(futures):
            split = futures[future]
            try:
                future.result()
                progress.say(f"split {split} done")
            except Exception as exc:  # one split's failure must not lose the others
                failures.append(f"split {split}: {exc}")
                progress.say(f"split {split} FAILED: {exc}")

    if len(failures) < splits:
        pipeline.step("register", {"parent_run_id": pipeline.parent_id, "splits_uri": splits_uri,
                                   "data_dir": data_dir, "model_name": model_name,
                                   "dataset": f"{dataset}:{download.info.run_id}", "ensemble": ensemble})
    return failures


@click.command()
@click.option("--epochs", type=int, default=5, show_default=True, callback=positive("epochs"))
@click.option("--splits", type=int, default=3, show_default=True, callback=positive("splits"))
@click.option("--max-workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Parallel trainings; 0 = one per split.")
@click.option("--dataset", type=click.Choice(datasets.DATASETS), default="synthetic", show_default=True)
@click.option("--samples", type=int, default=10000, show_default=True, callback=positive("samples"))
@click.option("--batch-size", type=int, default=32, show_default=True, callback=positive("batch_size"))
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--url", default=datasets.DEFAULT_IAM_URL, show_default=True)
@click.option("--sha256", default="none", show_default=True, help="Expected SHA-256 of the archive; none = no check.")
@click.option("--data-root", default="data", show_default=True)
@click.option("--learning-rate", type=float, default=1e-3, show_default=True)
@click.option("--model-name", default="hwr", show_default=True)
@click.option("--executor", type=click.Choice(EXECUTORS), default="threads", show_default=True,
              help="Where split trainings run: threads here, or a Dask cluster.")
@click.option("--scheduler", default="none", show_default=True, help="The Dask scheduler (executor=dask): tcp://HOST:PORT.")
@click.option("--fonts-dir", default="none", show_default=True,
              help="Folder of extra .ttf/.otf fonts for the synthetic set; none = built-in fonts only.")
@click.option("--split-by", type=click.Choice(SPLIT_BY), default="random", show_default=True)
@click.option("--writers", default="none", show_default=True, help="Form -> writer table, for --split-by writer.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True)
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True)
@click.option("--model", type=click.Choice(MODELS), default="compact", show_default=True)
@click.option("--augment", type=click.BOOL, default=False, show_default=True)
@click.option("--schedule", type=click.Choice(Recipe.SCHEDULES), default="constant", show_default=True)
@click.option("--patience", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--max-minutes", type=click.FloatRange(min=0), default=0, show_default=True)
@click.option("--init-model", default="none", show_default=True)
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=0, show_default=True)
@click.option("--image-width", type=int, default=IMAGE_WIDTH, show_default=True, callback=check_image_width,
              help="Width of the canvas words are scaled into, for the trainings.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0, show_default=True,
              help="AdamW's decoupled weight decay for the trainings; 0 = plain Adam.")
@click.option("--erase", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="With --augment: chance of each of 3 small paper patches hiding part of a word; 0 = off.")
@click.option("--conv-dropout", type=click.FloatRange(0, 1, max_open=True), default=Recipe.conv_dropout,
              show_default=True, help="Dropout after every conv block from the third on, for the trainings.")
@click.option("--rnn-dropout", type=click.FloatRange(0, 1, max_open=True), default=Recipe.rnn_dropout,
              show_default=True, help="Dropout before and after the recurrent layers, for the trainings.")
@click.option("--mix-synthetic", type=click.FloatRange(0, 1, max_open=True), default=0, show_default=True,
              help="Share of each training batch drawn from a synthetic set of --samples words (dataset=iam); 0 = off.")
@click.option("--ensemble", type=click.BOOL, default=False, show_default=True,
              help="Register the finished splits' models as one ensemble (outputs averaged), not the best alone.")
@user_errors
def main(**options):
    check_scheduler(options["executor"], options["scheduler"])  # before any run is opened
    check_erase(options["erase"], options["augment"], options["model"])
    if options["mix_synthetic"] and options["dataset"] == "synthetic":
        raise click.UsageError("--mix-synthetic mixes synthetic words into another data set: use it with --dataset iam")
    use_this_python()
    with step_run() as parent, tempfile.TemporaryDirectory() as tmp:
        log_params_once(options)
        script_log = Path(tmp) / "script.log"
        os.environ[SCRIPT_LOG_ENV] = str(script_log)  # inherited by every step process
        progress.say(f"run started: pipeline run {parent.info.run_id} with {options}")
        try:
            failures = run_pipeline(Pipeline(parent), **options)
            progress.say("pipeline finished" + (f" with {len(failures)} failed split(s)" if failures else ""))
        finally:
            mlflow.log_artifact(str(script_log))
        if failures:
            mlflow.set_tag("hwr.failed_splits", "; ".join(failures))
            click.echo("error: " + "; ".join(failures), err=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
