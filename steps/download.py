"""download: produce the data set (synthetic, IAM words from a URL, or your labelled folder) and
index its usable words; a folder's rejected rows are counted and logged with their reasons."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import mlflow

from hwr.data import datasets, labelled
from hwr.pipeline.tracking import DATA_DIR_TAG, DATA_FAMILY_TAG, log_input, log_params_once, log_rejected, word_list
from steps._cli import check_source, recipe_options, resolve_recipe, source_options, step, step_run, user_errors

log = logging.getLogger(__name__)


@step()
@source_options
@recipe_options("download")
@user_errors
def main(dataset, url, data, sha256, data_root, fonts_dir, **options):
    recipe = resolve_recipe("download", options)
    samples, seed = recipe.samples, recipe.seed
    check_source(dataset, data)
    with step_run():
        log_params_once({"dataset": dataset, "unit": recipe.unit, "samples": samples, "seed": seed, "url": url, "data": data or "none",
                         "sha256": sha256 or "none", "data_root": data_root, "fonts_dir": fonts_dir or "none"})
        log.info(f"download: preparing the {dataset} data set under {data_root}")
        found = datasets.load(dataset, Path(data_root), samples, seed, url, sha256 or "", fonts_dir=fonts_dir,
                              data=data, unit=recipe.unit)
        mlflow.set_tag(DATA_DIR_TAG, str(found.data_dir))
        mlflow.set_tag(DATA_FAMILY_TAG, datasets.family(dataset, found, recipe.unit))
        mlflow.log_metrics(found.counts)
        if found.source_sha256:
            mlflow.set_tag("hwr.source_sha256", found.source_sha256)
        # The images stay where they are; the run records where, and the index's digest, as its input.
        name = datasets.name_of(data) if dataset == "folder" else dataset
        log_input(word_list(found.index, found.data_dir, f"{name}-words"), context="download")
        with tempfile.TemporaryDirectory() as tmp:
            found.index.to_csv(Path(tmp) / "words.csv", index=False)
            mlflow.log_artifact(str(Path(tmp) / "words.csv"))
        report(found)


def report(found: datasets.Dataset) -> None:
    """What was kept and dropped, on the console; a folder's rejected rows also as an artifact, and
    too few usable rows stop the pipeline here, before anything trains."""
    counts = found.counts
    if found.checked is None:
        log.info(f"download: {counts['words_usable']} usable words in {found.data_dir} "
                 f"({counts['words_dropped_err']} err rows, {counts['words_dropped_unreadable']} unreadable "
                 f"images dropped)")
        return
    log.info(f"download: {found.checked.summary()}")
    log_rejected(found.checked.rejected, log)
    found.checked.require(labelled.MIN_WORDS)


if __name__ == "__main__":
    main()
