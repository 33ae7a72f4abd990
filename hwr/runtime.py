"""Process-wide TensorFlow settings; call before TensorFlow runs anything."""

from __future__ import annotations

import os


def quiet_tensorflow() -> None:
    # Hide TensorFlow's info chatter. oneDNN stays ON: TF_ENABLE_ONEDNN_OPTS=0 would silence its
    # banner too, but training ran ~40% slower without it on this 2-core CPU (bench/ measures it).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def limit_threads(threads: int) -> None:
    """Give this process `threads` cores, so K parallel trainings share the machine without thrashing."""
    if threads < 1:
        return
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
