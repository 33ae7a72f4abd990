"""Serving: `mlflow models serve` on 127.0.0.1 against the same pyfunc called in-process.

Measures the cold start to /ping, p50/p99 latency of one image a request (after warm-up), images/s
with 64 images a request, and the server's memory after warm-up and after 1,000 requests.
Targets (issue 4): p50 <= 20 ms, p99 <= 60 ms, 64-image throughput >= 0.6x in-process, server
<= 1 GiB after 1,000 requests with no growth after warm-up.

    python bench/serve.py [--model-uri models:/hwr@champion] [--requests 500] [--images FOLDER]

--images sends the first 64 images of a folder (a line model: line images) instead of synthetic words.

Uses MLFLOW_TRACKING_URI (default sqlite:///mlflow.db): run `make pipeline` first.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from bench.common import save, tree_rss_mib, worker_rss_mib


def word_images(count: int) -> list[str]:
    """Synthetic word images as base64 PNGs (the served model's input)."""
    from hwr.data.synthetic import font_catalog, synth, word_labels

    rng = np.random.default_rng(0)
    fonts = font_catalog.handwriting_fonts()
    words = word_labels.english_words()
    encoded = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            path = Path(tmp) / f"{i}.png"
            synth.render_word(word_labels.sample_label(rng, words), synth.sample_style(rng, fonts), rng).save(path)
            encoded.append(base64.b64encode(path.read_bytes()).decode())
    return encoded


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@click.command()
@click.option("--model-uri", default="models:/hwr@champion", show_default=True)
@click.option("--requests", "count", default=500, show_default=True, help="Single-image requests timed.")
@click.option("--workers", default=1, show_default=True, help="Server workers (mlflow models serve -w).")
@click.option("--clients", default=4, show_default=True, help="Concurrent clients in the load phase.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Send the first 64 images (PNG) found under this folder instead of synthetic words.")
def main(model_uri, count, workers, clients, images):
    import mlflow
    import pandas as pd
    import requests

    # In-process baseline: the same pyfunc, no HTTP.
    model = mlflow.pyfunc.load_model(model_uri)
    if images is None:
        single = word_images(64)
    else:  # the first 64 images the model reads (a line model refuses, say, two lines in one image)
        single = []
        for path in sorted(images.rglob("*.png")):
            encoded = base64.b64encode(path.read_bytes()).decode()
            try:
                model.predict(pd.DataFrame({"image": [encoded]}))
            except mlflow.exceptions.MlflowException:
                continue
            single.append(encoded)
            if len(single) == 64:
                break
        if not single:
            raise SystemExit(f"no PNG image under {images} that {model_uri} reads")
    batch = {"inputs": {"image": single}}
    frame = pd.DataFrame({"image": single})
    for _ in range(3):
        model.predict(frame)
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        model.predict(frame)
    inprocess_ips = rounds * len(single) / (time.perf_counter() - start)
    inprocess_single = []
    for i in range(200):
        t = time.perf_counter()
        model.predict(pd.DataFrame({"image": [single[i % 64]]}))
        inprocess_single.append((time.perf_counter() - t) * 1000)

    port = free_port()
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager",
                               "local", "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        while True:
            try:
                if session.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.perf_counter() - started > 180:
                raise SystemExit("the server did not start")
            time.sleep(0.05)
        cold_start = time.perf_counter() - started

        def post(body):
            t = time.perf_counter()
            response = session.post(f"{url}/invocations", json=body, timeout=60)
            response.raise_for_status()
            return (time.perf_counter() - t) * 1000

        for i in range(50):  # warm-up: both request shapes, so later growth would be a leak
            post({"inputs": {"image": [single[i % 64]]}})
        for _ in range(5):
            post(batch)
        rss_warm = tree_rss_mib(server.pid)
        workers_warm = worker_rss_mib(server.pid)
        latencies = [post({"inputs": {"image": [single[i % 64]]}}) for i in range(count)]
        start = time.perf_counter()
        for _ in range(rounds):
            post(batch)
        http_ips = rounds * len(single) / (time.perf_counter() - start)
        # Concurrent clients, one image a request each: what extra workers are for.
        from concurrent.futures import ThreadPoolExecutor

        def client_loop(offset):
            own = requests.Session()
            times = []
            for i in range(count // clients):
                t = time.perf_counter()
                own.post(f"{url}/invocations", json={"inputs": {"image": [single[(offset + i) % 64]]}},
                         timeout=60).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            return times

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            concurrent = [t for times in pool.map(client_loop, range(clients)) for t in times]
        concurrent_rps = len(concurrent) / (time.perf_counter() - start)
        for i in range(max(0, 1000 - 2 * count - rounds - 50)):
            post({"inputs": {"image": [single[i % 64]]}})
        rss_after = tree_rss_mib(server.pid)
        workers_after = worker_rss_mib(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    save(f"serve-w{workers}" + (f"-{images.name}" if images else ""), {
        "model_uri": model_uri, "images": str(images or "synthetic words"), "workers": workers, "cold_start_s": cold_start,
        "single_p50_ms": percentile(latencies, 50), "single_p99_ms": percentile(latencies, 99),
        "single_mean_ms": statistics.fmean(latencies),
        "clients": clients, "concurrent_requests_per_s": concurrent_rps,
        "concurrent_p50_ms": percentile(concurrent, 50), "concurrent_p99_ms": percentile(concurrent, 99),
        "inprocess_single_p50_ms": percentile(inprocess_single, 50),
        "batch64_http_images_per_s": http_ips, "batch64_inprocess_images_per_s": inprocess_ips,
        "batch64_http_vs_inprocess": http_ips / inprocess_ips,
        "server_rss_mib_after_warmup": rss_warm, "server_rss_mib_after_1000": rss_after,
        "worker_rss_mib_after_warmup": workers_warm, "worker_rss_mib_after_1000": workers_after,
        "targets": {"single_p50_ms": "<= 20", "single_p99_ms": "<= 60", "batch64_http_vs_inprocess": ">= 0.6",
                    "worker_rss_mib_after_1000": "<= 1024 per worker, no growth after warm-up"},
    })


if __name__ == "__main__":
    main()
