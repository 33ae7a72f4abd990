"""Training step time of the iam preset's crnn and of the Keras example, on one thread and on all.

The iam preset stops on minutes, so what it trains depends on the machine: two "2-core"
machines differed 2.5x here. Run this first to know how far the preset will get on yours, and
what the second core buys (one thread is the baseline, measured in the same run).

Each (model, threads) pair runs in its own process, since TensorFlow fixes its thread pools when
it starts. Random 32 x 128 images and 10-character labels: the step time does not depend on
what the images show. Best of --repeats rounds of --steps steps (timed from the end of the first
to the end of the last), after a warm-up.

    python bench/model_step.py [--steps 15] [--repeats 2] [--batch-size 32]
"""

from __future__ import annotations

import json
import os
import time

import click

MODELS = ("crnn", "keras_example")
CLASSES = 80
# The preset's data: the dev archive's training writers, and its budget (Makefile IAM_MINUTES).
PRESET_TRAIN_WORDS = 8745
PRESET_MINUTES = 80


def _worker(model_name: str, threads: int, steps: int, batch_size: int) -> dict:
    from hwr.runtime import limit_threads, quiet_tensorflow

    quiet_tensorflow()
    limit_threads(threads)
    import keras
    import numpy as np

    from hwr.data import images
    from hwr.model.variants import build_model

    model = build_model(model_name, images.IMAGE_HEIGHT, images.IMAGE_WIDTH, CLASSES)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.CTC(), jit_compile=False)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch_size * steps, images.IMAGE_HEIGHT, images.IMAGE_WIDTH, 1)).astype(np.float32)
    y = rng.integers(1, CLASSES, (batch_size * steps, 10)).astype(np.int32)
    model.fit(x[: batch_size * 3], y[: batch_size * 3], batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    batch_ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: batch_ends.append(time.perf_counter()))
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
    # From the first batch's end to the last's: a fit() call's start can wait seconds for the
    # previous call's tf.data threads to stop (see hwr.training.loop.training_dataset); that is not a step.
    return {"ms_per_step": 1000 * (batch_ends[-1] - batch_ends[0]) / (len(batch_ends) - 1)}


@click.command()
@click.option("--steps", default=15, show_default=True, type=click.IntRange(min=2),
              help="Training steps per measurement (at least 2: the time between their ends).")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--repeats", default=2, show_default=True, help="Rounds; each measurement's fastest round is kept.")
@click.option("--worker", nargs=2, type=(click.Choice(MODELS), int), default=None, hidden=True)
def main(steps, batch_size, repeats, worker):
    if worker:
        print(json.dumps(_worker(worker[0], worker[1], steps, batch_size)))
        return
    from bench.common import run_worker, save

    all_threads = os.cpu_count() or 1
    best: dict[str, float] = {}
    for round_ in range(repeats):
        for model_name in MODELS:
            for threads in sorted({1, all_threads}):
                ms = run_worker(__file__, model_name, str(threads), "--steps", str(steps),
                                "--batch-size", str(batch_size))["ms_per_step"]
                print(f"round {round_ + 1} {model_name:13s} {threads} thread(s) {ms:6.0f} ms/step", flush=True)
                key = f"{model_name}@{threads}"
                best[key] = min(ms, best.get(key, ms))
    steps_per_epoch = -(-PRESET_TRAIN_WORDS // batch_size)
    save("model_step", {
        "steps": steps, "batch_size": batch_size, "repeats": repeats, "ms_per_step": best,
        "ms_per_image": {key: ms / batch_size for key, ms in best.items()},
        "speedup_of_all_threads_over_one": {m: best[f"{m}@1"] / best[f"{m}@{all_threads}"] for m in MODELS},
        # An upper bound: augmentation (in tf.data, on the same cores) and validation also take time.
        f"preset_epochs_in_{PRESET_MINUTES}_min_at_most": {
            m: PRESET_MINUTES * 60_000 / (steps_per_epoch * best[f"{m}@{all_threads}"]) for m in MODELS},
    })


if __name__ == "__main__":
    main()
