"""Reading lines with a WORD model, two ways, to compare with a line model (docs/lines.md):

- oracle: each line's words cut at their true boxes (IAM's words archive), read one by one;
- gaps: the line image cut where the paper between strokes is wider than a word gap
  (a share of the writing's letter height), each piece read as a word.

    python bench/line_readers.py --lines LINE_FOLDER --words IAM_WORDS_FOLDER \
        --model-uri models:/hwr@champion --decoders greedy,hybrid [--gap 0.8]

LINE_FOLDER is a composed line folder (hwr.data.iam_lines.compose_lines: labels.tsv, lines/);
IAM_WORDS_FOLDER holds the words.txt and words/ it was composed from. Prints CER and WER per
way and decoder, and how often the gaps found the right number of words.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from hwr.data import iam
from hwr.data.iam_lines import line_id
from hwr.data.lines import ink_mask, join_words
from hwr.evaluation import metrics

# Paper wider than this many letter heights separates two words: on every third of the 1,624
# composed IAM dev lines, 0.8 missed the true word count by the least (16.4 % of the words;
# 0.6-1.2 tried).
WORD_GAP = 0.8
PAD = 4  # px of paper kept around each cut word, like IAM's word boxes


def letter_height(mask: np.ndarray) -> float:
    """The writing's x-height in pixels: the rows most columns of ink cross."""
    columns = mask.any(axis=0)
    if not columns.any():
        return 1.0
    rows = mask[:, columns].sum(axis=1)
    return float(max(1, int((rows >= 0.5 * rows.max()).sum())))


def gap_cuts(mask: np.ndarray, gap: float) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each piece of ink separated by paper wider than `gap` letter heights."""
    columns = mask.any(axis=0)
    if not columns.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], columns.astype(np.int8), [0]])))
    pieces = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
    min_gap = max(2, round(gap * letter_height(mask)))
    words = [list(pieces[0])]
    for start, end in pieces[1:]:
        if start - words[-1][1] < min_gap:
            words[-1][1] = end
        else:
            words.append([start, end])
    boxes = []
    for left, right in words:
        rows = np.flatnonzero(mask[:, left:right].any(axis=1))
        boxes.append((left, int(rows[0]), right, int(rows[-1]) + 1))
    return boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=Path, required=True)
    parser.add_argument("--words", type=Path, required=True)
    parser.add_argument("--model-uri", default="models:/hwr@champion")
    parser.add_argument("--decoders", default="greedy,hybrid")
    parser.add_argument("--gap", type=float, default=WORD_GAP)
    args = parser.parse_args()

    import mlflow

    from hwr.serving.files import predict_files

    labels = pd.read_csv(args.lines / "labels.tsv", sep="\t", keep_default_na=False, quoting=3)
    ids = [Path(f).stem for f in labels["file"]]
    words = defaultdict(list)
    for record in iam.parse_words_txt(args.words / "words.txt"):
        if record.result == "ok" and line_id(record.word_id) in set(ids):
            words[line_id(record.word_id)].append(record)
    true_files, true_owner = [], []
    for n, lid in enumerate(ids):
        for record in sorted(words[lid], key=lambda r: int(r.word_id.rsplit("-", 1)[1])):
            true_files.append(str(args.words / record.relative_path))
            true_owner.append(n)
    with tempfile.TemporaryDirectory() as tmp:
        cut_files, cut_owner, right_count = [], [], 0
        for n, file in enumerate(labels["file"]):
            image = Image.open(args.lines / file).convert("L")
            boxes = gap_cuts(ink_mask(image), args.gap)
            right_count += len(boxes) == len(labels["text"][n].split())
            for k, (left, top, right, bottom) in enumerate(boxes):
                crop = image.crop((max(0, left - PAD), max(0, top - PAD), right + PAD, bottom + PAD))
                crop.save(Path(tmp) / f"{n}-{k}.png")
                cut_files.append(str(Path(tmp) / f"{n}-{k}.png"))
                cut_owner.append(n)
        model = mlflow.pyfunc.load_model(args.model_uri)
        truths = list(labels["text"])
        print(f"{len(truths)} lines; gaps of {args.gap} letter heights found the right number of words in "
              f"{right_count / len(truths):.1%} of them")
        for decoder in args.decoders.split(","):
            for way, files, owner in (("oracle", true_files, true_owner), ("gaps", cut_files, cut_owner)):
                texts = list(predict_files(model, files, {"decoder": decoder})["text"])
                read = [[] for _ in truths]
                for line, text in zip(owner, texts):
                    read[line].append(text)
                lines = [join_words(r) for r in read]
                print(f"{way:7s} {decoder:7s} CER {metrics.cer(truths, lines):.4f} "
                      f"WER {metrics.wer(truths, lines):.4f}")


if __name__ == "__main__":
    main()
