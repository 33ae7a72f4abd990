"""Reading image files with a served-form model (the pyfunc) in process, as evaluate and predict do."""

from __future__ import annotations

import pandas as pd
from mlflow.exceptions import MlflowException

from hwr.data.images import encode_png_base64
from hwr.serving.pyfunc import INPUT_COLUMN

CHUNK = 256  # images per predict call: bounded memory for any folder size


def predict_files(model, files: list[str], params: dict | None = None) -> pd.DataFrame:
    """Run the pyfunc on image files in chunks; columns text and confidence."""
    parts = []
    for start in range(0, len(files), CHUNK):
        encoded = [encode_png_base64(f) for f in files[start : start + CHUNK]]
        parts.append(model.predict(pd.DataFrame({INPUT_COLUMN: encoded}), params=params))
    return pd.concat(parts, ignore_index=True)


def predict_files_each(model, files: list[str], params: dict | None = None) -> pd.DataFrame:
    """Like predict_files, but one unreadable file does not stop the others: a chunk that fails is
    read again file by file, and each file the model refuses gets its message in the `error`
    column (text "", confidence NaN)."""
    parts = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        try:
            part = predict_files(model, chunk, params)
            part["error"] = ""
        except MlflowException:  # some file in the chunk is refused: read each alone to find which
            rows = []
            for file in chunk:
                try:
                    rows.append({**predict_files(model, [file], params).iloc[0].to_dict(), "error": ""})
                except MlflowException as exc:
                    rows.append({"text": "", "confidence": float("nan"), "error": _named(exc.message, file)})
            part = pd.DataFrame(rows)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _named(message: str, file: str) -> str:
    """The model's message about a request's row 0, about the file instead."""
    return file + message.removeprefix("row 0").removesuffix("; the request was refused, no row was read")
