"""prepare: vocabulary from every label, and K seeded train/val splits around one test list."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import mlflow
import pandas as pd

from hwr.pipeline import progress
from hwr.data import splits
from hwr.data.charset import Charset
from hwr.errors import DataError
from hwr.pipeline.tracking import fetch_artifact, log_params_once
from steps._cli import positive, step_run, user_errors


def read_index(words_uri: str) -> pd.DataFrame:
    return pd.read_csv(fetch_artifact(words_uri, "the word index"), dtype=str, keep_default_na=False)


@click.command()
@click.option("--words-uri", required=True, help="The download step's words.csv (runs:/<id>/words.csv or a path).")
@click.option("--splits", "k", type=int, default=3, show_default=True, callback=positive("splits"))
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--split-by", type=click.Choice(splits.SPLIT_BY), default="random", show_default=True,
              help="Keep whole forms or writers on one side, so test words come from unseen handwriting.")
@click.option("--writers", default="none", show_default=True,
              help="A form -> writer table (tab-separated form, writer), for --split-by writer.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True)
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Share of all words each split validates on (early stopping, calibration).")
@user_errors
def main(words_uri, k, seed, split_by, writers, test_fraction, val_fraction):
    with step_run():
        log_params_once({"words_uri": words_uri, "splits": k, "seed": seed, "split_by": split_by,
                         "writers": writers, "test_fraction": test_fraction, "val_fraction": val_fraction})
        writer_table = splits.read_writers(Path(writers)) if writers != "none" else None
        if split_by == "writer" and writer_table is None:
            raise DataError("--split-by writer needs --writers FILE (a form -> writer table)")
        index = read_index(words_uri)
        # The vocabulary comes from ALL labels, so no test character is unknown to the model.
        charset = Charset.from_texts(index["text"])
        made = splits.make_splits(index, k, seed, test_fraction=test_fraction, val_fraction=val_fraction,
                                  by=split_by, writers=writer_table)
        with tempfile.TemporaryDirectory() as tmp:
            splits.write_splits(made, Path(tmp) / splits.SPLITS_ARTIFACT)
            charset.save(Path(tmp) / splits.VOCAB_ARTIFACT)
            mlflow.log_artifacts(str(Path(tmp) / splits.SPLITS_ARTIFACT), artifact_path=splits.SPLITS_ARTIFACT)
            mlflow.log_artifact(str(Path(tmp) / splits.VOCAB_ARTIFACT))
        mlflow.log_metrics({"vocab_size": len(charset.chars), "test_words": len(made.test),
                            "train_words": len(made.folds[0][0]), "val_words": len(made.folds[0][1])})
        progress.say(f"prepare: {k} splits by {split_by}, {len(made.test)} test words, vocabulary of {len(charset.chars)} characters")


if __name__ == "__main__":
    main()
