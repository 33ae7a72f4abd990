"""Parallel splits: wall time of `main` with K splits in parallel against the same K splits one
after another (max_workers=1), equal epochs and data, in one run.

download and prepare run once beforehand, so both timed runs reuse them and only training,
registration and their overheads are compared. Target (issue 4): parallel <= 0.75x sequential.

    python bench/splits.py [--splits 3] [--epochs 2] [--samples 3000]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

PROJECT_DIR = Path(__file__).resolve().parents[1]

from bench.common import save


def mlflow_run(workdir: Path, entry_point: str, params: dict) -> float:
    args = [sys.executable, "-m", "mlflow", "run", str(PROJECT_DIR), "-e", entry_point, "--env-manager", "local"]
    for key, value in params.items():
        args += ["-P", f"{key}={value}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    start = time.perf_counter()
    result = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{entry_point} failed:\n{result.stderr[-4000:]}")
    return time.perf_counter() - start


@click.command()
@click.option("--splits", default=3, show_default=True)
@click.option("--epochs", default=2, show_default=True)
@click.option("--samples", default=3000, show_default=True)
def main(splits, epochs, samples):
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        common = {"splits": splits, "epochs": epochs, "samples": samples, "data_root": workdir / "data"}
        # download and prepare once, with the parameters main passes, so both timed runs reuse them.
        from mlflow.tracking import MlflowClient

        mlflow_run(workdir, "download", {"samples": samples, "data_root": workdir / "data"})
        [download] = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}").search_runs(["0"])
        mlflow_run(workdir, "prepare", {"words_uri": f"runs:/{download.info.run_id}/words.csv", "splits": splits})
        parallel = mlflow_run(workdir, "main", {**common, "max_workers": 0})
        sequential = mlflow_run(workdir, "main", {**common, "max_workers": 1})
    save("splits", {
        "splits": splits, "epochs": epochs, "samples": samples, "cpus": os.cpu_count(),
        "parallel_s": parallel, "sequential_s": sequential, "parallel_vs_sequential": parallel / sequential,
        "targets": {"parallel_vs_sequential": "<= 0.75"},
    })


if __name__ == "__main__":
    main()
