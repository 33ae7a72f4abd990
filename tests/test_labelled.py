"""A user's labelled folder: labels.tsv read strictly, every row checked, archives and names."""

import pandas as pd
import pytest

from hwr.data import datasets, labelled, splits
from hwr.data.fetch import sha256_of
from hwr.errors import DataError
from hwr.pipeline.registry import DEFAULT_MODEL_NAME, held_back, model_name_for
from tests.folder_fixture import BAD_ROWS, build_folder, tar_folder, usable_rows, zip_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_folder(tmp_path_factory.mktemp("scans") / "letters")


def test_every_bad_row_is_rejected_with_its_reason_and_the_rest_kept(folder):
    checked = labelled.load(folder)
    rejected = dict(zip(checked.rejected["file"], checked.rejected["reason"]))
    assert rejected == BAD_ROWS
    assert len(checked.words) == usable_rows()
    # The extra columns stay with each word; paths are relative to the folder, PNG and JPEG alike.
    assert list(checked.words.columns) == ["id", "path", "text", "page", "writer"]
    assert {p.rsplit(".", 1)[1] for p in checked.words["path"]} == {"png", "jpg"}
    counts = checked.counts
    assert counts["rows_total"] == usable_rows() + len(BAD_ROWS) and counts["words_usable"] == usable_rows()
    assert counts["rejected_missing_file"] == 1 and counts["rejected_duplicate_file"] == 1
    # Each rejected row names its line in labels.tsv.
    lines = (folder / "labels.tsv").read_text().splitlines()
    for line, file in zip(checked.rejected["line"], checked.rejected["file"]):
        assert lines[line - 1].startswith(file + "\t")


def test_a_file_outside_the_folder_is_rejected(tmp_path, folder):
    (tmp_path / "labels.tsv").write_text(f"file\ttext\n../{folder.name}/x.png\tx\n{folder}/images/p0/w00.png\tthe\n")
    checked = labelled.load(tmp_path)
    assert list(checked.rejected["reason"]) == ["outside the folder", "outside the folder"]


def test_too_few_usable_rows_stop_with_the_reasons(folder):
    checked = labelled.load(folder)
    with pytest.raises(DataError, match=r"39 of 45 rows usable; rejected .*1 missing file.*at least 100"):
        checked.require(100)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"image\ttext\nx.png\thello\n", r"labels.tsv:1: missing column\(s\) file"),
        (b"file\ttext\nx.png\thello\ny.png\thello\textra\n",
         r"labels.tsv:3: 3 tab-separated field\(s\), the header has 2"),
        (b"file\ttext\nx.png\thello\ny.png\tcaf\xe9\n", r"labels.tsv:3: not UTF-8"),
        (b"file\ttext\tpath\nx.png\thello\tp\n", r"labels.tsv:1: column names must be unique and not id, path"),
    ],
)
def test_a_malformed_labels_file_names_the_file_and_line(tmp_path, content, message):
    (tmp_path / "labels.tsv").write_bytes(content)
    with pytest.raises(DataError, match=message):
        labelled.read_folder(tmp_path)


def test_windows_line_ends_a_byte_order_mark_and_blank_lines_are_read(tmp_path):
    (tmp_path / "labels.tsv").write_bytes(b"\xef\xbb\xbffile\ttext\r\nx.png\thello\r\n\r\ny.png\t world \r\n")
    rows = labelled.read_folder(tmp_path)
    assert list(rows["file"]) == ["x.png", "y.png"] and list(rows["line"]) == [2, 4]
    assert list(rows["text"]) == ["hello", " world "]


def test_a_folder_as_zip_or_tar_gz_reads_the_same_words_and_checks_its_digest(tmp_path, folder):
    direct = datasets.user_folder(tmp_path / "data", str(folder))
    assert direct.data_dir == folder.resolve() and direct.source == str(folder.resolve())
    for archive in (zip_folder(folder, tmp_path / "letters.zip"), tar_folder(folder, tmp_path / "letters.tar.gz")):
        unpacked = datasets.user_folder(tmp_path / "data", str(archive), sha256_of(archive))
        assert unpacked.data_dir.parent == (tmp_path / "data").resolve()
        pd.testing.assert_frame_equal(unpacked.index, direct.index)
        assert list(unpacked.checked.rejected["reason"]) == list(direct.checked.rejected["reason"])
    with pytest.raises(DataError, match="SHA-256 is"):
        datasets.user_folder(tmp_path / "other", str(tmp_path / "letters.zip"), "ab" * 32)
    with pytest.raises(DataError, match="sha256 checks an archive"):
        datasets.user_folder(tmp_path / "data", str(folder), "ab" * 32)
    with pytest.raises(DataError, match="no such folder or archive"):
        datasets.user_folder(tmp_path / "data", str(tmp_path / "nope"))


def test_split_by_any_column_keeps_its_values_on_one_side(folder):
    words = labelled.load(folder).words
    made = splits.make_splits(words, k=2, seed=3, test_fraction=0.25, val_fraction=0.25, by="page")
    test_pages = set(made.test["page"])
    for train, val in made.folds:
        assert not test_pages & set(train["page"]) and not test_pages & set(val["page"])
        assert not set(train["page"]) & set(val["page"])
    with pytest.raises(DataError, match="no column 'form' to keep together; choose random, page, writer"):
        splits.make_splits(words, k=1, seed=0, by="form")


def test_model_names_keep_a_users_data_out_of_hwr_by_default(tmp_path):
    assert model_name_for(None, "synthetic", None) == model_name_for(None, "iam", None) == DEFAULT_MODEL_NAME
    assert model_name_for(None, "folder", str(tmp_path / "gw-letters")) == "hwr-gw-letters"
    assert model_name_for(None, "folder", "https://example.org/scans/Letters.tar.gz") == "hwr-Letters"
    assert model_name_for("mine", "folder", str(tmp_path)) == "mine"
    assert model_name_for(None, "folder", str(tmp_path / "My Scans (1794)")) == "hwr-My-Scans-1794"


class _Version:
    def __init__(self, tags):
        self.tags, self.version = tags, "3"


def test_a_champion_is_only_replaced_from_the_same_data_family():
    general = _Version({})  # registered before families were recorded: synthetic or IAM words
    assert held_back("hwr", general, datasets.GENERAL) is None
    reason = held_back("hwr", general, "folder:/scans/letters")
    assert "hwr@champion (version 3) learnt from general, this model from folder:/scans/letters" in reason
    mine = _Version({"hwr.data_family": "folder:/scans/letters"})
    assert held_back("hwr-letters", mine, "folder:/scans/letters") is None
    assert held_back("hwr-letters", mine, datasets.GENERAL) is not None


def test_split_columns_are_known_before_the_download_when_they_can_be(tmp_path, folder):
    assert datasets.group_columns("folder", str(folder)) == ["page", "writer"]
    assert datasets.group_columns("iam", None) == ["form", "writer"]
    assert datasets.group_columns("folder", "https://example.org/letters.zip") is None  # known after the download
    with pytest.raises(DataError, match="split_by=colour: the words have no column 'colour' to keep together; "
                                        "choose random, page, writer"):
        splits.check_split_by("colour", datasets.group_columns("folder", str(folder)))


def test_an_images_folder_linked_into_the_folder_is_read(tmp_path, folder):
    (tmp_path / "subset").mkdir()
    (tmp_path / "subset" / "images").symlink_to(folder / "images")
    (tmp_path / "subset" / "labels.tsv").write_text("file\ttext\nimages/p1/w00.png\tthe\nimages/../../x.png\tx\n")
    checked = labelled.load(tmp_path / "subset")
    assert list(checked.words["path"]) == ["images/p1/w00.png"]
    assert list(checked.rejected["reason"]) == ["outside the folder"]


def test_hold_out_script_keeps_the_held_out_pages_out_of_every_training_folder(tmp_path, folder):
    from click.testing import CliRunner

    from scripts.hold_out import main as hold_out

    result = CliRunner().invoke(hold_out, [str(folder), str(tmp_path / "gw"), "--held-out", "3", "--train", "1,2"])
    assert result.exit_code == 0, result.output
    read = {name: labelled.load(tmp_path / "gw" / name) for name in ("held-out", "train-1", "train-2")}
    assert set(read["held-out"].words["page"]) == {"3"}
    assert set(read["train-1"].words["page"]) == {"0"} and set(read["train-2"].words["page"]) == {"0", "1"}
    # Every image is reached through the links it made: only the source's own bad rows are rejected.
    assert len(read["held-out"].words) == 10 and read["held-out"].rejected.empty
    assert len(read["train-1"].rejected) == len(BAD_ROWS)
    bad = CliRunner().invoke(hold_out, [str(folder), str(tmp_path / "x"), "--by", "chapter", "--held-out", "1"])
    assert bad.exit_code != 0 and "no column 'chapter'" in bad.output
