"""Logging a trained model to MLflow as the hwr pyfunc: artifacts, signature, example, code."""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

import hwr
from hwr.data.charset import Charset
from hwr.decoding.decode import DEFAULT_BEAM_WIDTH, DecoderSettings
from hwr.decoding.own_words import OwnWords
from hwr.serving.pyfunc import INPUT_COLUMN, OWN_WORDS_ARTIFACT, SETTINGS_ARTIFACT, UNIT_CONFIG, HwrModel

# What a served model imports; versions are the ones installed here, so a rebuilt environment
# (mlflow models serve with conda/virtualenv, build-docker) matches the one that trained it.
SERVING_PACKAGES = ("mlflow", "tensorflow-cpu", "keras", "numpy", "pandas", "pillow", "wordfreq")

SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", INPUT_COLUMN)]),
    outputs=Schema([ColSpec("string", "text"), ColSpec("double", "confidence")]),
    params=ParamSchema([ParamSpec("decoder", "string", "greedy"), ParamSpec("beam_width", "long", DEFAULT_BEAM_WIDTH)]),
)


def pip_requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in SERVING_PACKAGES]


def log_model(
    keras_model,
    charset: Charset,
    example_image_b64: str,
    name: str = "model",
    calibration: dict | None = None,
    settings: DecoderSettings = DecoderSettings(),
    own_words: OwnWords | None = None,
    unit: str = "word",
):
    """Log the pyfunc model in the active run; returns MLflow's ModelInfo.

    `calibration` (hwr.decoding.calibration.fit's dict) travels as a JSON artifact the served model applies;
    so do the decoder `settings` it was fitted with, which the served model decodes with, and the
    training words its lexicon decoders know (`own_words`), when there are any. The model's `unit`
    (word, or line: read word by word, answered with each word's place) is its model_config.
    """
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = {"keras_model": str(Path(tmp) / "model.keras"), "charset": str(Path(tmp) / "charset.json"),
                     SETTINGS_ARTIFACT: str(Path(tmp) / "decoder_settings.json")}
        keras_model.save(artifacts["keras_model"])
        charset.save(artifacts["charset"])
        Path(artifacts[SETTINGS_ARTIFACT]).write_text(json.dumps(settings.to_dict(), indent=1), encoding="utf-8")
        if own_words is not None:
            artifacts[OWN_WORDS_ARTIFACT] = str(Path(tmp) / "own_words.json")
            own_words.save(Path(artifacts[OWN_WORDS_ARTIFACT]))
        if calibration is not None:
            artifacts["calibration"] = str(Path(tmp) / "calibration.json")
            Path(artifacts["calibration"]).write_text(json.dumps(calibration, indent=1), encoding="utf-8")
        return log_artifacts(artifacts, pd.DataFrame({INPUT_COLUMN: [example_image_b64]}), name, unit)


def log_artifacts(artifacts: dict[str, str], input_example: pd.DataFrame | None, name: str = "model",
                  unit: str = "word"):
    """Log the hwr pyfunc made of these artifact files (as log_model writes them) in the active run."""
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=HwrModel(),
        artifacts=artifacts,
        code_paths=[str(Path(hwr.__file__).parent)],
        signature=SIGNATURE,
        input_example=input_example,
        pip_requirements=pip_requirements(),
        model_config={UNIT_CONFIG: unit},
    )
