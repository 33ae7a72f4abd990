"""The default lexicon kept on disk: the same lexicon as a fresh build, loaded instead of built,
rebuilt when anything it depends on changes, and never in the way when the disk is."""

import os
import string

import numpy as np
import pytest

from hwr.data.charset import Charset
from hwr.decoding import lexicon, lexicon_cache

IAM = Charset(tuple(sorted(set(string.ascii_letters + string.digits + "!\"#&'()*+,-./:;?"))))
LOWER = Charset(tuple(string.ascii_lowercase))
SIZE = 2_000  # small, so the build takes a fraction of a second


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(lexicon_cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def fresh(charset=IAM, size=SIZE):
    """default_lexicon's body, past the per-process lru_cache."""
    return lexicon.default_lexicon.__wrapped__(charset, size)


def refuse_to_build(monkeypatch):
    def build_default(*args, **kwargs):
        raise AssertionError("built although the cache holds it")

    monkeypatch.setattr(lexicon, "build_default", build_default)


def test_the_second_process_loads_the_lexicon_the_first_built(cache, monkeypatch):
    built = fresh()
    assert len(list(cache.glob("lexicon-*.npz"))) == 1
    refuse_to_build(monkeypatch)
    loaded = fresh()
    assert loaded.words == built.words and len(loaded) > 5_000
    np.testing.assert_array_equal(loaded._cumulative, built._cumulative)
    for word in ("the", "The", "'t", ".", "1950"):
        assert word in loaded and loaded.word_prior(word) == built.word_prior(word) > 0
    assert loaded.prefix_prior("th") == built.prefix_prior("th")


def test_another_charset_or_size_is_another_file(cache, monkeypatch):
    fresh()
    fresh(LOWER)
    fresh(IAM, SIZE // 2)
    assert len(list(cache.glob("lexicon-*.npz"))) == 3
    refuse_to_build(monkeypatch)
    assert all(set(word) <= set(LOWER.chars) for word in fresh(LOWER).words)


def test_a_change_to_the_building_code_reads_as_a_miss(cache, monkeypatch, tmp_path):
    first = lexicon_cache.cache_file(IAM.chars, SIZE)
    changed = []
    for i, path in enumerate(lexicon_cache.build_sources()):
        changed.append(tmp_path / f"{i}-{path.name}")
        changed[-1].write_text(path.read_text() + "# another version of the code\n")
    monkeypatch.setattr(lexicon_cache, "build_sources", lambda: changed)
    assert lexicon_cache.cache_file(IAM.chars, SIZE) != first


def test_a_damaged_file_is_rebuilt_and_replaced(cache):
    built = fresh()
    [stored] = cache.glob("lexicon-*.npz")
    stored.write_bytes(b"PK\x03\x04 not a whole archive")
    assert fresh().words == built.words
    assert lexicon_cache.load(stored)[0] == built.words  # the rebuild wrote a good file again


def test_an_unwritable_folder_costs_only_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be made below a file")
    monkeypatch.setenv(lexicon_cache.CACHE_DIR_ENV, str(blocker / "cache"))
    assert "the" in fresh()
    assert not (blocker / "cache").exists()


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv(lexicon_cache.CACHE_DIR_ENV, "none")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert lexicon_cache.cache_dir() is None
    assert "the" in fresh()
    assert not list(tmp_path.rglob("lexicon-*"))


def test_default_folder_follows_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv(lexicon_cache.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert lexicon_cache.cache_dir() == tmp_path / "xdg" / "hwr"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lexicon_cache.cache_dir() == tmp_path / ".cache" / "hwr"


def test_no_half_written_file_is_left_behind(cache):
    fresh()
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".npz")] == []
    assert all(os.path.getsize(p) > 0 for p in cache.iterdir())


def test_code_that_cannot_be_read_as_files_turns_the_cache_off(cache, monkeypatch, tmp_path):
    monkeypatch.setattr(lexicon_cache, "build_sources", lambda: [tmp_path / "nowhere" / "lexicon.py"])
    assert lexicon_cache.cache_file(IAM.chars, SIZE) is None
    assert "the" in fresh()
    assert not cache.exists()
