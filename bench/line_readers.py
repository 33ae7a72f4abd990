"""Ways of reading the same lines, side by side (docs/lines.md):

- oracle: each line's words cut at their true boxes (IAM's words archive), read by a WORD model;
- gaps: the line image cut where the paper between strokes is wider than a word gap
  (a share of the writing's letter height), each piece read by the word model;
- line: a LINE model reads each line (--line-model-uri);
- line+word: the line model's word spans (the served `words`) cut out, each read by the word model.

    python bench/line_readers.py --lines LINE_FOLDER --words IAM_WORDS_FOLDER \
        --model-uri models:/hwr@champion [--line-model-uri models:/hwr-line@champion] \
        --decoders greedy,hybrid [--gap 0.8]

LINE_FOLDER is a composed line folder (hwr.data.iam_lines.compose_lines: labels.tsv, lines/);
IAM_WORDS_FOLDER holds the words.txt and words/ it was composed from. Prints CER and WER per
way and decoder, how often each segmentation found the right number of words, and how many of
the line model's cuts between words fall in the true gap (labels.tsv's spans).
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
from hwr.data.lines import ink_mask, join_words, letter_height
from hwr.evaluation import metrics

# Paper wider than this many letter heights separates two words: on every third of the 1,624
# composed IAM dev lines, 0.8 missed the true word count by the least (16.4 % of the words;
# 0.6-1.2 tried).
WORD_GAP = 0.8
PAD = 4  # px of paper kept around each cut word, like IAM's word boxes


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


def line_word_crops(folder: Path, labels: pd.DataFrame, found: pd.Series, out: Path) -> tuple[list[str], list[int]]:
    """Each line's words where the line model found them (its served spans, boxed to their ink),
    as image files and the line each belongs to; prints how well the spans match the true ones."""
    files, owner, right_count, inside, cuts = [], [], 0, 0, 0
    for n, (file, words, true) in enumerate(zip(labels["file"], found, labels["spans"])):
        if not isinstance(words, list):  # refused: none of its words are read
            continue
        true = [tuple(map(int, span.split(":"))) for span in true.split()]
        if len(words) == len(true):
            right_count += 1
            for k in range(len(words) - 1):  # right: a word's ink ends in the true gap after it
                cuts += 1
                inside += true[k][1] - 2 <= words[k]["right"] <= true[k + 1][0] + 2
        image = Image.open(folder / file).convert("L")
        mask = ink_mask(image)
        for k, word in enumerate(words):
            piece = mask[:, word["left"] : word["right"]]
            rows = np.flatnonzero(piece.any(axis=1))
            if not len(rows):
                continue
            box = (max(0, word["left"] - PAD), max(0, rows[0] - PAD), word["right"] + PAD, rows[-1] + 1 + PAD)
            image.crop(box).save(out / f"line-{n}-{k}.png")
            files.append(str(out / f"line-{n}-{k}.png"))
            owner.append(n)
    print(f"the line model found the right number of words in {right_count / len(labels):.1%} of the lines; "
          f"{inside / max(1, cuts):.1%} of their cuts between words lie between the true words")
    return files, owner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=Path, required=True)
    parser.add_argument("--words", type=Path, required=True)
    parser.add_argument("--model-uri", default="models:/hwr@champion")
    parser.add_argument("--line-model-uri", default=None)
    parser.add_argument("--decoders", default="greedy,hybrid")
    parser.add_argument("--gap", type=float, default=WORD_GAP)
    args = parser.parse_args()

    import mlflow

    from hwr.serving.files import predict_files_each

    labels = pd.read_csv(args.lines / "labels.tsv", sep="\t", keep_default_na=False)
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
        ways = [("oracle", true_files, true_owner), ("gaps", cut_files, cut_owner)]
        line_model = None
        if args.line_model_uri:
            line_model = mlflow.pyfunc.load_model(args.line_model_uri)
            found = predict_files_each(line_model, [str(args.lines / f) for f in labels["file"]])["words"]
            ways.append(("line+word", *line_word_crops(args.lines, labels, found, Path(tmp))))
        for decoder in args.decoders.split(","):
            if line_model is not None:
                read = predict_files_each(line_model, [str(args.lines / f) for f in labels["file"]], {"decoder": decoder})
                print(f"{'line':9s} {decoder:7s} CER {metrics.cer(truths, list(read['text'])):.4f} "
                      f"WER {metrics.wer(truths, list(read['text'])):.4f}")
            for way, files, owner in ways:
                texts = list(predict_files_each(model, files, {"decoder": decoder})["text"])
                read = [[] for _ in truths]
                for line, text in zip(owner, texts):
                    read[line].append(text)
                lines = [join_words(r) for r in read]
                print(f"{way:9s} {decoder:7s} CER {metrics.cer(truths, lines):.4f} "
                      f"WER {metrics.wer(truths, lines):.4f}")


if __name__ == "__main__":
    main()
