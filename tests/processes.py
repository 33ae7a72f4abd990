"""Running the product's real commands (mlflow run, mlflow models serve, the steps) in tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN_DIR = str(Path(sys.executable).parent)


def environment(workdir: Path) -> dict:
    """A tracking store of the test's own, and this interpreter's `python` first on PATH."""
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(PROJECT_DIR) + os.pathsep + env.get("PYTHONPATH", "")  # `python -m steps.x` anywhere
    env.pop("MLFLOW_RUN_ID", None)
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    return env


def run(args: list[str], workdir: Path, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=workdir, env={**environment(workdir), **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def mlflow_run(workdir: Path, entry_point: str = "main", timeout: int = 900, env: dict | None = None,
               **params) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "mlflow", "run", str(PROJECT_DIR), "-e", entry_point, "--env-manager", "local"]
    for key, value in params.items():
        args += ["-P", f"{key}={value}"]
    return run(args, workdir, timeout, env)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def model_server(model_uri: str, workdir: Path, startup_timeout: float = 180, env: dict | None = None):
    """`mlflow models serve` on 127.0.0.1; yields its base URL and stops the whole process group."""
    port = free_port()
    log = open(workdir / f"serve-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=workdir, env={**environment(workdir), **(env or {})}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {(workdir / log.name).read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not up after {startup_timeout}s")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
