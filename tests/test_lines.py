"""Lines: their text, their composition from IAM word boxes, IAM's lines.txt, the synthetic lines,
and what is refused as not one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hwr.data import iam_lines, labelled, lines
from hwr.data.iam import WordRecord, write_words_txt
from hwr.data.synthetic import font_catalog, synth
from hwr.errors import InvalidImageError


def test_punctuation_and_clitics_stay_on_their_word():
    assert lines.join_words(["Mr.", "Smith", "'s", "dog", ",", "he", "said", "."]) == "Mr. Smith's dog, he said."
    assert lines.join_words(['"', "Yes", "(", "no", ")", "n't"]) == '" Yes ( no)n\'t'
    assert lines.join_words([]) == ""


def _iam_forms(target, layout):
    """An IAM words folder whose words sit at known boxes on their forms: layout is
    {form: [[word, ...] per line]}; each word is a solid block of its own gray level, so the test
    can see where it was pasted. Returns the records in words.txt order, shuffled within forms."""
    records, gray = [], 10
    for form, form_lines in layout.items():
        folder = target / "words" / form.split("-")[0] / form
        folder.mkdir(parents=True, exist_ok=True)
        for line_no, words in enumerate(form_lines):
            x = 100
            for n, text in enumerate(words):
                w, h = 30 + 10 * len(text), 40 + 5 * n
                word_id = f"{form}-{line_no:02d}-{n:02d}"
                image = Image.new("L", (w, h), 250)
                ImageDraw.Draw(image).rectangle([3, 3, w - 4, h - 4], fill=gray)
                image.save(folder / f"{word_id}.png")
                records.append(WordRecord(word_id, "ok", 154, (x, 500 + 150 * line_no - n, w, h), "NN", text))
                x += w + 25
                gray += 3
    write_words_txt(target / "words.txt", list(reversed(records)))  # order in the file must not matter
    return records


def test_iam_lines_are_their_words_pasted_in_their_boxes_in_reading_order(tmp_path):
    records = _iam_forms(tmp_path / "iam", {"a01-000u": [["A", "MOVE", "to", "stop", "."], ["Mr.", "Gaitskell"]],
                                            "a02-001": [["from", "nominating"]]})
    labels = iam_lines.compose_lines(tmp_path / "iam", tmp_path / "out", writers={"a01-000u": "000"})

    assert list(labels["text"]) == ["A MOVE to stop.", "Mr. Gaitskell", "from nominating"]
    assert list(labels["form"]) == ["a01-000u", "a01-000u", "a02-001"]
    assert list(labels["writer"]) == ["000", "000", ""]
    first = np.asarray(Image.open(tmp_path / "out" / labels["file"][0]))
    spans = [tuple(map(int, s.split(":"))) for s in labels["spans"][0].split()]
    line_words = [r for r in records if r.word_id.startswith("a01-000u-00")]
    assert len(spans) == len(line_words) == labels["words"][0]
    for record, (left, right) in zip(line_words, spans):
        word = np.asarray(Image.open(tmp_path / "iam" / record.relative_path))
        assert right - left == word.shape[1]
        column = first[:, left + word.shape[1] // 2]
        assert word.min() in column  # the word's own gray, at its place
    # Words keep their vertical offsets on the form: the last word was placed 4 px higher than the first.
    assert Image.open(tmp_path / "out" / labels["file"][0]).height > max(r.box[3] for r in line_words)
    # The folder reads as a labelled folder of lines.
    checked = labelled.load(tmp_path / "out")
    assert list(checked.words["text"]) == list(labels["text"]) and checked.rejected.empty


def test_iam_lines_of_some_forms_only(tmp_path):
    _iam_forms(tmp_path / "iam", {"a01-000u": [["A", "MOVE"]], "a02-001": [["from", "here"]]})
    labels = iam_lines.compose_lines(tmp_path / "iam", tmp_path / "out", forms={"a02-001"})
    assert list(labels["text"]) == ["from here"]
    with pytest.raises(Exception, match="no words of the requested forms"):
        iam_lines.compose_lines(tmp_path / "iam", tmp_path / "none", forms={"zzz"})


def test_iams_own_lines_archive_reads_as_a_folder(tmp_path):
    (tmp_path / "lines" / "a01" / "a01-000u").mkdir(parents=True)
    Image.new("L", (300, 40), 255).save(tmp_path / "lines/a01/a01-000u/a01-000u-00.png")
    Image.new("L", (300, 40), 255).save(tmp_path / "lines/a01/a01-000u/a01-000u-01.png")
    (tmp_path / "lines.txt").write_text("# IAM lines\n"
                                        "a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|.\n"
                                        "a01-000u-01 err 156 19 395 932 1850 105 from|nominating\n", encoding="utf-8")
    rows = labelled.read_folder(tmp_path)
    assert list(rows["text"]) == ["A MOVE to stop Mr. Gaitskell."]
    assert list(rows["file"]) == ["lines/a01/a01-000u/a01-000u-00.png"]
    assert labelled.group_columns(tmp_path) == ["form"]
    (tmp_path / "lines.txt").write_text("a01-000u-00 ok 154\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"lines.txt:1: not an IAM lines.txt row"):
        labelled.read_folder(tmp_path)


def _ink_image(width, height, boxes):
    image = Image.new("L", (width, height), 240)
    for box in boxes:
        ImageDraw.Draw(image).rectangle(box, fill=20)
    return image


def test_one_line_is_accepted_and_a_page_of_lines_is_refused():
    one_line = _ink_image(400, 60, [(10, 20, 80, 40), (100, 15, 180, 45), (95, 5, 97, 8)])  # an i's dot above
    mask = lines.ink_mask(one_line)
    lines.check_line(one_line, mask, "row 0")
    assert len(lines.text_bands(mask)) == 1
    page = _ink_image(400, 200, [(10, 20, 380, 45), (10, 90, 300, 115), (10, 160, 350, 185)])
    with pytest.raises(InvalidImageError, match="row 3: holds 3 lines of writing"):
        lines.check_line(page, lines.ink_mask(page), "row 3")


def test_a_line_taller_than_wide_or_a_strip_is_refused():
    tall = _ink_image(50, 300, [(10, 10, 40, 290)])
    with pytest.raises(InvalidImageError, match="wider than tall, this one is 50x300"):
        lines.check_line(tall, lines.ink_mask(tall), "row 0")
    strip = _ink_image(50_000, 40, [(10, 10, 49_000, 30)])
    with pytest.raises(InvalidImageError, match=f"at most {lines.MAX_ASPECT} times its height"):
        lines.check_line(strip, lines.ink_mask(strip), "row 1")


def test_blank_paper_has_no_ink():
    assert not lines.ink_mask(Image.new("L", (300, 40), 231)).any()
    assert lines.text_bands(np.zeros((40, 300), dtype=bool)) == []


def test_synthetic_lines_are_several_words_on_one_line_with_their_text(tmp_path):
    rows = synth.generate_lines(tmp_path, 10, seed=3, fonts=font_catalog.handwriting_fonts())
    assert len(rows) == 10 and {r["form"] for r in rows} == {"s00-000", "s00-001"}
    for row in rows:
        image = Image.open(tmp_path / row["file"])
        tokens = row["text"].split()
        assert 1 <= len(tokens) <= synth.WORDS_PER_LINE[1]
        assert image.width > 2 * image.height
        lines.check_line(image, lines.ink_mask(image), row["file"])  # reads as one line
    checked = labelled.load(tmp_path)
    assert list(checked.words["text"]) == [r["text"] for r in rows] and checked.rejected.empty
    # Seeded per form: the same seed draws the same lines.
    again = synth.generate_lines(tmp_path / "again", 10, seed=3, fonts=font_catalog.handwriting_fonts())
    assert [r["text"] for r in again] == [r["text"] for r in rows]
    assert (tmp_path / rows[7]["file"]).read_bytes() == (tmp_path / "again" / rows[7]["file"]).read_bytes()


def test_words_found_a_little_off_are_cut_at_the_widest_paper_between_them():
    mask = np.zeros((10, 60), dtype=bool)
    mask[2:8, 5:12] = True   # "w" with a narrow gap inside ...
    mask[3:8, 14:20] = True  # ... "ord"
    mask[1:9, 30:45] = True  # the next word, after a wide gap
    # The recognizer placed the first word short of its end and the second a little early.
    found = [(4, 16), (27, 43)]
    assert lines.word_cuts(mask.any(axis=0), found, reach=3) == [25]
    first, second = lines.word_spans(mask, found, reach=3)
    assert first == lines.Span(5, 20, 2, 8)
    assert second == lines.Span(30, 45, 1, 9)


def test_touching_words_are_cut_halfway_and_a_piece_without_ink_has_no_span():
    mask = np.zeros((6, 40), dtype=bool)
    mask[1:5, 0:30] = True  # two words written into each other
    assert lines.word_cuts(mask.any(axis=0), [(0, 12), (16, 30)], reach=2) == [14]
    mask[:, 20:] = False
    assert lines.word_spans(mask, [(0, 10), (30, 38)], reach=1)[1] is None


def test_a_word_with_paper_wider_than_a_word_gap_inside_is_two():
    mask = np.zeros((20, 80), dtype=bool)
    mask[5:15, 0:20] = True   # x-height 10 rows
    mask[5:15, 23:30] = True  # 3 columns of paper: inside a word
    mask[4:16, 45:60] = True  # 15 columns of paper: a gap between words the recognizer missed
    (whole,) = lines.word_spans(mask, [(0, 60)], reach=2)
    assert lines.letter_height(mask) == 10
    assert lines.split_at_gaps(mask, [whole], gap=0.9) == [lines.Span(0, 30, 5, 15), lines.Span(45, 60, 4, 16)]
    assert lines.split_at_gaps(mask, [whole], gap=2.0) == [whole]
