"""download: produce the data set in IAM's layout (synthetic, or IAM words from a URL) and index it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import mlflow

from hwr.data import datasets
from hwr.pipeline import progress
from hwr.pipeline.tracking import log_input, log_params_once
from steps._cli import positive, step_run, user_errors

DATA_DIR_TAG = "hwr.data_dir"


@click.command()
@click.option("--dataset", type=click.Choice(datasets.DATASETS), default="synthetic", show_default=True)
@click.option("--samples", type=int, default=10000, show_default=True, callback=positive("samples"),
              help="Size of the synthetic set.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--url", default=datasets.DEFAULT_IAM_URL, show_default=True,
              help="IAM words archive: http(s) URL, file:// URL or local path (dataset=iam).")
@click.option("--sha256", default="none", show_default=True, help="Expected SHA-256 of the archive; none skips the check.")
@click.option("--data-root", type=click.Path(file_okay=False), default="data", show_default=True)
@click.option("--fonts-dir", default="none", show_default=True,
              help="Folder of extra .ttf/.otf fonts for the synthetic set, added to the built-in handwriting "
                   "fonts; none = built-in fonts only.")
@user_errors
def main(dataset, samples, seed, url, sha256, data_root, fonts_dir):
    with step_run():
        log_params_once({"dataset": dataset, "samples": samples, "seed": seed, "url": url, "sha256": sha256,
                         "data_root": data_root, "fonts_dir": fonts_dir})
        progress.say(f"download: preparing the {dataset} data set under {data_root}")
        data = datasets.load(dataset, Path(data_root), samples, seed, url, "" if sha256 == "none" else sha256,
                             fonts_dir=None if fonts_dir == "none" else fonts_dir)
        mlflow.set_tag(DATA_DIR_TAG, str(data.data_dir))
        mlflow.log_metrics(data.counts)
        if data.source_sha256:
            mlflow.set_tag("hwr.source_sha256", data.source_sha256)
        # The images stay in data/; the run records where, and the index's digest, as its input.
        log_input(mlflow.data.from_pandas(data.index, source=str(data.data_dir), name=f"{dataset}-words"),
                  context="download")
        with tempfile.TemporaryDirectory() as tmp:
            index_path = Path(tmp) / "words.csv"
            data.index.to_csv(index_path, index=False)
            mlflow.log_artifact(str(index_path))
        progress.say(
            f"download: {data.counts['words_usable']} usable words in {data.data_dir} "
            f"({data.counts['words_dropped_err']} err rows, {data.counts['words_dropped_unreadable']} unreadable images dropped)"
        )


if __name__ == "__main__":
    main()
