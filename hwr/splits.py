"""K seeded train/validation splits around one shared test set, written as file lists.

Every split is tested on the same held-out test list, so the children of one pipeline run (and
the registered versions built from it) are compared on the same evaluation data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwr.errors import DataError

COLUMNS = ["path", "text"]


@dataclass
class Splits:
    test: pd.DataFrame
    folds: list[tuple[pd.DataFrame, pd.DataFrame]]  # (train, val) per split


def make_splits(index: pd.DataFrame, k: int, seed: int, test_fraction: float = 0.1, val_fraction: float = 0.1) -> Splits:
    if k < 1:
        raise ValueError(f"splits must be at least 1, got {k}")
    n = len(index)
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    if n - n_test - n_val < 1:
        raise DataError(f"{n} words are too few for a train, a validation and a test set")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    test = index.iloc[order[:n_test]][COLUMNS].reset_index(drop=True)
    rest = index.iloc[order[n_test:]][COLUMNS].reset_index(drop=True)
    folds = []
    for split in range(k):
        perm = np.random.default_rng([seed, split]).permutation(len(rest))
        val = rest.iloc[perm[:n_val]].reset_index(drop=True)
        train = rest.iloc[perm[n_val:]].reset_index(drop=True)
        folds.append((train, val))
    return Splits(test, folds)


def write_splits(splits: Splits, folder: Path) -> None:
    """test.csv plus split-<k>/train.csv and split-<k>/val.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    splits.test.to_csv(folder / "test.csv", index=False)
    for k, (train, val) in enumerate(splits.folds):
        (folder / f"split-{k}").mkdir(exist_ok=True)
        train.to_csv(folder / f"split-{k}" / "train.csv", index=False)
        val.to_csv(folder / f"split-{k}" / "val.csv", index=False)


def read_list(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"file list {path} does not exist")
    # keep_default_na=False: words such as "null" or "NA" are labels, not missing values.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(frame.columns[:2]) != COLUMNS:
        raise DataError(f"{path}: expected columns {COLUMNS}, found {list(frame.columns)}")
    return frame
