import hashlib

from hwr import iam, synth


def digest_tree(root):
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def test_enough_handwriting_families_are_installed():
    fonts = synth.handwriting_fonts()
    families = {f.split("/site-packages/")[-1].split("/")[0] for f in fonts}
    assert len(families) >= synth.MIN_FAMILIES


def test_generates_iam_layout_with_readable_images(tmp_path):
    records = synth.generate(tmp_path, samples=120, seed=3)
    assert len(records) == 120
    frame, counts = iam.index_words(tmp_path)
    assert counts["words_usable"] == 120 and counts["words_dropped_unreadable"] == 0
    assert frame.path.iloc[0].startswith("words/s00/s00-000/s00-000-00-00")
    assert len(set(frame.form)) == 3  # 50 words per form (one simulated writer each)


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    synth.generate(tmp_path / "a", samples=60, seed=7)
    synth.generate(tmp_path / "b", samples=60, seed=7)
    synth.generate(tmp_path / "c", samples=60, seed=8)
    assert digest_tree(tmp_path / "a") == digest_tree(tmp_path / "b")
    assert digest_tree(tmp_path / "a") != digest_tree(tmp_path / "c")


def test_labels_are_varied_english_words():
    import numpy as np

    rng = np.random.default_rng(0)
    labels = [synth.sample_label(rng, synth.english_words()) for _ in range(2000)]
    assert len(set(labels)) > 1000
    assert any(label[0].isupper() for label in labels)
    assert any(label.isdigit() for label in labels)
    assert "the" in synth.english_words()
