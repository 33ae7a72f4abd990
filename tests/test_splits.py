import pandas as pd
import pytest

from hwr import splits
from hwr.errors import DataError


def index(n):
    return pd.DataFrame({"id": [f"s00-000-00-{i:02d}" for i in range(n)], "path": [f"w/{i}.png" for i in range(n)],
                         "text": [f"w{i}" for i in range(n)], "form": ["s00-000"] * n})


def test_test_set_is_shared_and_disjoint_from_every_split():
    made = splits.make_splits(index(200), k=3, seed=1)
    test_paths = set(made.test.path)
    assert len(test_paths) == 20
    for train, val in made.folds:
        assert not test_paths & set(train.path)
        assert not test_paths & set(val.path)
        assert not set(train.path) & set(val.path)
        assert len(train) + len(val) + len(test_paths) == 200


def test_splits_differ_from_each_other_and_are_seeded():
    a = splits.make_splits(index(200), k=3, seed=1)
    b = splits.make_splits(index(200), k=3, seed=1)
    c = splits.make_splits(index(200), k=3, seed=2)
    assert list(a.folds[0][1].path) == list(b.folds[0][1].path)
    assert list(a.folds[0][1].path) != list(a.folds[1][1].path)
    assert list(a.test.path) != list(c.test.path)


def test_too_little_data_is_a_clear_error():
    with pytest.raises(DataError, match="too few"):
        splits.make_splits(index(2), k=1, seed=0)


def test_zero_splits_refused():
    with pytest.raises(ValueError, match="splits must be at least 1"):
        splits.make_splits(index(20), k=0, seed=0)


def test_written_lists_read_back_with_tricky_labels(tmp_path):
    frame = index(30)
    frame.loc[0, "text"] = "NA"
    frame.loc[1, "text"] = "null"
    frame.loc[2, "text"] = '"'
    made = splits.make_splits(frame, k=2, seed=0)
    splits.write_splits(made, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split-0", "split-1", "test.csv"]
    back = pd.concat([splits.read_list(tmp_path / "test.csv"), splits.read_list(tmp_path / "split-0" / "train.csv"),
                      splits.read_list(tmp_path / "split-0" / "val.csv")])
    assert {"NA", "null", '"'} <= set(back.text)


def test_missing_list_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        splits.read_list(tmp_path / "nope.csv")
