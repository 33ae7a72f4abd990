"""download: produce the data set in IAM's layout (synthetic, or IAM words from a URL) and index it."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import mlflow

from hwr.data import datasets
from hwr.pipeline.tracking import DATA_DIR_TAG, log_input, log_params_once
from steps._cli import recipe_options, resolve_recipe, source_options, step, step_run, user_errors

log = logging.getLogger(__name__)


@step()
@source_options
@recipe_options("download")
@user_errors
def main(dataset, url, sha256, data_root, fonts_dir, **options):
    recipe = resolve_recipe("download", options)
    samples, seed = recipe.samples, recipe.seed
    with step_run():
        log_params_once({"dataset": dataset, "samples": samples, "seed": seed, "url": url, "sha256": sha256 or "none",
                         "data_root": data_root, "fonts_dir": fonts_dir or "none"})
        log.info(f"download: preparing the {dataset} data set under {data_root}")
        data = datasets.load(dataset, Path(data_root), samples, seed, url, sha256 or "", fonts_dir=fonts_dir)
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
        log.info(
            f"download: {data.counts['words_usable']} usable words in {data.data_dir} "
            f"({data.counts['words_dropped_err']} err rows, {data.counts['words_dropped_unreadable']} unreadable images dropped)"
        )


if __name__ == "__main__":
    main()
