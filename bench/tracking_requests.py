"""What one request to the tracking server costs, with a login and (as the baseline, in the same
run) without one: the server answers the latter with a 401 before it checks any password.

A training logs hundreds of requests, so this decides how much of a run against the team server
is spent on checking passwords. Start the server, source a user's credentials, then:

    python bench/tracking_requests.py --uri $(scripts/tracking-server.sh uri) [--requests 20]
"""

from __future__ import annotations

import os
import statistics
import time

import click
import requests


def _timings(session: requests.Session, url: str, auth, count: int) -> tuple[int, list[float]]:
    times, status = [], 0
    for _ in range(count):
        start = time.perf_counter()
        status = session.get(url, auth=auth, timeout=60).status_code
        times.append((time.perf_counter() - start) * 1000)
    return status, times


@click.command()
@click.option("--uri", required=True, help="The tracking server, e.g. http://127.0.0.1:5000.")
@click.option("--requests", "count", default=20, show_default=True)
def main(uri: str, count: int) -> None:
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not user or not password:
        raise click.UsageError("source a user's credentials first: set -a; . .tracking/secrets/users/NAME.env; set +a")
    url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1"
    session = requests.Session()
    for name, auth in (("no login (baseline)", None), (f"as {user}", (user, password))):
        status, times = _timings(session, url, auth, count)
        print(f"{name:22s} HTTP {status}  median {statistics.median(times):7.1f} ms  "
              f"first {times[0]:7.1f} ms  mean {statistics.fmean(times):7.1f} ms")


if __name__ == "__main__":
    main()
