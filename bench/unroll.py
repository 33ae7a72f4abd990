"""Inference with the recurrent loops unrolled (what the served model does) against the loop.

hwr.serving.pyfunc unrolls every LSTM when it loads a model (hwr.model.variants.unroll_recurrent_layers). This
times the forward pass the server runs (hwr.decoding.recognizer.Recognizer.logits) for one image and for
64, both ways, on the same weights, in the same process: the looped model is the baseline.
Rounds alternate between the two so that a busy machine slows both alike; each figure is the
median over rounds. Also: the first call's cost (graph tracing, what a server's start pays) and
the largest difference between the two models' logits. Random weights and images: the time does
not depend on what they show.

    python bench/unroll.py [--model crnn] [--width 128] [--rounds 7] [--calls 40]

--width 800 is a line model's canvas (presets/lines.yaml): 200 frames instead of 32.
"""

from __future__ import annotations

import statistics
import time

import click
import numpy as np

CLASSES = 80


def _recognizers(model_name: str, width: int):
    from hwr.data import images
    from hwr.data.charset import Charset
    from hwr.decoding.recognizer import Recognizer
    from hwr.model.variants import build_model, unroll_recurrent_layers

    charset = Charset(tuple(chr(c) for c in range(33, 33 + CLASSES - 1)))
    looped = build_model(model_name, images.IMAGE_HEIGHT, width, charset.num_classes)
    unrolled = build_model(model_name, images.IMAGE_HEIGHT, width, charset.num_classes)
    unrolled.set_weights(looped.get_weights())
    unroll_recurrent_layers(unrolled)
    return {"loop": Recognizer(looped, charset), "unrolled": Recognizer(unrolled, charset)}


def _ms_per_call(recognizer, batch: np.ndarray, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        recognizer.logits(batch)
    return 1000 * (time.perf_counter() - started) / calls


@click.command()
@click.option("--model", "model_name", default="crnn", show_default=True,
              type=click.Choice(("compact", "crnn", "keras_example")))
@click.option("--width", default=None, type=click.IntRange(min=32), help="Canvas width  [default: a word's]")
@click.option("--rounds", default=7, show_default=True, type=click.IntRange(min=1))
@click.option("--calls", default=40, show_default=True, type=click.IntRange(min=1),
              help="Single-image calls per round (64-image calls: a quarter of them).")
def main(model_name, width, rounds, calls):
    from hwr.runtime import quiet_tensorflow

    quiet_tensorflow()
    from bench.common import save
    from hwr.data import images

    width = width or images.IMAGE_WIDTH
    recognizers = _recognizers(model_name, width)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (64, images.IMAGE_HEIGHT, width), dtype=np.uint8)
    one = batch[:1]

    figures: dict = {"model": model_name, "width": width, "rounds": rounds}
    for name, recognizer in recognizers.items():
        started = time.perf_counter()
        recognizer.logits(one)
        figures[f"{name}_first_call_ms"] = round(1000 * (time.perf_counter() - started), 1)
    difference = np.abs(recognizers["loop"].logits(batch) - recognizers["unrolled"].logits(batch)).max()
    figures["max_logit_difference"] = float(difference)

    single: dict[str, list[float]] = {name: [] for name in recognizers}
    per_image_64: dict[str, list[float]] = {name: [] for name in recognizers}
    for round_ in range(rounds):
        for name, recognizer in recognizers.items():
            single[name].append(_ms_per_call(recognizer, one, calls))
            per_image_64[name].append(_ms_per_call(recognizer, batch, max(1, calls // 4)) / len(batch))
        print(f"round {round_ + 1}: one image " + ", ".join(f"{n} {v[-1]:.1f} ms" for n, v in single.items()),
              flush=True)
    for name in recognizers:
        figures[f"{name}_one_image_ms"] = round(statistics.median(single[name]), 2)
        figures[f"{name}_per_image_in_64_ms"] = round(statistics.median(per_image_64[name]), 2)
    figures["one_image_unrolled_vs_loop"] = round(figures["unrolled_one_image_ms"] / figures["loop_one_image_ms"], 3)
    figures["batch_64_unrolled_vs_loop"] = round(
        figures["unrolled_per_image_in_64_ms"] / figures["loop_per_image_in_64_ms"], 3)
    save(f"unroll_{model_name}" + ("" if width == images.IMAGE_WIDTH else f"_{width}"), figures)


if __name__ == "__main__":
    main()
