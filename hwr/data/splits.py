"""K seeded train/validation splits around one shared test set, written as file lists.

Every split is tested on the same held-out test list, so the children of one pipeline run (and
the registered versions built from it) are compared on the same evaluation data.

Splitting `by` a column keeps each of its values whole: no page, form or writer has words on both
sides, so the test figures say how the model reads handwriting it has never seen. The columns are
the word index's: a labelled folder's extra columns (page, writer, ...), or IAM's form, which its
word ids carry; IAM's writers come from a separate form -> writer table (forms_writers.tsv).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwr.data.charset import Charset
from hwr.errors import DataError

COLUMNS = ["path", "text"]
RANDOM = "random"  # split_by's value for "no groups": every word on its own
# The prepare run's artifacts: the file lists under SPLITS_ARTIFACT, the model's alphabet beside them.
SPLITS_ARTIFACT = "splits"
CHARSET_ARTIFACT = "charset.json"


@dataclass
class Splits:
    test: pd.DataFrame
    folds: list[tuple[pd.DataFrame, pd.DataFrame]]  # (train, val) per split


@dataclass
class PreparedSplit:
    """What one training needs from the prepare run."""

    charset: Charset
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def make_splits(index: pd.DataFrame, k: int, seed: int, test_fraction: float = 0.1, val_fraction: float = 0.1,
                by: str = "random", writers: dict[str, str] | None = None) -> Splits:
    if k < 1:
        raise ValueError(f"splits must be at least 1, got {k}")
    if not 0 < test_fraction < 1 or not 0 < val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise DataError(f"test ({test_fraction}) and validation ({val_fraction}) fractions must be in (0, 1) "
                        f"and leave words for training")
    groups = _groups(index, by, writers)
    n = len(index)
    rng = np.random.default_rng(seed)
    test_rows, rest_rows = _take_groups(groups, rng, test_fraction * n)
    if len(rest_rows) == 0:
        raise DataError(f"{n} words in {groups.nunique()} {by} groups are too few for a train, a validation "
                        f"and a test set")
    # The lists keep the index's group columns (page, form, ...): each shows which groups it holds.
    listed = COLUMNS + group_columns(index)
    test = index.iloc[test_rows][listed].reset_index(drop=True)
    rest_index = index.iloc[rest_rows].reset_index(drop=True)
    rest_groups = groups.iloc[rest_rows].reset_index(drop=True)
    rest = rest_index[listed]
    folds = []
    for split in range(k):
        val_rows, train_rows = _take_groups(rest_groups, np.random.default_rng([seed, split]), val_fraction * n)
        if len(train_rows) == 0:
            raise DataError(f"{n} words in {groups.nunique()} {by} groups are too few for a train, a validation "
                            f"and a test set")
        folds.append((rest.iloc[train_rows].reset_index(drop=True), rest.iloc[val_rows].reset_index(drop=True)))
    return Splits(test, folds)


def _groups(index: pd.DataFrame, by: str, writers: dict[str, str] | None) -> pd.Series:
    """One group label per word: the row itself, its value in column `by`, or (IAM) its form's writer."""
    if by == RANDOM:
        return pd.Series(np.arange(len(index)).astype(str))
    if by in group_columns(index):
        return index[by].reset_index(drop=True)
    if by == "writer" and "form" in index.columns:
        if not writers:
            raise DataError("split_by=writer needs writers=FILE (a form -> writer table), or a writer column in "
                            "labels.tsv")
        missing = sorted(set(index["form"]) - set(writers))
        if missing:
            raise DataError(f"the writers file has no writer for {len(missing)} forms, e.g. {', '.join(missing[:3])}")
        return index["form"].map(writers).reset_index(drop=True)
    check_split_by(by, group_columns(index))
    raise AssertionError("check_split_by accepts only the columns handled above")


def check_split_by(by: str, columns: list[str]) -> None:
    """split_by names `random` or one of `columns`, the groups the words can be kept together by."""
    if by != RANDOM and by not in columns:
        choices = ", ".join([RANDOM, *columns])
        raise DataError(f"split_by={by}: the words have no column {by!r} to keep together; choose {choices}")


def group_columns(index: pd.DataFrame) -> list[str]:
    """The word index's columns a split can keep together: all but the word's own id, file and text."""
    return [c for c in index.columns if c not in ("id", "path", "text")]


def _take_groups(groups: pd.Series, rng: np.random.Generator, words: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of whole, randomly chosen groups adding up to about `words` (at least 1); and the rest.

    A group that would overshoot the target by more than 15 % is passed over, so one prolific
    writer cannot swell the test set far beyond its share.
    """
    target = max(1, round(words))
    names = groups.unique()
    sizes = groups.value_counts()
    taken, count = set(), 0
    for name in names[rng.permutation(len(names))]:
        if count >= target:
            break
        if count + sizes[name] <= max(target * 1.15, 1):
            taken.add(name)
            count += int(sizes[name])
    if not taken:  # every group is larger than the target: take the smallest
        taken.add(sizes.idxmin())
    chosen = groups.isin(taken).to_numpy()
    return np.flatnonzero(chosen), np.flatnonzero(~chosen)


def read_writers(path: Path) -> dict[str, str]:
    """A form -> writer table: tab-separated, with a `form` and a `writer` column (IAM's forms_writers.tsv)."""
    if not path.is_file():
        raise DataError(f"writers file {path} does not exist")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if not {"form", "writer"} <= set(table.columns):
        raise DataError(f"{path}: expected tab-separated columns form and writer, found {list(table.columns)}")
    return dict(zip(table["form"], table["writer"]))


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


def read_split(folder: Path, split: int) -> PreparedSplit:
    """Split `split` of a prepare run's artifacts fetched into `folder`: its charset, its train and
    val lists, and the shared test list."""
    lists = folder / SPLITS_ARTIFACT
    split_dir = lists / f"split-{split}"
    if not split_dir.is_dir():
        available = sorted(p.name for p in lists.glob("split-*"))
        raise DataError(f"no split {split} (there are: {', '.join(available) or 'none'})")
    return PreparedSplit(Charset.load(folder / CHARSET_ARTIFACT), read_list(split_dir / "train.csv"),
                         read_list(split_dir / "val.csv"), read_list(lists / "test.csv"))
