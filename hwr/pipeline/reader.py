"""A line reader: a line model that finds each line's words, and a word model that reads them.

A line scaled into its 32-pixel canvas leaves each word a few pixels of letter height; cut out at
its ink and scaled alone, a word gets the word model's full canvas. Measured on IAM lines of
unseen writers (docs/lines.md), this reads lines better than the line model alone. The reader is
logged as one hwr pyfunc (the word model's artifacts beside the line model's) and registered like
any model: it becomes champion only if it reads the given lines better than the champion.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from hwr.data import datasets
from hwr.errors import DataError
from hwr.pipeline.artifacts import fetch_artifact
from hwr.pipeline.registry import Outcome, register_candidate
from hwr.pipeline.tracking import DATA_FAMILY_TAG
from hwr.serving import packaging
from hwr.serving.pyfunc import UNIT_CONFIG, WORD_READER_PREFIX


def logged_parts(model_uri: str, what: str, dest: Path) -> tuple[dict[str, str], str, pd.DataFrame | None]:
    """A logged hwr model's own artifacts (a reader's word model left out), its unit, its input example."""
    local = fetch_artifact(model_uri, what, dest)
    if not (local / "MLmodel").is_file():
        raise DataError(f"{what} {model_uri} is not a logged model (no MLmodel file in it)")
    model = Model.load(local)
    flavor = model.flavors.get("python_function", {})
    artifacts = {k: str(local / v["path"]) for k, v in (flavor.get("artifacts") or {}).items()
                 if not k.startswith(WORD_READER_PREFIX)}
    if "keras_model" not in artifacts or "charset" not in artifacts:
        raise DataError(f"{what} {model_uri} is not an hwr model (no keras_model and charset artifacts)")
    unit = (flavor.get("config") or {}).get(UNIT_CONFIG, "word")
    return artifacts, unit, model.load_input_example(str(local))


def registered_name(model_uri: str) -> str | None:
    """NAME of a models:/NAME@alias or models:/NAME/version URI."""
    if not model_uri.startswith("models:/"):
        return None
    return model_uri.removeprefix("models:/").split("@")[0].split("/")[0]


def log_reader(line_model: str, word_model: str):
    """Log, in the active run, the reader made of `line_model` (which must read lines) and
    `word_model` (which must read words); returns MLflow's ModelInfo."""
    with tempfile.TemporaryDirectory() as tmp:
        lines, line_unit, example = logged_parts(line_model, "line_model", Path(tmp) / "line")
        words, word_unit, _ = logged_parts(word_model, "word_model", Path(tmp) / "word")
        if line_unit != "line":
            raise DataError(f"line_model {line_model} reads {line_unit}s: give a model trained on lines (unit=line)")
        if word_unit != "word":
            raise DataError(f"word_model {word_model} reads {word_unit}s: give a model trained on words")
        artifacts = {**lines, **{WORD_READER_PREFIX + k: v for k, v in words.items()}}
        return packaging.log_artifacts(artifacts, example, unit="line")


def register_reader(client: MlflowClient, line_model: str, word_model: str, labelled: pd.DataFrame, name: str,
                    run_id: str) -> Outcome:
    """Log the reader in run `run_id` and register it as a new version of `name`; champion only if it
    reads `labelled` (file, text) better than the champion, and learnt from the same data family
    as the line model."""
    info = log_reader(line_model, word_model)
    family = datasets.GENERAL
    line_name = registered_name(line_model)
    if line_name:
        try:
            version = client.get_model_version_by_alias(line_name, line_model.split("@")[1]) if "@" in line_model \
                else client.get_model_version(line_name, line_model.rstrip("/").split("/")[-1])
            family = version.tags.get(DATA_FAMILY_TAG, family)
        except MlflowException:  # models:/NAME/latest and the like: the model loaded, its tags are not needed
            pass
    tags = {"source_run": run_id, "line_model": line_model, "word_model": word_model}
    description = f"Line reader: {line_model} finds each line's words, {word_model} reads them."
    return register_candidate(client, info.model_uri, run_id, labelled, name, tags, description, family=family)
