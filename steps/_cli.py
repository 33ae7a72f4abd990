"""What every step shares: quiet TensorFlow, user errors as one clear line instead of a traceback."""

from __future__ import annotations

import contextlib
import functools
import os
import sys

import click

from hwr.errors import HwrError
from hwr.runtime import quiet_tensorflow
from hwr.pipeline.tracking import ERROR_TAG

quiet_tensorflow()  # before any step imports TensorFlow


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


def positive(name: str):
    """A click callback refusing values below 1, so bad input stops before any work starts."""

    def check(ctx, param, value):
        if value is not None and value < 1:
            raise click.BadParameter(f"{name} must be at least 1, got {value}")
        return value

    return check


def check_image_width(ctx, param, value):
    """A click callback for --image-width: whole CTC frames (a multiple of 4), within sane bounds."""
    from hwr.model.variants import DOWNSAMPLE

    if value is not None and (value % DOWNSAMPLE or not 64 <= value <= 512):
        raise click.BadParameter(f"image_width must be a multiple of {DOWNSAMPLE} from 64 to 512, got {value}")
    return value


def check_erase(erase: float, augment: bool, model: str) -> None:
    """Random erasing is part of the augmentation: asked for without it, it would silently do nothing."""
    from hwr.model.variants import KERAS_EXAMPLE

    if erase and not augment and model != KERAS_EXAMPLE:  # keras_example drops both anyway
        raise click.UsageError(f"--erase {erase} paints patches in the augmentation: use it with --augment true")


@contextlib.contextmanager
def step_run():
    """mlflow.start_run() that also records this process as the run's owner (see mark_orphans_killed)."""
    import mlflow

    from hwr.pipeline.tracking import claim_run

    with mlflow.start_run() as run:
        claim_run(mlflow.MlflowClient(), run.info.run_id)
        yield run
