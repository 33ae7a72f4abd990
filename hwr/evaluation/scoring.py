"""Evaluating a served-form model (the pyfunc) on labelled images: metrics and every prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from hwr.data import iam
from hwr.evaluation import metrics
from hwr.decoding.decode import DEFAULT_BEAM_WIDTH
from hwr.errors import DataError, InvalidImageError
from hwr.data.images import encode_png_base64, load_file
from hwr.serving.pyfunc import INPUT_COLUMN

CHUNK = 256  # images per predict call: bounded memory for any folder size


def read_labelled_folder(folder: Path) -> pd.DataFrame:
    """Columns file (absolute) and text, from labels.tsv (file, text) or an IAM-layout folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    labels = folder / "labels.tsv"
    if labels.is_file():
        frame = pd.read_csv(labels, sep="\t", dtype=str, keep_default_na=False, quoting=3)
        missing = {"file", "text"} - set(frame.columns)
        if missing:
            raise DataError(f"{labels}: missing column(s) {', '.join(sorted(missing))}; expected 'file' and 'text'")
        frame = frame[["file", "text"]].copy()
        frame["file"] = [str(folder / f) for f in frame["file"]]
    elif (folder / "words.txt").is_file():
        index, _ = iam.index_words(folder)
        frame = pd.DataFrame({"file": [str(folder / p) for p in index["path"]], "text": index["text"]})
    else:
        raise DataError(f"{folder} has neither labels.tsv (columns file, text) nor an IAM words.txt")
    absent = [f for f in frame["file"] if not Path(f).is_file()]
    if absent:
        raise DataError(f"{len(absent)} listed image(s) do not exist, e.g. {absent[0]}")
    if frame.empty:
        raise DataError(f"{folder}: no labelled images")
    return frame.reset_index(drop=True)


def predict_files(model, files: list[str], params: dict | None = None) -> pd.DataFrame:
    """Run the pyfunc on image files in chunks; columns text and confidence."""
    parts = []
    for start in range(0, len(files), CHUNK):
        encoded = [encode_png_base64(f) for f in files[start : start + CHUNK]]
        parts.append(model.predict(pd.DataFrame({INPUT_COLUMN: encoded}), params=params))
    return pd.concat(parts, ignore_index=True)


def predict_files_each(model, files: list[str]) -> pd.DataFrame:
    """Like predict_files, but one unreadable file does not stop the others: in a chunk that fails,
    each file is checked, the readable ones are read in one call, and each failure is reported in
    the `error` column."""
    parts = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        try:
            part = predict_files(model, chunk)
            part["error"] = ""
        except MlflowException:  # some file in the chunk is bad: find out which, read the rest in one call
            errors = {}
            for file in chunk:
                try:
                    load_file(file)  # the checks the model applies, with the file's own name
                except InvalidImageError as exc:
                    errors[file] = str(exc)
            good = [f for f in chunk if f not in errors]
            read = predict_files(model, good).itertuples() if good else iter(())
            rows = []
            for file in chunk:  # results of the good files come back in their order
                if file in errors:
                    rows.append({"text": "", "confidence": float("nan"), "error": errors[file]})
                else:
                    result = next(read)
                    rows.append({"text": result.text, "confidence": result.confidence, "error": ""})
            part = pd.DataFrame(rows)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def read_file_list(csv_path: Path, folder: Path) -> pd.DataFrame:
    """A (path, text) file list such as the prepare step's test.csv, its paths relative to `folder`."""
    from hwr.data.splits import read_list

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
    run logs them: greedy's test_cer, test_wer, test_word_accuracy; the others' test_<decoder>_cer, …"""
    from hwr.decoding.decode import DECODERS

    logits = recognizer.logits(images)  # once: the decoders differ only after the network
    scores: dict[str, float] = {}
    read: dict[str, list[str]] = {}
    for decoder in DECODERS:
        texts = read[decoder] = [text for text, _ in recognizer.recognize_logits(logits, decoder)]
        prefix = "test" if decoder == "greedy" else f"test_{decoder}"
        scores.update({f"{prefix}_cer": metrics.cer(truths, texts), f"{prefix}_wer": metrics.wer(truths, texts),
                       f"{prefix}_word_accuracy": metrics.word_accuracy(truths, texts)})
    return scores, read


def evaluate(model, labelled: pd.DataFrame, case_sensitive: bool = True, decoders: tuple[str, ...] = ("greedy",),
             beam_width: int = DEFAULT_BEAM_WIDTH) -> tuple[dict[str, float], pd.DataFrame]:
    """Scores for each decoder. The first decoder's are also given unprefixed (cer, wer, word_accuracy);
    the others are prefixed (beam_cer, lexicon_word_accuracy, ...), each with the calibration error
    of its confidence on these images (…_ece)."""
    from hwr.decoding.calibration import expected_calibration_error

    truths = list(labelled["text"])
    scores: dict[str, float] = {"images": float(len(truths))}
    table = pd.DataFrame({"file": labelled["file"], "truth": truths})
    for n, decoder in enumerate(decoders):
        predicted = predict_files(model, list(labelled["file"]), {"decoder": decoder, "beam_width": beam_width})
        texts = list(predicted["text"])
        exact = np.array([metrics.word_accuracy([t], [p], case_sensitive) for t, p in zip(truths, texts)])
        these = {
            "cer": metrics.cer(truths, texts, case_sensitive),
            "wer": metrics.wer(truths, texts, case_sensitive),
            "word_accuracy": metrics.word_accuracy(truths, texts, case_sensitive),
            "ece": expected_calibration_error(predicted["confidence"].to_numpy(), exact),
        }
        if n == 0:
            scores.update(these)
            table["prediction"], table["confidence"] = texts, predicted["confidence"]
        scores.update({f"{decoder}_{name}": value for name, value in these.items()})
        table[f"{decoder}_prediction"], table[f"{decoder}_confidence"] = texts, predicted["confidence"]
    return scores, table
