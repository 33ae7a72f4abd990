"""Safe extraction of a data set's archive (.zip, .tar, .tar.gz): no member may leave the target."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from hwr.errors import DataError


def _check_member_name(name: str) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise DataError(f"archive member {name!r} would be written outside the target folder: refusing the archive")


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise DataError(f"{archive}: member {bad!r} is corrupt (CRC mismatch)")
        for info in zf.infolist():
            _check_member_name(info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(f"archive member {info.filename!r} is a symbolic link: refusing the archive")
        zf.extractall(target)


def _extract_tar(archive: Path, target: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            # The "data" filter refuses absolute paths, "..", links leaving the target and devices.
            tf.extractall(target, filter="data")
    except tarfile.FilterError as exc:
        raise DataError(f"{archive}: unsafe member refused ({exc})") from None
    except tarfile.TarError as exc:
        raise DataError(f"{archive}: not a readable tar archive ({exc})") from None


def extract_archive(archive: Path, target: Path) -> None:
    """Extract a .zip or .tar(.gz) archive into `target`, refusing any member that would escape it."""
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, target)
    elif tarfile.is_tarfile(archive):
        _extract_tar(archive, target)
    else:
        raise DataError(f"{archive} is neither a zip nor a tar archive")


def extract_dataset(archive: Path, target: Path, markers: tuple[str, ...] = ("words.txt",)) -> Path:
    """Extract a data set's archive into `target`, all or nothing: the folder inside it that holds
    one of `markers` (the shallowest) becomes `target`.

    Accepts the public IAM_Words.zip (IAM_Words/words.txt + IAM_Words/words.tgz), archives that
    already hold words.txt beside a words/ folder, and (with labels.tsv among the markers) a
    user's labelled folder. Work happens in a temporary folder that is renamed into place only
    when everything is extracted and the marker is found.
    """
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        extract_archive(archive, staging)
        found = sorted((p for name in markers for p in staging.rglob(name)), key=lambda p: len(p.parts))
        if not found:
            raise DataError(f"{archive} holds no {' or '.join(markers)}: not a data set's archive")
        root = found[0].parent
        inner = root / "words.tgz"
        if inner.is_file() and not (root / "words").is_dir():
            (root / "words").mkdir()
            _extract_tar(inner, root / "words")
            inner.unlink()
        shutil.rmtree(target, ignore_errors=True)
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
