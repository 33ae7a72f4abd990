"""What earlier runs logged, fetched back: artifacts, a prepare run's splits, a logged model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from hwr.data import labelled
from hwr.data.charset import Charset
from hwr.data.splits import CHARSET_ARTIFACT, SPLITS_ARTIFACT, PreparedSplit, read_list, read_split
from hwr.decoding.own_words import OwnWords
from hwr.errors import DataError
from hwr.evaluation import scoring


def fetch_artifact(artifact_uri: str, what: str, dst_path: Path | None = None) -> Path:
    """The local path of an MLflow artifact (runs:/…, models:/…, or a path); a DataError naming
    `what` when it cannot be fetched."""
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri,
                                                        dst_path=None if dst_path is None else str(dst_path)))
    except Exception as exc:  # MLflow raises several types for a missing run or artifact
        raise DataError(f"cannot fetch {what} {artifact_uri}: {exc}") from None


def fetch_split(splits_uri: str, split: int, dest: Path) -> PreparedSplit:
    """The prepare run's charset, split `split`'s train/val lists and the shared test list."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (SPLITS_ARTIFACT, CHARSET_ARTIFACT):
        fetch_artifact(f"{splits_uri.rstrip('/')}/{name}", "the prepared splits", dest)
    try:
        return read_split(dest, split)
    except DataError as exc:
        raise DataError(f"{splits_uri}: {exc}") from None


def fetch_test_list(splits_uri: str) -> pd.DataFrame:
    """The prepare run's shared test list (path, text)."""
    return read_list(fetch_artifact(f"{splits_uri.rstrip('/')}/{SPLITS_ARTIFACT}/test.csv", "the test list"))


def load_logged_model(model_uri: str, what: str = "init_model"):
    """(keras model, charset) of an hwr model logged to MLflow (models:/…, runs:/…/model, or a local folder)."""
    model, charset, _ = load_logged_model_and_words(model_uri, what)
    return model, charset


def load_logged_model_and_words(model_uri: str, what: str = "init_model"):
    """(keras model, charset, own words or None) of an hwr model logged to MLflow."""
    import keras

    local = fetch_artifact(model_uri, what)
    keras_files = list(local.rglob("*.keras"))
    charsets = list(local.rglob("charset.json"))
    if not keras_files or not charsets:
        raise DataError(f"{what} {model_uri} is not an hwr model (no .keras file and charset.json in it)")
    own = next(local.rglob("own_words.json"), None)
    return (keras.saving.load_model(keras_files[0], compile=False), Charset.load(charsets[0]),
            OwnWords.load(own) if own else None)


def labelled_images(data: Path, file_list: str | None) -> tuple[pd.DataFrame, labelled.Checked | None]:
    """The labelled images (file, text) to score: a folder's usable rows, or only those of a logged
    (path, text) file list; and, for a folder, its rows as checked (usable and rejected)."""
    if file_list is not None:
        return scoring.read_file_list(fetch_artifact(file_list, "the file list"), data), None
    checked = labelled.load(data)
    checked.require(1)
    return scoring.labelled_files(checked), checked
