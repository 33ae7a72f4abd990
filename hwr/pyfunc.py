"""The served model: base64 word images in, text and confidence out.

Loaded by `mlflow models serve` (and mlflow.pyfunc.load_model) from the logged artifacts; the
hwr package travels with the model as code_paths, so nothing from steps/ is needed.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from hwr.errors import InvalidImageError

INPUT_COLUMN = "image"
DECODERS = ("greedy",)


def _invalid(message: str):
    # INVALID_PARAMETER_VALUE makes the scoring server answer 400 with this message.
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _images_column(model_input: Any) -> list:
    if isinstance(model_input, pd.DataFrame):
        if INPUT_COLUMN not in model_input.columns:
            raise _invalid(f"input has no {INPUT_COLUMN!r} column (columns: {list(model_input.columns)})")
        return model_input[INPUT_COLUMN].tolist()
    if isinstance(model_input, dict) and INPUT_COLUMN in model_input:
        values = model_input[INPUT_COLUMN]
        return list(values) if isinstance(values, (list, tuple, np.ndarray, pd.Series)) else [values]
    raise _invalid(f"expected a table with an {INPUT_COLUMN!r} column of base64-encoded images")


class HwrModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from hwr.runtime import quiet_tensorflow

        quiet_tensorflow()
        import keras

        from hwr.charset import Charset
        from hwr.inference import Recognizer

        model = keras.saving.load_model(context.artifacts["keras_model"], compile=False)
        self.recognizer = Recognizer(model, Charset.load(context.artifacts["charset"]))
        # Trace the graph now, so the first request does not pay for it.
        self.recognizer.recognize(np.zeros((1, self.recognizer.height, self.recognizer.width), np.uint8))

    def preprocess_rows(self, values: list) -> np.ndarray:
        from hwr.images import decode_base64_image, preprocess

        batch = np.zeros((len(values), self.recognizer.height, self.recognizer.width), dtype=np.uint8)
        for row, value in enumerate(values):
            name = f"row {row}"
            try:
                image = decode_base64_image(value, name=name)
                batch[row] = preprocess(image, self.recognizer.height, self.recognizer.width)
            except Exception as exc:  # any unreadable row is the client's problem: 400, never 500
                message = str(exc) if isinstance(exc, InvalidImageError) else f"cannot be read as an image ({exc})"
                if not message.startswith(name):
                    message = f"{name}: {message}"
                raise _invalid(f"{message}; the request was refused, no row was read") from None
        return batch

    def predict(self, context, model_input, params=None):
        params = params or {}
        decoder = params.get("decoder", "greedy")
        if decoder not in DECODERS:
            raise _invalid(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
        values = _images_column(model_input)
        if not values:
            raise _invalid(f"the request holds no images: send at least one row in the {INPUT_COLUMN!r} column")
        results = self.recognizer.recognize(self.preprocess_rows(values))
        return pd.DataFrame(
            {"text": [t for t, _ in results], "confidence": [c for _, c in results]},
            columns=["text", "confidence"],
        )
