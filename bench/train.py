"""Training input pipeline: samples/s of one training epoch, three ways, in one run.

  ours      hwr's path: every image preprocessed once into memory (hwr.training.loop.load_images),
            then one epoch of hwr.training.loop.train (validation included)
  in_memory upper bound: the same model fit on tensors that are already in memory
  keras_ex  Keras-example style: tf.data reads, decodes and resizes every image every epoch

Each mode runs in its own process (so its peak RSS is its own), alternating, best of --repeats.
Targets (issue 4): ours >= 0.9x in_memory and >= 1.5x keras_ex; peak RSS of a training process
<= 2 GiB on the default data (10,000 samples).

    python bench/train.py [--samples 10000] [--repeats 2]
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path

import click

MODES = ("ours", "in_memory", "keras_ex")


def _worker(mode: str, data_root: str, samples: int, batch_size: int) -> dict:
    from hwr.runtime import quiet_tensorflow

    quiet_tensorflow()
    import keras
    import numpy as np
    import tensorflow as tf

    from hwr.data import datasets, images, splits
    from hwr.data.charset import Charset
    from hwr.model.variants import build_crnn, frames_for_width
    from hwr.training import loop as training
    from hwr.training import words
    from hwr.training.recipe import Recipe

    data = datasets.synthetic(Path(data_root), samples, seed=42)
    charset = Charset.from_texts(data.index["text"])
    train_list, val_list = splits.make_splits(data.index, 1, seed=42).folds[0]
    frames = frames_for_width(images.IMAGE_WIDTH)
    train_list, val_list = (words.trainable(f, charset, frames) for f in (train_list, val_list))
    texts = list(train_list["text"])
    n = len(texts)

    start = time.perf_counter()
    if mode == "ours":
        x_train = words.load_images(data.data_dir, train_list)
        x_val = words.load_images(data.data_dir, val_list)
        training.train(x_train, texts, x_val, list(val_list["text"]), charset,
                       Recipe(epochs=1, batch_size=batch_size))
    else:
        model = build_crnn(images.IMAGE_HEIGHT, images.IMAGE_WIDTH, charset.num_classes)
        model.compile(optimizer="adam", loss=keras.losses.CTC(), jit_compile=False)
        y = charset.encode_batch(texts, max(len(t) for t in texts))
        if mode == "in_memory":
            x = words.load_images(data.data_dir, train_list)[..., None].astype(np.float32)
            start = time.perf_counter()  # the upper bound does not pay for loading
            model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        else:
            paths = [str(data.data_dir / p) for p in train_list["path"]]

            def load(path, label):  # the Keras example's preprocessing, every epoch
                image = tf.io.decode_png(tf.io.read_file(path), channels=1)
                image = tf.image.resize(image, (images.IMAGE_HEIGHT, images.IMAGE_WIDTH), preserve_aspect_ratio=True)
                image = tf.image.pad_to_bounding_box(image, 0, 0, images.IMAGE_HEIGHT, images.IMAGE_WIDTH)
                return 255.0 - image, label

            dataset = (tf.data.Dataset.from_tensor_slices((paths, y)).shuffle(n)
                       .map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE))
            model.fit(dataset, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "samples": n, "seconds": seconds, "samples_per_s": n / seconds, "peak_rss_mib": peak_mib}


@click.command()
@click.option("--samples", default=10000, show_default=True, help="Synthetic set size (the pipeline's default).")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--repeats", default=2, show_default=True, help="Rounds; each mode's best round is kept.")
@click.option("--data-root", default=None, help="Where to generate the data (default: a temporary folder).")
@click.option("--worker", type=click.Choice(MODES), default=None, hidden=True)
def main(samples, batch_size, repeats, data_root, worker):
    if worker:
        print(json.dumps(_worker(worker, data_root, samples, batch_size)))
        return
    from bench.common import run_worker, save

    with tempfile.TemporaryDirectory() as tmp:
        root = data_root or tmp
        best: dict[str, dict] = {}
        for round_ in range(repeats):
            for mode in MODES:
                result = run_worker(__file__, mode, "--samples", str(samples), "--batch-size", str(batch_size),
                                    "--data-root", root)
                print(f"round {round_ + 1} {mode:9s} {result['samples_per_s']:7.1f} samples/s "
                      f"peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
                if mode not in best or result["samples_per_s"] > best[mode]["samples_per_s"]:
                    best[mode] = result
    ours = best["ours"]["samples_per_s"]
    save("train", {
        "samples": samples, "batch_size": batch_size, "repeats": repeats, "modes": best,
        "ours_vs_in_memory": ours / best["in_memory"]["samples_per_s"],
        "ours_vs_keras_example": ours / best["keras_ex"]["samples_per_s"],
        "ours_peak_rss_mib": best["ours"]["peak_rss_mib"],
        "targets": {"ours_vs_in_memory": ">= 0.9", "ours_vs_keras_example": ">= 1.5", "ours_peak_rss_mib": "<= 2048"},
    })


if __name__ == "__main__":
    main()
