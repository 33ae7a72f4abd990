"""Shared by the benchmarks: where results go, and process memory readings."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, figures: dict) -> Path:
    """Print the figures and write them, with the machine they came from, to bench/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    record = {"benchmark": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
              "machine": platform.machine(), **figures}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    print(f"written to {path}")
    return path


def run_worker(script: str, *args: str) -> dict:
    """Run `script --worker ARGS` in a fresh process (its own TensorFlow, its own peak RSS); the
    worker prints its figures as JSON on its last stdout line."""
    out = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def _descendants(pid: int) -> list[int]:
    children, found, stack = _children(), [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack += children.get(current, [])
    return found


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB (Linux /proc)."""
    return sum(rss_mib(p) for p in _descendants(pid))


def worker_rss_mib(pid: int) -> float:
    """The largest resident process under `pid`: the one that loaded the model (a server worker)."""
    return max(rss_mib(p) for p in _descendants(pid))
