import dataclasses
import hashlib
import shutil
import string
from collections import Counter

import numpy as np
import pytest

from hwr.data import datasets, iam
from hwr.data.synthetic import font_catalog, synth, word_labels
from hwr.errors import DataError


def digest_tree(root):
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def clear_render_caches():
    for cached in (font_catalog.load_font, synth._glyph_image, synth._glyph_origin, synth._advance,
                   font_catalog.stroke_width, font_catalog.x_height_ratio):
        cached.cache_clear()


@pytest.fixture(scope="module")
def labels():
    rng = np.random.default_rng(0)
    return [word_labels.sample_label(rng) for _ in range(5000)]


def font_named(family):
    return next(p for p in font_catalog.handwriting_fonts() if font_catalog.font_family(p) == family)


# --- fonts -----------------------------------------------------------------------------------


def test_at_least_ten_handwriting_families_draw_all_of_iams_characters():
    families = font_catalog.font_families(font_catalog.handwriting_fonts())
    assert len(families) >= font_catalog.MIN_FAMILIES >= 10
    for family, paths in families.items():
        for path in paths:
            assert font_catalog.renderable_chars(path) == word_labels.IAM_CHARSET, (family, path)


def test_all_caps_fonts_are_left_out():
    # Permanent Marker's "a" is a small "A": lower-case labels would not match the image.
    import fontpkg

    marker = str(fontpkg.path("permanent-marker"))
    assert not font_catalog.has_lower_case(marker) and not font_catalog.is_usable(marker)
    assert marker not in font_catalog.handwriting_fonts()
    assert font_catalog.has_lower_case(font_named("Indie Flower"))


def test_no_upper_case_words_in_ornate_script_capitals():
    ornate = [p for p in font_catalog.handwriting_fonts() if font_catalog.has_ornate_capitals(p)]
    assert {font_catalog.font_family(p) for p in ornate} == {"Great Vibes"}
    rng = np.random.default_rng(0)
    style = synth.sample_style(rng, ornate)
    labels = [synth.sample_renderable_label(rng, word_labels.english_words(), style) for _ in range(1000)]
    assert not any(len(label) > 1 and label.isupper() for label in labels)
    assert any(label[0].isupper() for label in labels)  # capitalised words are still written


def test_fonts_dir_alone_generates_a_set(tmp_path):
    fonts_dir = tmp_path / "fonts"
    fonts_dir.mkdir()
    shutil.copy(font_named("Indie Flower"), fonts_dir)
    (fonts_dir / "notes.txt").write_text("not a font")
    fonts = font_catalog.fonts_in_dir(fonts_dir)
    assert [p.rsplit("/", 1)[-1] for p in fonts] == ["IndieFlower-Regular.ttf"]
    records = synth.generate(tmp_path / "out", samples=12, seed=1, fonts=fonts)
    assert len(records) == 12
    assert synth.sample_style(np.random.default_rng(5), fonts).font_path == fonts[0]


def test_fonts_dir_adds_fonts_and_names_the_data_folder(tmp_path):
    fonts_dir = tmp_path / "fonts"
    fonts_dir.mkdir()
    shutil.copy(font_named("Indie Flower"), fonts_dir / "Extra.ttf")
    plain = datasets.synthetic(tmp_path / "data", samples=5, seed=1)
    extra = datasets.synthetic(tmp_path / "data", samples=5, seed=1, fonts_dir=str(fonts_dir))
    assert extra.data_dir != plain.data_dir and "-fonts" in extra.data_dir.name
    assert f"-v{synth.GENERATOR_VERSION}-" in plain.data_dir.name
    assert extra.counts["words_usable"] == 5 and str(fonts_dir) in extra.source


def test_data_folder_name_changes_with_generator_version_and_fonts(tmp_path, monkeypatch):
    font = font_named("Caveat")
    before = datasets.synthetic_name(100, 1, [])
    with_fonts = datasets.synthetic_name(100, 1, [font])
    monkeypatch.setattr(synth, "GENERATOR_VERSION", synth.GENERATOR_VERSION + 1)
    assert len({before, with_fonts, datasets.synthetic_name(100, 1, [])}) == 3


def test_a_set_drawn_by_an_older_generator_is_not_reused(tmp_path, monkeypatch):
    drawn = datasets.synthetic(tmp_path, samples=3, seed=1).data_dir
    assert datasets.is_reusable(drawn)
    monkeypatch.setattr(synth, "GENERATOR_VERSION", synth.GENERATOR_VERSION + 1)
    assert not datasets.is_reusable(drawn)
    iam_dir = tmp_path / "iam-0123456789ab"
    iam_dir.mkdir()
    assert not datasets.is_reusable(iam_dir)  # incomplete
    datasets._mark_complete(iam_dir, "test")
    assert datasets.is_reusable(iam_dir)


def test_missing_or_fontless_fonts_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        font_catalog.fonts_in_dir(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no usable font: no .ttf/.otf files"):
        font_catalog.fonts_in_dir(tmp_path)
    (tmp_path / "broken.ttf").write_bytes(b"not a font at all")
    with pytest.raises(DataError, match="no usable font: 1 font file"):
        font_catalog.fonts_in_dir(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        datasets.synthetic(tmp_path / "data", samples=5, seed=1, fonts_dir=tmp_path / "nowhere")


# --- labels ----------------------------------------------------------------------------------


def test_labels_use_only_iams_characters(labels):
    assert len(word_labels.IAM_CHARSET) == 78  # IAM's 79 symbols without the space
    assert all(label and set(label) <= word_labels.IAM_CHARSET for label in labels)
    seen = set("".join(labels))
    assert seen >= set(string.ascii_lowercase + string.digits + ".,'\"-")
    assert len(seen & set(string.ascii_uppercase)) >= 24  # X, Q and Z are rare capitals, as in IAM


def test_labels_have_iams_punctuation_case_and_digits(labels):
    counts = Counter(labels)
    punctuation = [label for label in labels if label in word_labels.PUNCTUATION]
    assert 0.1 < len(punctuation) / len(labels) < 0.17  # IAM: about 1 word in 6-10
    assert [p for p, _ in Counter(punctuation).most_common(2)] == [".", ","]
    words = [label for label in labels if label.isalpha()]
    capitalised = sum(w[0].isupper() and not w.isupper() for w in words) / len(words)
    upper = sum(w.isupper() and len(w) > 1 for w in words) / len(words)
    assert 0.12 < capitalised < 0.3 and 0.01 < upper < 0.06
    assert 0.03 < sum(any(c.isdigit() for c in label) for label in labels) / len(labels) < 0.08
    assert counts["'s"] + counts["'t"] > 0 and any(label.endswith("-") and len(label) > 3 for label in labels)
    assert counts["Mr."] > 0


def test_labels_are_frequent_words_with_a_long_tail(labels):
    vocabulary = word_labels.english_words()
    assert "the" in vocabulary and len(vocabulary) > 40_000
    words = [label.lower() for label in labels if label.isalpha()]
    assert "the" in [w for w, _ in Counter(words).most_common(3)]
    assert len(set(words)) > 0.6 * len(words)
    rank = {w: i for i, w in enumerate(vocabulary.words)}
    rare = sum(rank.get(w, 0) >= 10_000 for w in words)
    assert rare > 0.2 * len(words)


def test_labels_only_use_glyphs_the_writers_font_has(monkeypatch):
    monkeypatch.setattr(font_catalog, "renderable_chars", lambda path: frozenset(string.ascii_lowercase))
    rng = np.random.default_rng(0)
    style = synth.sample_style(rng, font_catalog.handwriting_fonts())
    labels = [synth.sample_renderable_label(rng, word_labels.english_words(), style) for _ in range(300)]
    assert all(set(label) <= set(string.ascii_lowercase) for label in labels)
    with pytest.raises(ValueError, match="cannot draw"):
        synth.render_word("Word", style, rng)


# --- images ----------------------------------------------------------------------------------


def test_generates_iam_layout_with_readable_images(tmp_path):
    records = synth.generate(tmp_path, samples=120, seed=3)
    assert len(records) == 120
    frame, counts = iam.index_words(tmp_path)
    assert counts["words_usable"] == 120 and counts["words_dropped_unreadable"] == 0
    assert frame.path.iloc[0].startswith("words/s00/s00-000/s00-000-00-00")
    assert len(set(frame.form)) == 3  # 50 words per form (one simulated writer each)


def test_same_seed_same_bytes_whatever_came_before(tmp_path):
    synth.generate(tmp_path / "a", samples=60, seed=7)
    clear_render_caches()  # a fresh process: nothing cached
    synth.generate(tmp_path / "b", samples=60, seed=7)
    synth.generate(tmp_path / "c", samples=60, seed=8)
    assert digest_tree(tmp_path / "a") == digest_tree(tmp_path / "b")
    assert digest_tree(tmp_path / "a") != digest_tree(tmp_path / "c")
    # Each form has its own random stream: the second form's first words do not depend on the first.
    synth.generate(tmp_path / "d", samples=110, seed=7)
    form = "words/s00/s00-001/s00-001-00-00.png"
    assert (tmp_path / "a" / form).read_bytes() == (tmp_path / "d" / form).read_bytes()


def glyph_boxes(image):
    """(left, top, bottom) of each run of inked columns: one per letter when letters stand apart."""
    ink = np.asarray(image, dtype=np.float32)
    ink = ink.max() - ink > 0.5 * (ink.max() - ink.min())
    columns = ink.any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], columns.astype(int), [0]])))
    boxes = []
    for left, right in zip(edges[::2], edges[1::2]):
        rows = np.flatnonzero(ink[:, left:right].any(axis=1))
        boxes.append((left, rows[0], rows[-1]))
    return np.array(boxes, dtype=np.float64)


def spread_after_tilt(values):
    """Spread of the letters' tops or bottoms once the word's straight tilt is taken out."""
    x = np.arange(len(values))
    return float(np.std(values - np.polyval(np.polyfit(x, values, 1), x)))


def test_per_glyph_jitter_varies_the_same_word_in_the_same_style():
    rng = np.random.default_rng(11)
    style = synth.sample_style(rng, [font_named("Delius")])
    style = dataclasses.replace(style, size=40, slant=0.0, wobble=0.0, pen=0.0)
    steady = dataclasses.replace(style, jitter=0.0)
    messy = dataclasses.replace(style, jitter=1.2)
    word = "llllllll"
    spreads = {}
    for name, writer in (("steady", steady), ("messy", messy)):
        boxes = [glyph_boxes(synth.render_word(word, writer, rng)) for _ in range(6)]
        assert all(len(b) == len(word) for b in boxes), f"{name}: letters ran together"
        spreads[name] = np.mean([spread_after_tilt(b[:, 1]) + spread_after_tilt(b[:, 2]) for b in boxes])
    assert spreads["messy"] > 1.0 and spreads["messy"] > 2 * spreads["steady"], spreads
    # Two drawings of one word by one writer differ in shape, not only in noise.
    first, second = (synth.render_word("minimum", messy, np.random.default_rng(s)) for s in (1, 2))
    assert first.size != second.size or np.abs(np.asarray(first, float) - np.asarray(second, float)).mean() > 10
