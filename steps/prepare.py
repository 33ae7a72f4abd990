"""prepare: the alphabet of every label, and K seeded train/val splits around one test list."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import click
import mlflow
import pandas as pd

from hwr.data import splits
from hwr.data.charset import Charset
from hwr.pipeline.artifacts import fetch_artifact
from hwr.pipeline.tracking import log_params_once
from steps._cli import recipe_options, resolve_recipe, step, step_run, user_errors, writers_option

log = logging.getLogger(__name__)


def read_index(words_uri: str) -> pd.DataFrame:
    return pd.read_csv(fetch_artifact(words_uri, "the word index"), dtype=str, keep_default_na=False)


@step()
@click.option("--words-uri", required=True, help="The download step's words.csv (runs:/<id>/words.csv or a path).")
@writers_option
@recipe_options("prepare")
@user_errors
def main(words_uri, writers, **options):
    recipe = resolve_recipe("prepare", options)
    k, split_by = recipe.splits, recipe.split_by
    with step_run():
        log_params_once({"words_uri": words_uri, "writers": writers or "none", "splits": k, "seed": recipe.seed,
                         "split_by": split_by, "test_fraction": recipe.test_fraction,
                         "val_fraction": recipe.val_fraction})
        writer_table = splits.read_writers(Path(writers)) if writers else None
        index = read_index(words_uri)
        # The charset comes from ALL labels, so no test character is unknown to the model.
        charset = Charset.from_texts(index["text"])
        made = splits.make_splits(index, k, recipe.seed, test_fraction=recipe.test_fraction,
                                  val_fraction=recipe.val_fraction, by=split_by, writers=writer_table)
        with tempfile.TemporaryDirectory() as tmp:
            splits.write_splits(made, Path(tmp) / splits.SPLITS_ARTIFACT)
            charset.save(Path(tmp) / splits.CHARSET_ARTIFACT)
            mlflow.log_artifacts(str(Path(tmp) / splits.SPLITS_ARTIFACT), artifact_path=splits.SPLITS_ARTIFACT)
            mlflow.log_artifact(str(Path(tmp) / splits.CHARSET_ARTIFACT))
        mlflow.log_metrics({"charset_size": len(charset.chars), "test_words": len(made.test),
                            "train_words": len(made.folds[0][0]), "val_words": len(made.folds[0][1])})
        log.info(f"prepare: {k} splits by {split_by}, {len(made.test)} test words, {len(charset.chars)} characters")


if __name__ == "__main__":
    main()
