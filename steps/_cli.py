"""What every step shares: quiet TensorFlow, log lines, user errors as one clear line instead of a
traceback, and the command-line options made from the recipe's fields."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from hwr.errors import HwrError
from hwr.pipeline import script_log
from hwr.pipeline.orchestration import PROJECT_DIR
from hwr.pipeline.tracking import ERROR_TAG
from hwr.runtime import quiet_tensorflow
from hwr.training.recipe import Recipe, RecipeError, fields_for

quiet_tensorflow()  # before any step imports TensorFlow
script_log.configure()

PRESETS_DIR = Path(PROJECT_DIR) / "presets"


class Step(click.Command):
    """Every step's command. `mlflow run` passes a parameter the MLproject does not declare as
    `--name value`, underscores and all: --data_root reaches the option --data-root."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("context_settings", {"show_default": True})
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, [_dashed(arg) for arg in args])


def _dashed(arg: str) -> str:
    if not arg.startswith("--"):
        return arg
    name, sep, value = arg.partition("=")
    return name.replace("_", "-") + sep + value


def step(**kwargs):
    """click.command for a step."""
    return click.command(cls=Step, **kwargs)


def _record_error(message: str) -> None:
    import mlflow

    # By now `with mlflow.start_run()` has usually ended the run as FAILED; tag it by id.
    run = mlflow.active_run() or mlflow.last_active_run()
    run_id = run.info.run_id if run else os.environ.get("MLFLOW_RUN_ID")
    if run_id:
        client = mlflow.MlflowClient()
        client.set_tag(run_id, ERROR_TAG, message[:5000])
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_terminated(run_id, "FAILED")


def user_errors(func):
    """HwrError (and MLflow's user-facing errors) become `error: ...` and exit 1; anything else
    keeps its traceback. Either way the run is marked FAILED with the reason as a tag."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from mlflow.exceptions import MlflowException

        try:
            return func(*args, **kwargs)
        except (HwrError, MlflowException) as exc:
            _record_error(str(exc))
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            _record_error(f"{type(exc).__name__}: {exc}")
            raise

    return wrapper


def no_value(ctx, param, value):
    """A click callback: "none", the command line's word for no value, is None past the command line."""
    return None if value is None or str(value).strip().lower() == "none" else value


@contextlib.contextmanager
def step_run():
    """mlflow.start_run() that also records this process as the run's owner (see mark_orphans_killed)."""
    import mlflow

    from hwr.pipeline.tracking import claim_run

    with mlflow.start_run() as run:
        claim_run(mlflow.MlflowClient(), run.info.run_id)
        yield run


def source_options(command):
    """Where the data comes from: the options of main and download, which passes them on."""
    from hwr.data import datasets

    for option in reversed([
        click.option("--dataset", type=click.Choice(datasets.DATASETS), default="synthetic"),
        click.option("--url", default=datasets.DEFAULT_IAM_URL,
                     help="The IAM words archive (dataset=iam): an http(s) or file URL, or a local path."),
        click.option("--data", default="none", callback=no_value,
                     help="Your labelled words (dataset=folder): a folder with labels.tsv (columns file, text, "
                          "any others) or an IAM layout, a .zip or .tar.gz of one, or an http(s) URL of it."),
        click.option("--sha256", default="none", callback=no_value,
                     help="Expected SHA-256 of the archive (url, or data when it is one); none = no check."),
        click.option("--data-root", type=click.Path(file_okay=False), default="data",
                     help="Where data sets are written."),
        click.option("--fonts-dir", default="none", callback=no_value,
                     help="Folder of extra .ttf/.otf fonts for the synthetic set, added to the built-in "
                          "handwriting fonts; none = built-in fonts only."),
    ]):
        command = option(command)
    return command


def check_source(dataset: str, data: str | None) -> None:
    """data goes with dataset=folder, and only with it."""
    from hwr.data.datasets import FOLDER_NEEDS_DATA

    if dataset == "folder" and not data:
        raise click.UsageError(FOLDER_NEEDS_DATA)
    if dataset != "folder" and data:
        raise click.UsageError(f"data={data} is read by dataset=folder, not dataset={dataset}: add -P dataset=folder")


# Options of two steps each: main passes them on.
writers_option = click.option("--writers", default="none", callback=no_value,
                              help="A form -> writer table (tab-separated form, writer), for split_by=writer.")
model_name_option = click.option("--model-name", default="none", callback=no_value,
                                 help="The registered model the pipeline's model becomes a version of; none = hwr, "
                                      "or hwr-<folder name> for dataset=folder.")


def recipe_options(step: str):
    """One click option per recipe field that `step` takes; main and train also take --recipe FILE."""

    def decorate(command):
        for f in reversed(fields_for(step)):
            command = click.option(f"--{f.name.replace('_', '-')}", f.name, type=f.metadata["type"],
                                   default=f.default, show_default="none" if f.default is None else True,
                                   help=f.metadata["help"])(command)
        if step in ("main", "train"):
            command = click.option("--recipe", "recipe_file", default="none",
                                   help="A preset: a YAML file of recipe options, a name in presets/ "
                                        "(iam, pretrain, ...), or runs:/ID/recipe.yaml to train as that run "
                                        "did. Options given on the command line win over it.")(command)
        return command

    return decorate


def resolve_recipe(step: str, options: dict) -> Recipe:
    """The recipe a step runs with: its --recipe file, then the options given explicitly on top.
    Pops the recipe's fields (and --recipe) from `options`, leaving the step's own."""
    ctx = click.get_current_context()
    given = {}
    for f in fields_for(step):
        value = options.pop(f.name)
        if ctx.get_parameter_source(f.name) is not ParameterSource.DEFAULT:
            given[f.name] = value
    source = options.pop("recipe_file", "none")
    if source in ("none", "", None):
        return Recipe.build(given)
    return Recipe.load(locate(source), given)


def locate(source: str) -> Path:
    """A recipe file from a path, a preset's name, or an MLflow artifact URI."""
    if "://" in source or source.startswith(("runs:/", "models:/")):
        from hwr.pipeline.artifacts import fetch_artifact

        return fetch_artifact(source, "the recipe")
    path = Path(source).expanduser()
    for candidate in (path, PRESETS_DIR.parent / path):  # as given, or relative to the project
        if candidate.is_file():
            return candidate
    preset = PRESETS_DIR / f"{source}.yaml"
    if "/" not in source and preset.is_file():
        return preset
    known = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
    raise RecipeError(f"recipe {source}: no such file, nor a preset of that name (presets: {known})")
