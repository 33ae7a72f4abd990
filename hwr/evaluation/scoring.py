"""Scoring a model on labelled words: a served-form model (the pyfunc) on a labelled folder, or a
recognizer's every decoder on a training's test words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hwr.data import labelled
from hwr.data.splits import read_list
from hwr.decoding.calibration import expected_calibration_error
from hwr.decoding.decode import DECODERS, DEFAULT_BEAM_WIDTH
from hwr.errors import DataError
from hwr.evaluation import metrics
from hwr.serving.files import predict_files_each


def labelled_files(checked: labelled.Checked) -> pd.DataFrame:
    """A labelled folder's usable words as labelled files: file (absolute) and text."""
    return pd.DataFrame({"file": [str(checked.folder / p) for p in checked.words["path"]],
                         "text": list(checked.words["text"])})


def read_file_list(csv_path: Path, folder: Path) -> pd.DataFrame:
    """A (path, text) file list such as the prepare step's test.csv, its paths relative to `folder`."""
    listed = read_list(Path(csv_path))
    frame = pd.DataFrame({"file": [str(Path(folder) / p) for p in listed["path"]], "text": listed["text"]})
    absent = [f for f in frame["file"] if not Path(f).is_file()]
    if absent:
        raise DataError(f"{len(absent)} listed image(s) do not exist under {folder}, e.g. {absent[0]}")
    if frame.empty:
        raise DataError(f"{csv_path}: no labelled images")
    return frame


def score_decoders(recognizer, images: np.ndarray, truths: list[str]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Every decoder's reading of `images` and its CER, WER and word accuracy, named as a train
    run logs them: greedy's test_cer, test_wer, test_word_accuracy, test_ece (the calibration error of
    its confidence); the others' test_<decoder>_cer, …"""
    logits = recognizer.logits(images)  # once: the decoders differ only after the network
    scores: dict[str, float] = {}
    read: dict[str, list[str]] = {}
    for decoder in DECODERS:
        results = recognizer.recognize_logits(logits, decoder)
        read[decoder] = [text for text, _ in results]
        confidence = np.array([value for _, value in results], dtype=float)
        exact = np.array([truth == text for truth, text in zip(truths, read[decoder])], dtype=float)
        prefix = "test" if decoder == "greedy" else f"test_{decoder}"
        scores.update({f"{prefix}_cer": metrics.cer(truths, read[decoder]),
                       f"{prefix}_wer": metrics.wer(truths, read[decoder]),
                       f"{prefix}_word_accuracy": metrics.word_accuracy(truths, read[decoder]),
                       f"{prefix}_ece": expected_calibration_error(confidence, exact)})
    return scores, read


def evaluate(model, labelled: pd.DataFrame, case_sensitive: bool = True, decoders: tuple[str, ...] = ("greedy",),
             beam_width: int = DEFAULT_BEAM_WIDTH) -> tuple[dict[str, float], pd.DataFrame]:
    """Scores for each decoder. The first decoder's are also given unprefixed (cer, wer, word_accuracy);
    the others are prefixed (beam_cer, lexicon_word_accuracy, ...), each with the calibration error
    of its confidence on these images (…_ece)."""
    truths = list(labelled["text"])
    scores: dict[str, float] = {"images": float(len(truths))}
    table = pd.DataFrame({"file": labelled["file"], "truth": truths})
    for n, decoder in enumerate(decoders):
        # An image the model refuses (a line model: "not one line") reads as nothing: it counts as
        # wrong, and is listed in the table's error column.
        predicted = predict_files_each(model, list(labelled["file"]), {"decoder": decoder, "beam_width": beam_width})
        texts = list(predicted["text"])
        exact = np.array([metrics.word_accuracy([t], [p], case_sensitive) for t, p in zip(truths, texts)])
        these = {
            "cer": metrics.cer(truths, texts, case_sensitive),
            "wer": metrics.wer(truths, texts, case_sensitive),
            "word_accuracy": metrics.word_accuracy(truths, texts, case_sensitive),
            "ece": expected_calibration_error(predicted["confidence"].fillna(0.0).to_numpy(), exact),
        }
        if n == 0:
            scores["refused"] = float((predicted["error"] != "").sum())
            table["error"] = predicted["error"]
        if n == 0:
            scores.update(these)
            table["prediction"], table["confidence"] = texts, predicted["confidence"]
        scores.update({f"{decoder}_{name}": value for name, value in these.items()})
        table[f"{decoder}_prediction"], table[f"{decoder}_confidence"] = texts, predicted["confidence"]
    return scores, table
