import io
import tarfile
import zipfile

import pytest

from hwr.data import archives, iam
from hwr.errors import DataError
from tests.iam_fixture import build_iam_zip, render_iam_folder

IAM_ROWS = """#--- words.txt ---------------------------------------------------------------#
#
# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A
a01-000u-00-00 ok 154 408 768 27 51 AT A
a01-000u-00-01 ok 154 507 766 213 48 NN MOVE
a01-000u-00-02 err 154 796 764 70 50 TO to
a01-000u-00-03 ok 154 919 757 166 78 VB stop
"""


def test_parse_words_txt(tmp_path):
    (tmp_path / "words.txt").write_text(IAM_ROWS)
    records = iam.parse_words_txt(tmp_path / "words.txt")
    assert [r.text for r in records] == ["A", "MOVE", "to", "stop"]
    assert records[2].result == "err"
    assert records[1].form == "a01-000u"
    assert records[1].relative_path == "words/a01/a01-000u/a01-000u-00-01.png"
    assert records[3].box == (919, 757, 166, 78)


def test_write_then_parse_round_trip(tmp_path):
    records = [iam.WordRecord("s00-001-00-02", "ok", 128, (0, 0, 10, 20), "XX", "hello")]
    iam.write_words_txt(tmp_path / "words.txt", records)
    assert iam.parse_words_txt(tmp_path / "words.txt") == records


def test_malformed_row_names_the_line(tmp_path):
    (tmp_path / "words.txt").write_text("a01-000u-00-00 ok 154 408\n")
    with pytest.raises(DataError, match="words.txt:1"):
        iam.parse_words_txt(tmp_path / "words.txt")


def test_index_drops_err_rows_and_unreadable_images(tmp_path):
    render_iam_folder(tmp_path, forms=2, per_form=4, bad_rows=1)
    broken = tmp_path / "words/a01/a01-001u/a01-001u-00-03.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "words/a01/a01-000u/a01-000u-00-00.png").unlink()
    frame, counts = iam.index_words(tmp_path)
    assert counts == {"words_total": 10, "words_dropped_err": 2, "words_dropped_unreadable": 2, "words_usable": 6}
    assert len(frame) == 6 and set(frame.form) == {"a01-000u", "a01-001u"}
    assert all((tmp_path / p).is_file() for p in frame.path)


def test_folder_without_words_txt_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no words.txt"):
        iam.index_words(tmp_path)


def test_extracts_the_public_archive_layout(tmp_path):
    render_iam_folder(tmp_path / "src", forms=2, per_form=3)
    archive = build_iam_zip(tmp_path / "src", tmp_path / "IAM_Words.zip")
    target = archives.extract_dataset(archive, tmp_path / "out")
    assert (target / "words.txt").is_file()
    assert len(list((target / "words").rglob("*.png"))) == 6
    assert not (target / "words.tgz").exists()
    assert not (tmp_path / "out.partial").exists()


def zip_with(tmp_path, name, data=b"x", symlink=False):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("IAM_Words/words.txt", "")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (0o120777 << 16)
        zf.writestr(info, data)
    return archive


@pytest.mark.parametrize("name", ["../escape.txt", "IAM_Words/../../escape.txt", "/tmp/abs-escape.txt",
                                  "C:/windows.txt", "..\\back.txt"])
def test_zip_members_escaping_the_target_are_refused(tmp_path, name):
    archive = zip_with(tmp_path, name)
    with pytest.raises(DataError, match="outside the target"):
        archives.extract_dataset(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "out.partial").exists()


def test_zip_symlinks_are_refused(tmp_path):
    archive = zip_with(tmp_path, "IAM_Words/link", data=b"/etc/passwd", symlink=True)
    with pytest.raises(DataError, match="symbolic link"):
        archives.extract_dataset(archive, tmp_path / "out")


def tar_with(tmp_path, member: tarfile.TarInfo, data=b""):
    archive = tmp_path / "evil.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        words = tarfile.TarInfo("words.txt")
        tar.addfile(words, io.BytesIO(b""))
        tar.addfile(member, io.BytesIO(data) if data else None)
    return archive


def test_tar_with_parent_path_is_refused(tmp_path):
    member = tarfile.TarInfo("../escape.txt")
    member.size = 1
    archive = tar_with(tmp_path, member, b"x")
    with pytest.raises(DataError, match="unsafe member"):
        archives.extract_dataset(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_tar_with_link_out_of_target_is_refused(tmp_path):
    member = tarfile.TarInfo("words/evil")
    member.type = tarfile.SYMTYPE
    member.linkname = "/etc/passwd"
    archive = tar_with(tmp_path, member)
    with pytest.raises(DataError, match="unsafe member"):
        archives.extract_dataset(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_archive_without_words_txt_is_refused(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(DataError, match="no words.txt"):
        archives.extract_dataset(archive, tmp_path / "out")


def test_not_an_archive_is_refused(tmp_path):
    bogus = tmp_path / "IAM_Words.zip"
    bogus.write_bytes(b"<html>404 page</html>")
    with pytest.raises(DataError, match="neither a zip nor a tar"):
        archives.extract_dataset(bogus, tmp_path / "out")
