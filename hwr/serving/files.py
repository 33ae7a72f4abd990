"""Reading image files with a served-form model (the pyfunc) in process, as evaluate and predict do."""

from __future__ import annotations

import pandas as pd
from mlflow.exceptions import MlflowException

from hwr.data.images import encode_png_base64, load_file
from hwr.errors import InvalidImageError
from hwr.serving.pyfunc import INPUT_COLUMN

CHUNK = 256  # images per predict call: bounded memory for any folder size


def predict_files(model, files: list[str], params: dict | None = None) -> pd.DataFrame:
    """Run the pyfunc on image files in chunks; columns text and confidence."""
    parts = []
    for start in range(0, len(files), CHUNK):
        encoded = [encode_png_base64(f) for f in files[start : start + CHUNK]]
        parts.append(model.predict(pd.DataFrame({INPUT_COLUMN: encoded}), params=params))
    return pd.concat(parts, ignore_index=True)


def predict_files_each(model, files: list[str]) -> pd.DataFrame:
    """Like predict_files, but one unreadable file does not stop the others: in a chunk that fails,
    each file is checked, the readable ones are read in one call, and each failure is reported in
    the `error` column."""
    parts = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        try:
            part = predict_files(model, chunk)
            part["error"] = ""
        except MlflowException:  # some file in the chunk is bad: find out which, read the rest in one call
            errors = {}
            for file in chunk:
                try:
                    load_file(file)  # the checks the model applies, with the file's own name
                except InvalidImageError as exc:
                    errors[file] = str(exc)
            good = [f for f in chunk if f not in errors]
            read = predict_files(model, good).itertuples() if good else iter(())
            rows = []
            for file in chunk:  # results of the good files come back in their order
                if file in errors:
                    rows.append({"text": "", "confidence": float("nan"), "error": errors[file]})
                else:
                    result = next(read)
                    rows.append({"text": result.text, "confidence": result.confidence, "error": ""})
            part = pd.DataFrame(rows)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
