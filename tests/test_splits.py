import pandas as pd
import pytest

from hwr.data import splits
from hwr.data.charset import Charset
from hwr.errors import DataError
from hwr.pipeline import artifacts


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


def test_a_training_fetches_its_split_as_the_prepare_step_logged_it(tmp_path):
    made = splits.make_splits(index(60), k=2, seed=0)
    logged = tmp_path / "prepare-run"  # the artifact layout of a prepare run, as a local artifact URI
    splits.write_splits(made, logged / splits.SPLITS_ARTIFACT)
    Charset.from_texts(index(60)["text"]).save(logged / splits.CHARSET_ARTIFACT)

    fetched = artifacts.fetch_split(str(logged), 1, tmp_path / "fetched")
    assert list(fetched.train.path) == list(made.folds[1][0].path)
    assert list(fetched.val.path) == list(made.folds[1][1].path)
    assert list(fetched.test.path) == list(made.test.path)
    assert fetched.charset.chars == Charset.from_texts(index(60)["text"]).chars
    assert list(artifacts.fetch_test_list(str(logged)).path) == list(made.test.path)

    with pytest.raises(DataError, match=r"prepare-run: no split 2 \(there are: split-0, split-1\)"):
        artifacts.fetch_split(str(logged), 2, tmp_path / "again")
    with pytest.raises(DataError, match="cannot fetch the prepared splits"):
        artifacts.fetch_split(str(tmp_path / "no-such-run"), 0, tmp_path / "none")


def test_missing_list_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        splits.read_list(tmp_path / "nope.csv")


def grouped_index():
    """12 forms of uneven size; forms map to 6 writers, one of them prolific."""
    rows = []
    for f in range(12):
        size = 120 if f == 0 else 10 + 3 * f
        rows += [{"form": f"a{f:02d}-000", "path": f"w/{f}-{i}.png", "text": f"w{f}{i}"} for i in range(size)]
    return pd.DataFrame(rows)


WRITERS = {f"a{f:02d}-000": f"writer{f % 6}" for f in range(12)}


def groups_of(frame, writers=None):
    forms = {p.split("/")[1].split("-")[0] for p in frame.path}
    forms = {f"a{int(f):02d}-000" for f in forms}
    return {writers[f] for f in forms} if writers else forms


@pytest.mark.parametrize("by, writers", [("form", None), ("writer", WRITERS)])
def test_grouped_splits_keep_every_group_on_one_side(by, writers):
    made = splits.make_splits(grouped_index(), k=3, seed=4, test_fraction=0.2, by=by, writers=writers)
    test = groups_of(made.test, writers)
    for train, val in made.folds:
        assert not test & groups_of(train, writers)
        assert not test & groups_of(val, writers)
        assert not groups_of(train, writers) & groups_of(val, writers)
        assert len(train) + len(val) + len(made.test) == len(grouped_index())


def test_grouped_test_set_stays_near_its_share_despite_a_prolific_group():
    index = grouped_index()
    for seed in range(20):
        made = splits.make_splits(index, k=1, seed=seed, test_fraction=0.2, by="form")
        assert 0.2 * 0.85 * len(index) <= len(made.test) <= 0.2 * 1.15 * len(index)
        assert "a00-000" not in groups_of(made.test)  # the prolific form (28 % of all words) would overshoot


def test_writer_split_needs_a_writer_for_every_form():
    with pytest.raises(DataError, match="no writer for 1 forms"):
        splits.make_splits(grouped_index(), k=1, seed=0, by="writer",
                           writers={k: v for k, v in WRITERS.items() if k != "a03-000"})
    with pytest.raises(DataError, match="needs writers=FILE"):
        splits.make_splits(grouped_index(), k=1, seed=0, by="writer")


def test_writers_file_is_read_and_checked(tmp_path):
    good = tmp_path / "forms_writers.tsv"
    good.write_text("form\twriter\na01-000u\t000\na01-003\t002\n")
    assert splits.read_writers(good) == {"a01-000u": "000", "a01-003": "002"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("form,writer\na01-000u,000\n")
    with pytest.raises(DataError, match="expected tab-separated columns"):
        splits.read_writers(bad)
    with pytest.raises(DataError, match="does not exist"):
        splits.read_writers(tmp_path / "nope.tsv")
