"""A line model's output read word by word, and served: the words, their places, their decoders."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from hwr.data.charset import BLANK, Charset
from hwr.data.lines import join_words
from hwr.decoding.lexicon import Lexicon
from hwr.decoding.line_words import word_frames, word_regions
from hwr.decoding.recognizer import Recognizer
from hwr.model.variants import build_model

CHARSET = Charset.from_texts(["ab ba"])  # ' ' = 1, 'a' = 2, 'b' = 3
WIDTH = 64  # 16 frames
_, SPACE, A, B = range(4)
# "ab" on frames 0-3, spaces, "ba" on frames 8-11, then blanks.
PATH = [A, A, BLANK, B, BLANK, SPACE, SPACE, BLANK, B, B, BLANK, A, BLANK, BLANK, BLANK, BLANK]


def logits_of(path, certainty=8.0):
    logits = np.zeros((len(path), CHARSET.num_classes), dtype=np.float32)
    logits[np.arange(len(path)), path] = certainty
    return logits[None]


def test_words_are_the_frames_between_spaces():
    assert word_frames(np.array(PATH), SPACE) == [(0, 4), (8, 12)]
    assert word_frames(np.array([SPACE, BLANK, A, SPACE]), SPACE) == [(2, 3)]
    assert word_frames(np.array([BLANK, SPACE, BLANK]), SPACE) == []
    # Each word is decoded on its frames and half of the gaps beside it.
    assert word_regions([(0, 4), (8, 12)], 16) == [(0, 6), (6, 16)]


@pytest.fixture(scope="module")
def recognizer():
    model = build_model("compact", 32, WIDTH, CHARSET.num_classes)
    return Recognizer(model, CHARSET, lexicon=Lexicon(["ab", "ba", "bb"]), reads_lines=True)


def test_a_line_model_reads_word_by_word_with_every_decoder(recognizer):
    assert recognizer.reads_lines
    for decoder in ("greedy", "beam", "lexicon", "hybrid"):
        (words,) = recognizer.read_lines(logits_of(PATH), decoder)
        assert [w.decoded.text for w in words] == ["ab", "ba"]
        assert [(w.start, w.end) for w in words] == [(0, 4), (8, 12)]
        (line,) = recognizer.decode(logits_of(PATH), decoder)
        assert line.text == "ab ba"
        assert line.log_prob == pytest.approx(sum(w.decoded.log_prob for w in words))
    # The lexicon decoder picks a lexicon word for each word: a hesitant "bx" becomes "bb" or "ba".
    blurred = logits_of(PATH)
    blurred[0, 11] = 0.0
    (words,) = recognizer.read_lines(blurred, "lexicon")
    assert all(w.decoded.text in ("ab", "ba", "bb") for w in words)


def png_b64(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def served(recognizer, monkeypatch, path):
    from hwr.serving.pyfunc import HwrModel

    model = HwrModel()
    model.recognizer = recognizer
    monkeypatch.setattr(recognizer, "logits", lambda batch: np.repeat(logits_of(path), len(batch), axis=0))
    return model


def line_image(width=256, height=32):
    """Two words of ink, at columns [8, 72) and [120, 200)."""
    image = Image.new("L", (width, height), 250)
    ImageDraw.Draw(image).rectangle([8, 8, 71, 24], fill=30)
    ImageDraw.Draw(image).rectangle([120, 6, 199, 26], fill=30)
    return image


def test_the_served_line_model_answers_each_word_with_its_place(recognizer, monkeypatch):
    model = served(recognizer, monkeypatch, PATH)
    blank = Image.new("L", (300, 40), 245)
    out = model.predict(None, pd.DataFrame({"image": [png_b64(line_image()), png_b64(blank)]}))

    assert list(out.columns) == ["text", "confidence", "words"]
    assert out["text"][0] == "ab ba" and 0 < out["confidence"][0] <= 1
    words = out["words"][0]
    assert join_words([w["text"] for w in words]) == out["text"][0]
    # The image is scaled by 1/4 into the 64-wide canvas; a frame is 4 canvas columns: 16 image
    # columns. The path reads the words at [0, 64) and [128, 192); each span is its word's ink.
    assert [(w["left"], w["right"]) for w in words] == [(8, 72), (120, 200)]
    assert all(0 < w["confidence"] <= 1 for w in words)
    # Blank paper is a documented answer, not an error: no text, no words, certain.
    assert (out["text"][1], out["confidence"][1], out["words"][1]) == ("", 1.0, [])


@pytest.mark.parametrize("image, message", [
    (Image.new("L", (30, 200), 250), "wider than tall"),
    (Image.new("L", (20_000, 40), 250), "wider than a line can be"),
])
def test_the_served_line_model_refuses_what_is_not_a_line(recognizer, monkeypatch, image, message):
    from mlflow.exceptions import MlflowException

    model = served(recognizer, monkeypatch, PATH)
    with pytest.raises(MlflowException, match=f"row 1: .*{message}.*no row was read"):
        model.predict(None, pd.DataFrame({"image": [png_b64(line_image()), png_b64(image)]}))


def test_warming_up_a_line_model_builds_its_lexicon(monkeypatch):
    from hwr.decoding import decode as decode_module

    built = []
    monkeypatch.setattr(decode_module, "default_lexicon", lambda charset, size: built.append(size) or Lexicon(["ab"]))
    model = build_model("compact", 32, WIDTH, CHARSET.num_classes)
    Recognizer(model, CHARSET, reads_lines=True).warm_up()  # a blank warm-up read holds no word to decode
    assert built == [Recognizer(model, CHARSET).settings.lexicon_size]


def test_the_lexicon_decoders_keep_the_punctuation_after_a_word():
    from hwr.decoding.line_words import trailing_marks

    charset = Charset.from_texts(["ab ba,."])  # ' ' 1, ',' 2, '.' 3, 'a' 4, 'b' 5
    space, comma, stop, a, b = 1, 2, 3, 4, 5
    path = np.array([a, BLANK, b, BLANK, comma, space, b, a, a, stop, stop, BLANK, BLANK, BLANK, BLANK, BLANK])
    assert trailing_marks(path, 0, 5, charset) == (",", 4)
    assert trailing_marks(path, 6, 11, charset) == (".", 9)
    assert trailing_marks(np.array([comma, stop]), 0, 2, charset) == ("", 2)  # punctuation alone stays a word
    assert trailing_marks(np.array([a, b]), 0, 2, charset) == ("", 2)
    logits = np.zeros((1, len(path), charset.num_classes), dtype=np.float32)
    logits[0, np.arange(len(path)), path] = 8.0
    recognizer = Recognizer(build_model("compact", 32, WIDTH, charset.num_classes), charset,
                            lexicon=Lexicon(["ab", "ba"]), reads_lines=True)
    for decoder in ("greedy", "lexicon", "hybrid"):
        (line,) = recognizer.decode(logits, decoder)
        assert line.text == "ab, ba.", decoder


def test_a_model_reads_lines_only_when_logged_as_a_line_model(tmp_path):
    """IAM's word labels hold a space too ("M P"): the alphabet does not make a line model."""
    from types import SimpleNamespace

    from hwr.serving.pyfunc import UNIT_CONFIG, HwrModel

    build_model("compact", 32, WIDTH, CHARSET.num_classes).save(tmp_path / "model.keras")
    CHARSET.save(tmp_path / "charset.json")
    artifacts = {"keras_model": str(tmp_path / "model.keras"), "charset": str(tmp_path / "charset.json")}
    for config, reads_lines in ((None, False), ({UNIT_CONFIG: "word"}, False), ({UNIT_CONFIG: "line"}, True)):
        model = HwrModel()
        model.load_context(SimpleNamespace(artifacts=artifacts, model_config=config))
        assert model.recognizer.reads_lines is reads_lines
    word_model = Recognizer(build_model("compact", 32, WIDTH, CHARSET.num_classes), CHARSET)
    (text,) = word_model.decode(logits_of(PATH))
    assert text.text == "ab ba" and not word_model.reads_lines  # greedy over the whole image, as for words


def test_a_line_readers_word_model_reads_each_word_cut_out_at_its_ink(recognizer, monkeypatch):
    word_charset = Charset.from_texts(["xyz,"])  # ',' = 1, 'x' = 2, 'y' = 3
    word_model = build_model("compact", 32, WIDTH, word_charset.num_classes)
    word_reader = Recognizer(word_model, word_charset)
    cut_out = []

    def word_logits(batch):
        cut_out.append(batch)
        logits = np.zeros((2, 16, word_charset.num_classes), dtype=np.float32)
        for row, path in enumerate(([2, 0, 3, 3] + [0] * 12, [1] + [0] * 15)):  # "xy", ","
            logits[row, np.arange(16), path] = 8.0
        return logits

    monkeypatch.setattr(word_reader, "logits", word_logits)
    model = served(recognizer, monkeypatch, PATH)
    model.word_reader = word_reader
    out = model.predict(None, pd.DataFrame({"image": [png_b64(line_image())]}))

    words = out["words"][0]
    # The word model's readings, joined as a line is written: a comma goes against the word before it.
    assert [w["text"] for w in words] == ["xy", ","] and out["text"][0] == "xy,"
    assert [(w["left"], w["right"]) for w in words] == [(8, 72), (120, 200)]  # the places stay the line model's
    assert out["confidence"][0] == pytest.approx(words[0]["confidence"] * words[1]["confidence"])
    # Both words in one batch, each cut to its ink (and a margin) and scaled alone: about 15 rows of
    # ink each, where the whole line's canvas gives them 4 or 5.
    (batch,) = cut_out
    assert batch.shape == (2, 32, WIDTH)
    assert all((crop > 128).any(axis=1).sum() >= 12 for crop in batch)


def test_a_word_at_the_images_edge_is_cut_out_without_a_border(monkeypatch):
    from hwr.data.lines import Span, ink_mask
    from hwr.serving.pyfunc import HwrModel

    charset = Charset.from_texts(["x"])
    reader = Recognizer(build_model("compact", 32, WIDTH, charset.num_classes), charset)
    cut_out = []
    monkeypatch.setattr(reader, "logits", lambda batch: cut_out.append(batch) or np.zeros((len(batch), 16, 2), np.float32))
    model = HwrModel()
    model.word_reader = reader
    gray = Image.new("L", (100, 30), 255)
    ImageDraw.Draw(gray).rectangle([10, 0, 14, 19], fill=0)  # a thin stroke touching the top edge
    model.read_words([[("x", 1.0, 10, 15, Span(10, 15, 0, 20))]], [(gray, ink_mask(gray))], "greedy", 1)
    (canvas,) = cut_out[0]
    ink = canvas > 128
    # Cut out with 4 px of paper on each side where the image has it; none invented beyond the top
    # edge (cropping past it would add a black band: a row of ink from side to side).
    used = np.flatnonzero((canvas > 0).any(axis=0) | ink.any(axis=0))
    assert ink.any() and ink.sum(axis=1).max() <= 0.6 * (used[-1] + 1)


def test_a_line_reader_answers_blank_paper_as_a_line_model_does(recognizer, monkeypatch):
    word_reader = Recognizer(build_model("compact", 32, WIDTH, CHARSET.num_classes), CHARSET)
    model = served(recognizer, monkeypatch, [BLANK] * 16)
    model.word_reader = word_reader
    out = model.predict(None, pd.DataFrame({"image": [png_b64(Image.new("L", (300, 40), 245))]}))
    assert (out["text"][0], out["confidence"][0], out["words"][0]) == ("", 1.0, [])
