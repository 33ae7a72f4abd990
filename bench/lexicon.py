"""The default lexicon's cost in a process: build time and the memory it keeps.

A served model builds its lexicon when it loads (hwr.serving.pyfunc), so this is start-up time and
worker memory. Each measurement runs in a fresh process, at each --sizes: the build alone
(`build_default`: what the process keeps when nothing is given back, the baseline) against
`default_lexicon` (the build, then wordfreq's caches cleared and the freed heap returned, and
the lexicon written to an empty cache folder), and `cached` (a new process loading what
`default_lexicon` wrote there: what every process after the first does, hwr.decoding.lexicon_cache).
Memory is the process's RSS after the build minus before it, after a garbage collection.

    python bench/lexicon.py [--sizes 50000,200000] [--repeats 2]
"""

from __future__ import annotations

import gc
import json
import time

import click

WAYS = ("build_only", "default_lexicon", "cached")


def _worker(way: str, size: int) -> dict:
    import os

    import wordfreq  # noqa: F401 - imported before the first reading: a served model's worker has it

    from bench.common import rss_mib
    from hwr.data.charset import Charset
    from hwr.data.synthetic.word_labels import IAM_CHARSET
    from hwr.decoding import lexicon

    charset = Charset(tuple(sorted(IAM_CHARSET)))
    gc.collect()
    before = rss_mib(os.getpid())
    started = time.perf_counter()
    built = lexicon.build_default(charset, size) if way == "build_only" else lexicon.default_lexicon(charset, size)
    seconds = time.perf_counter() - started
    gc.collect()
    return {"entries": len(built), "seconds": seconds, "kept_mib": rss_mib(os.getpid()) - before}


@click.command()
@click.option("--sizes", default="50000,200000", show_default=True, help="Lexicon sizes (words from wordfreq).")
@click.option("--repeats", default=2, show_default=True, help="Rounds; each measurement's lowest figures are kept.")
@click.option("--worker", nargs=2, type=(click.Choice(WAYS), int), default=None, hidden=True)
def main(sizes, repeats, worker):
    if worker:
        print(json.dumps(_worker(*worker)))
        return
    import os
    import shutil
    import tempfile

    from bench.common import run_worker, save
    from hwr.decoding.lexicon_cache import CACHE_DIR_ENV

    figures: dict[str, dict] = {}
    for round_ in range(repeats):
        for size in (int(s) for s in sizes.split(",") if s.strip()):
            # An empty cache for each round and size: default_lexicon builds and writes it, cached reads it.
            os.environ[CACHE_DIR_ENV] = tempfile.mkdtemp(prefix="hwr-bench-lexicon-")
            for way in WAYS:
                got = run_worker(__file__, way, str(size))
                print(f"round {round_ + 1} {size:>7} words {way:15s} {got['entries']:>7} entries "
                      f"{got['seconds']:5.1f} s, keeps {got['kept_mib']:5.0f} MiB", flush=True)
                best = figures.setdefault(f"{size}", {}).setdefault(way, got)
                for key in ("seconds", "kept_mib"):
                    best[key] = min(best[key], got[key])
            shutil.rmtree(os.environ[CACHE_DIR_ENV], ignore_errors=True)
    save("lexicon", {
        "repeats": repeats, "figures": figures,
        "kept_mib_default_vs_build_only": {
            size: ways["default_lexicon"]["kept_mib"] / ways["build_only"]["kept_mib"] for size, ways in figures.items()},
        "seconds_cached_vs_default": {
            size: ways["cached"]["seconds"] / ways["default_lexicon"]["seconds"] for size, ways in figures.items()},
    })


if __name__ == "__main__":
    main()
