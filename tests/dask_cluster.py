"""A local Dask cluster on 127.0.0.1 for tests: prints the scheduler address, runs until killed."""

import sys
import time

from distributed import LocalCluster

if __name__ == "__main__":  # worker processes re-import this module
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    print(cluster.scheduler_address, flush=True)
    while True:
        time.sleep(3600)
