"""init_model: a training that starts from a logged hwr model's weights."""

from __future__ import annotations

import logging
from typing import Callable

import mlflow

from hwr.data.charset import Charset
from hwr.model.transfer import copy_weights
from hwr.pipeline.artifacts import load_logged_model

log = logging.getLogger(__name__)


def initializer(init_model: str | None, charset: Charset) -> Callable | None:
    """A function that copies init_model's weights into a freshly built model and logs what it
    copied; None without an init_model (start from scratch). The source loads now, so a bad
    init_model fails before any training."""
    if init_model is None:
        return None
    source, source_charset = load_logged_model(init_model)

    def init(model):
        counts = copy_weights(source, source_charset, model, charset)
        mlflow.log_metrics({"init_layers_copied": counts["layers"], "init_shared_chars": counts["shared_chars"]})
        log.info(f"init_model {init_model}: {counts['layers']} layers and {counts['shared_chars']} of "
                 f"{len(charset.chars)} characters copied")

    return init
