import numpy as np
import pytest

from hwr.data.charset import BLANK, Charset, ctc_min_frames


def test_vocabulary_is_sorted_unique_and_blank_is_zero():
    cs = Charset.from_texts(["bca", "ab", "Z!"])
    assert cs.chars == ("!", "Z", "a", "b", "c")
    assert cs.num_classes == 6
    assert BLANK not in cs.encode("abc")


def test_encode_decode_round_trip_and_padding():
    cs = Charset.from_texts(["hello", "world"])
    batch = cs.encode_batch(["hello", "low"], max_len=7)
    assert batch.dtype == np.int32 and batch.shape == (2, 7)
    assert list(batch[1, 3:]) == [0, 0, 0, 0]
    assert cs.decode(batch[0]) == "hello"
    assert cs.decode(batch[1]) == "low"


def test_unknown_character_is_named():
    cs = Charset.from_texts(["abc"])
    with pytest.raises(ValueError, match="'z'"):
        cs.encode("abz")


def test_label_longer_than_max_len_is_refused():
    cs = Charset.from_texts(["abc"])
    with pytest.raises(ValueError, match="longer than 2"):
        cs.encode_batch(["abc"], max_len=2)


def test_save_and_load(tmp_path):
    cs = Charset.from_texts(["naïve", "café"])
    cs.save(tmp_path / "vocab.json")
    assert Charset.load(tmp_path / "vocab.json") == cs


def test_ctc_needs_a_blank_between_repeated_letters():
    assert ctc_min_frames("abc") == 3
    assert ctc_min_frames("letter") == 7  # "tt"
    assert ctc_min_frames("aaa") == 5
