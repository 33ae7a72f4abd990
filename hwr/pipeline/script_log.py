"""Where the log lines of hwr and its steps go: the console, and the pipeline's shared script.log.

`main` points HWR_SCRIPT_LOG at one file; every step process it launches inherits the variable
and appends its own lines (one short write per line, so parallel children do not interleave).
Library modules only log, to `logging.getLogger(__name__)`.
"""

from __future__ import annotations

import logging
import os
import sys

SCRIPT_LOG_ENV = "HWR_SCRIPT_LOG"
LOGGERS = ("hwr", "steps", "__main__")  # a step runs as `python -m steps.NAME`: its module is __main__
FORMATTER = logging.Formatter("%(asctime)s %(message)s")


def configure() -> None:
    """Info lines of hwr and the steps on stderr, and in $HWR_SCRIPT_LOG when it is set. Once per process."""
    for name in LOGGERS:
        log = logging.getLogger(name)
        if log.handlers:
            continue
        log.setLevel(logging.INFO)
        log.propagate = False
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(FORMATTER)
        log.addHandler(console)
    if os.environ.get(SCRIPT_LOG_ENV):
        _add_file(os.environ[SCRIPT_LOG_ENV])


def write_to(path: str) -> None:
    """From now on, this process and every step it starts also append their lines to `path`."""
    os.environ[SCRIPT_LOG_ENV] = path
    _add_file(path)


def _add_file(path: str) -> None:
    for name in LOGGERS:
        log = logging.getLogger(name)
        if not any(getattr(h, "baseFilename", None) == os.path.abspath(path) for h in log.handlers):
            shared = logging.FileHandler(path, mode="a", encoding="utf-8")
            shared.setFormatter(FORMATTER)
            log.addHandler(shared)
