"""train: one split of a prepare run, trained, scored and logged (hwr.pipeline.training_run)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
import mlflow

from hwr.pipeline.orchestration import RECIPE_ARTIFACT
from hwr.pipeline.tracking import SPLIT_TAG, log_params_once
from steps._cli import no_value, recipe_options, resolve_recipe, step, step_run, user_errors

FAIL_SPLIT_ENV = "HWR_TEST_FAIL_SPLIT"  # tests set it to make one split fail on purpose


@step()
@click.option("--splits-uri", required=True, help="The prepare run's artifacts: runs:/<prepare run id>.")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The IAM-layout folder the download step made.")
@click.option("--split", type=click.IntRange(min=0), default=0)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads for TensorFlow; 0 = all.")
@click.option("--mix-data-dir", default="none", callback=no_value,
              help="A second data folder (the synthetic set the pipeline drew) that mix_synthetic draws from.")
@recipe_options("train")
@user_errors
def main(splits_uri, data_dir, split, threads, mix_data_dir, **options):
    recipe = resolve_recipe("train", options)
    from hwr.runtime import limit_threads

    limit_threads(threads)
    from hwr.pipeline.training_run import train_split

    with step_run(), tempfile.TemporaryDirectory() as tmp:
        trained = recipe.effective()
        log_params_once({"splits_uri": splits_uri, "data_dir": data_dir, "split": split, "threads": threads,
                         "mix_data_dir": mix_data_dir or "none", **trained.params()})
        # What `mlflow run` logged as given but the model overrides (keras_example trains its own way).
        overridden = trained.overrides(mlflow.get_run(mlflow.active_run().info.run_id).data.params)
        if overridden:
            mlflow.set_tag("hwr.overridden", overridden)
        trained.save(Path(tmp) / RECIPE_ARTIFACT)
        mlflow.log_artifact(str(Path(tmp) / RECIPE_ARTIFACT))
        mlflow.set_tag(SPLIT_TAG, split)
        if os.environ.get(FAIL_SPLIT_ENV) == str(split):
            raise RuntimeError(f"failure injected for split {split} by {FAIL_SPLIT_ENV} (a test-only switch)")
        train_split(splits_uri, Path(data_dir), split, trained, Path(mix_data_dir) if mix_data_dir else None,
                    Path(tmp))


if __name__ == "__main__":
    main()
