"""main: the whole pipeline under one parent run (hwr.pipeline.orchestration)."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import click
import mlflow

from hwr.data import datasets, splits
from hwr.pipeline import script_log
from hwr.pipeline.executors import EXECUTORS, check_scheduler, use_this_python
from hwr.pipeline.orchestration import Pipeline, as_parameters, run_pipeline
from hwr.pipeline.registry import model_name_for
from hwr.pipeline.tracking import log_params_once
from steps._cli import (
    check_source,
    model_name_option,
    no_value,
    recipe_options,
    resolve_recipe,
    source_options,
    step,
    step_run,
    user_errors,
    writers_option,
)

log = logging.getLogger(__name__)


@step()
@source_options
@writers_option
@model_name_option
@click.option("--executor", type=click.Choice(EXECUTORS), default="threads",
              help="Where split trainings run: threads here, or a Dask cluster.")
@click.option("--scheduler", default="none", callback=no_value,
              help="The Dask scheduler (executor=dask): tcp://HOST:PORT, or tls://HOST:PORT (docs/team.md).")
@click.option("--max-workers", type=click.IntRange(min=0), default=0, help="Parallel trainings; 0 = one per split.")
@recipe_options("main")
@user_errors
def main(**options):
    given = options["recipe_file"]
    recipe = resolve_recipe("main", options)
    recipe.check_unit()
    check_scheduler(options["executor"], options["scheduler"])  # before any run is opened
    if recipe.mix_synthetic and options["dataset"] == "synthetic":
        raise click.UsageError("mix_synthetic mixes synthetic words into another data set: use it with dataset=iam "
                               "or dataset=folder")
    check_source(options["dataset"], options["data"])
    columns = datasets.group_columns(options["dataset"], options["data"])
    if columns is not None:  # a misspelt split_by stops now, not after the download
        splits.check_split_by(recipe.split_by, columns)
    options["model_name"] = model_name_for(options["model_name"], options["dataset"], options["data"], recipe.unit)
    use_this_python()
    with step_run() as parent, tempfile.TemporaryDirectory() as tmp:
        log_params_once({**as_parameters(options), "recipe": given, **recipe.params()})
        script = Path(tmp) / "script.log"
        script_log.write_to(str(script))  # every step process appends to it
        pipeline = Pipeline(parent)
        log.info(f"run started: pipeline run {parent.info.run_id} with {options} and {recipe}")
        try:
            failures = run_pipeline(pipeline, recipe, **options)
            log.info("pipeline finished" + (f" with {len(failures)} failed split(s)" if failures else ""))
        finally:
            mlflow.log_artifact(str(script))
        if failures:
            mlflow.set_tag("hwr.failed_splits", "; ".join(failures))
            click.echo("error: " + "; ".join(failures), err=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
