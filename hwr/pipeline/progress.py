"""Timestamped progress lines for humans: the console, and the pipeline's shared script.log.

`main` points HWR_SCRIPT_LOG at one file; every step process it launches inherits the variable
and appends its own lines (one short write per line, so parallel children do not interleave).
"""

from __future__ import annotations

import logging
import os
import sys

SCRIPT_LOG_ENV = "HWR_SCRIPT_LOG"
FORMAT = "%(asctime)s %(message)s"


def logger() -> logging.Logger:
    log = logging.getLogger("hwr.pipeline.progress")
    if not log.handlers:
        log.setLevel(logging.INFO)
        log.propagate = False
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(FORMAT))
        log.addHandler(console)
        path = os.environ.get(SCRIPT_LOG_ENV)
        if path:
            shared = logging.FileHandler(path, mode="a", encoding="utf-8")
            shared.setFormatter(logging.Formatter(FORMAT))
            log.addHandler(shared)
    return log


def say(message: str) -> None:
    logger().info(message)
