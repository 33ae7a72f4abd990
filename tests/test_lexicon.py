import string

import numpy as np
import pytest

from hwr.data.charset import Charset
from hwr.decoding.decode import lexicon_decode, softmax
from hwr.decoding.lexicon import APOSTROPHE_SUFFIXES, Lexicon, build, build_default, default_lexicon, from_file

# IAM's characters: letters of both cases, digits and its punctuation marks.
IAM = Charset(tuple(sorted(set(string.ascii_letters + string.digits + "!\"#&'()*+,-./:;?"))))
LOWER = Charset(tuple(string.ascii_lowercase))


def test_membership_and_prefixes():
    lexicon = Lexicon(["can", "cant", "cat", "", "can"])
    assert len(lexicon) == 3
    assert "can" in lexicon and "ca" not in lexicon and "" not in lexicon
    assert lexicon.is_prefix("") and lexicon.is_prefix("ca") and lexicon.is_prefix("cant")
    assert not lexicon.is_prefix("cb") and not lexicon.is_prefix("cants") and not lexicon.is_prefix("d")


def test_contractions_are_split_the_way_iam_labels_them():
    lexicon = build(["don't", "it's", "kennedy's"], IAM)
    for token in ("don", "it", "kennedy", "'t", "'s", *APOSTROPHE_SUFFIXES):
        assert token in lexicon, token
    assert "don't" in lexicon  # the whole form stays, for text written as one word


def test_every_token_comes_in_lower_capitalised_and_upper_case():
    lexicon = build(["kennedy", "i'm"], IAM)
    for token in ("kennedy", "Kennedy", "KENNEDY", "i", "I", "'m", "'M", "I'm", "I'M"):
        assert token in lexicon, token


def test_abbreviations_keep_their_period():
    lexicon = build(["p.m", "u.s"], IAM)
    for token in ("Mr.", "MRS.", "Dr.", "St.", "etc.", "p.m.", "P.M.", "U.S."):
        assert token in lexicon, token


def test_punctuation_marks_of_the_charset_are_words():
    lexicon = build([], IAM)
    for mark in ".,'\"-!?;:()#&*+/":
        assert mark in lexicon, mark
    assert "a" not in lexicon


def test_entries_the_model_cannot_write_are_dropped():
    lexicon = build(["café", "cafe", "don't"], LOWER)
    assert "cafe" in lexicon and "don" in lexicon
    assert "café" not in lexicon and "Cafe" not in lexicon and "'t" not in lexicon and "don't" not in lexicon
    assert all(set(word) <= set(LOWER.chars) for word in lexicon.words)


def test_default_lexicon_is_general_english_in_iam_tokens_built_once_per_process():
    lexicon = default_lexicon(IAM)
    assert default_lexicon(IAM) is lexicon
    assert 500_000 < len(lexicon) < 700_000  # 200k words, their case variants and IAM pieces
    for token in ("the", "The", "THE", "because", "Kennedy", "don", "'t", "'s", ".", ",", "Mr.", "1", "30", "1950"):
        assert token in lexicon, token
    # wordfreq writes longer numbers with their digits replaced by 0: placeholders, not words.
    assert "0000" not in lexicon and "00" not in lexicon and "10000" not in lexicon
    assert all(set(word) <= set(IAM.chars) for word in lexicon.words)


def test_building_the_default_lexicon_leaves_wordfreqs_word_lists_uncached(tmp_path, monkeypatch):
    import wordfreq

    monkeypatch.setenv("HWR_CACHE_DIR", str(tmp_path))  # an empty cache: default_lexicon builds

    cached = (wordfreq.get_frequency_dict, wordfreq.get_frequency_list, wordfreq.top_n_list)
    built = build_default(IAM, 2_000)
    assert all(function.cache_info().currsize > 0 for function in cached)  # what the build filled
    # default_lexicon's own body (its lru_cache may already hold this charset and size).
    lexicon = default_lexicon.__wrapped__(IAM, 2_000)
    assert lexicon.words == built.words
    assert [function.cache_info().currsize for function in cached] == [0, 0, 0]
    assert lexicon.word_prior("the") == built.word_prior("the") > 0


def test_word_priors_sum_over_prefixes():
    lexicon = Lexicon(["can", "cant", "cat", "dog"], {"can": 2.0, "cant": 1.0, "cat": 1.0, "dog": 4.0})
    assert lexicon.prefix_prior("") == pytest.approx(1.0)
    assert lexicon.prefix_prior("ca") == pytest.approx(0.5)
    assert lexicon.prefix_prior("can") == pytest.approx(0.375)
    assert lexicon.word_prior("can") == pytest.approx(0.25)
    assert lexicon.word_prior("ca") == 0.0 and lexicon.prefix_prior("x") == 0.0
    with pytest.raises(ValueError, match="no word frequencies"):
        Lexicon(["can"]).prefix_prior("c")


def test_default_lexicon_priors_follow_english_and_iam_usage():
    lexicon = default_lexicon(IAM)
    assert lexicon.has_prior
    assert lexicon.prefix_prior("") == pytest.approx(1.0)
    prior = lexicon.word_prior
    assert prior("the") > prior("The") > prior("THE") > 0
    assert prior("the") > 100 * prior("tho")
    assert prior("I") > 10 * prior("i")  # "I" is not written in lower case
    assert prior(".") > prior(",") > prior("(") > 0
    marks = sum(prior(mark) for mark in lexicon.words if not any(c.isalnum() for c in mark) and len(mark) == 1)
    assert 0.08 < marks < 0.12  # IAM: 10 % of the words are punctuation marks
    assert all(prior(word) > 0 for word in lexicon.words[::997])


def test_a_user_word_list_replaces_the_lexicon_as_written(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("Zanzibar\n  okapi \n\ncafé\n", encoding="utf-8")
    lexicon = from_file(path, IAM)
    assert lexicon.words == ("Zanzibar", "okapi")
    # Lexicon decoding then only ever returns one of them.
    probs = softmax(np.random.default_rng(0).normal(size=(1, 32, IAM.num_classes)))
    [result] = lexicon_decode(probs, IAM, lexicon, beam_width=50)
    assert result.text in lexicon


def test_a_user_word_list_with_no_usable_word_is_refused(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("café\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no word written only with the model's characters"):
        from_file(path, IAM)


def test_own_words_travel_with_the_model_and_add_up_over_an_ensemble(tmp_path):
    from hwr.decoding.own_words import OwnWords

    own = OwnWords.of(["Regiment.", "the", "Regiment."], 0.5)
    own.save(tmp_path / "own_words.json")
    assert OwnWords.load(tmp_path / "own_words.json") == own == OwnWords({"Regiment.": 2, "the": 1}, 0.5)
    merged = OwnWords.merged([own, OwnWords.of(["the", "£1000"], 0.5)])
    assert merged.counts == {"Regiment.": 2, "the": 2, "£1000": 1}
    lexicon = merged.lexicon(Charset.from_texts([string.ascii_letters + ".£0123456789"]), 2000)
    assert "£1000" in lexicon and "Regiment." in lexicon and "house" in lexicon
    # A line model's labels are lines: each of their words counts.
    assert OwnWords.of(["the Regiment.", "the"], 0.5).counts == {"the": 2, "Regiment.": 1}
    (tmp_path / "bad.json").write_text('{"weight": 2, "counts": {}}')
    with pytest.raises(ValueError, match="own_words artifact .*bad.json is unreadable"):
        OwnWords.load(tmp_path / "bad.json")
