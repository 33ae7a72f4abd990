"""The served model: base64 word (or line) images in, text and confidence (and a line's words) out.

Loaded by `mlflow models serve` (and mlflow.pyfunc.load_model) from the logged artifacts; the
hwr package travels with the model as code_paths, so nothing from steps/ is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from hwr.decoding.decode import DECODERS, DEFAULT_BEAM_WIDTH, LEGACY_SETTINGS, DecoderSettings
from hwr.errors import InvalidImageError

INPUT_COLUMN = "image"
SETTINGS_ARTIFACT = "decoder_settings"  # the lexicon and hybrid decoders' constants the model was calibrated with
OWN_WORDS_ARTIFACT = "own_words"  # the training words its lexicon decoders know (recipe option own_words)
WORD_READER_PREFIX = "word_reader_"  # a line reader's word model's artifacts: word_reader_keras_model, ...
UNIT_CONFIG = "unit"  # in the model's model_config: "line" for a line model; older models read words
WORD_MARGIN = 4  # px of paper left around a word cut from a line, as around IAM's word boxes
# Paper wider than this many letter heights inside a word a line model found splits it for the word
# model: on 308 IAM lines of unseen writers, 0.9 read best of 0.6-1.6 (docs/lines.md).
WORD_SPLIT_GAP = 0.9
MAX_BEAM_WIDTH = 100  # wider buys nothing on 32 frames and would let one request hog a worker


def _invalid(message: str):
    # INVALID_PARAMETER_VALUE makes the scoring server answer 400 with this message.
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _images_column(model_input: Any) -> list:
    if isinstance(model_input, pd.DataFrame):
        if INPUT_COLUMN not in model_input.columns:
            raise _invalid(f"input has no {INPUT_COLUMN!r} column (columns: {list(model_input.columns)})")
        return model_input[INPUT_COLUMN].tolist()
    if isinstance(model_input, dict) and INPUT_COLUMN in model_input:
        values = model_input[INPUT_COLUMN]
        return list(values) if isinstance(values, (list, tuple, np.ndarray, pd.Series)) else [values]
    raise _invalid(f"expected a table with an {INPUT_COLUMN!r} column of base64-encoded images")


def _decoding_params(params: dict) -> tuple[str, int]:
    """The request's decoder and beam width, or a 400 naming the parameter and what it accepts."""
    decoder = params.get("decoder", "greedy")
    if decoder not in DECODERS:
        raise _invalid(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
    value = params.get("beam_width", DEFAULT_BEAM_WIDTH)
    beam_width = _as_int(value)
    if beam_width is None or not 1 <= beam_width <= MAX_BEAM_WIDTH:
        raise _invalid(f"beam_width must be an integer from 1 to {MAX_BEAM_WIDTH}, got {value!r}")
    return decoder, beam_width


def _as_int(value: Any) -> int | None:
    # JSON clients may send 10, 10.0 or "10"; True is not a width.
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


def load_settings(path: str | None) -> DecoderSettings:
    """A logged model's decoder settings; models logged before they were stored get the constants
    of their time, which their calibration was fitted to."""
    if path is None:
        return LEGACY_SETTINGS
    try:
        return DecoderSettings.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except ValueError as exc:  # json.JSONDecodeError is one too
        raise ValueError(f"the model's {SETTINGS_ARTIFACT} artifact is unreadable: {exc}") from None


def load_recognizer(artifacts: dict[str, str], reads_lines: bool = False):
    """The Recognizer a logged model's artifacts make: its network (recurrent loops unrolled for
    inference), alphabet, calibration, decoder settings and own words."""
    import keras

    from hwr.data.charset import Charset
    from hwr.decoding.own_words import OwnWords
    from hwr.decoding.recognizer import Recognizer
    from hwr.model.variants import unroll_recurrent_layers

    model = keras.saving.load_model(artifacts["keras_model"], compile=False)
    if not reads_lines:  # same outputs, a faster one-word forward pass, a slower first trace
        unroll_recurrent_layers(model)  # a line's 200 frames: no faster, 9 s more to trace (bench/unroll.py)
    # Models logged before calibration existed have no such artifact.
    calibration_path = artifacts.get("calibration")
    calibration = json.loads(Path(calibration_path).read_text(encoding="utf-8")) if calibration_path else None
    charset = Charset.load(artifacts["charset"])
    settings = load_settings(artifacts.get(SETTINGS_ARTIFACT))
    own_path = artifacts.get(OWN_WORDS_ARTIFACT)
    lexicon = OwnWords.load(own_path).lexicon(charset, settings.lexicon_size) if own_path else None
    return Recognizer(model, charset, calibration=calibration, settings=settings, lexicon=lexicon,
                      reads_lines=reads_lines)


class HwrModel(mlflow.pyfunc.PythonModel):
    word_reader = None  # a line reader's word model (hwr.pipeline.reader)

    def load_context(self, context):
        from hwr.runtime import quiet_tensorflow

        quiet_tensorflow()
        reads_lines = (getattr(context, "model_config", None) or {}).get(UNIT_CONFIG, "word") == "line"
        own = {k: v for k, v in context.artifacts.items() if not k.startswith(WORD_READER_PREFIX)}
        self.recognizer = load_recognizer(own, reads_lines)
        self.recognizer.warm_up()
        # A line reader: the line model finds the words, a word model reads each at its own size.
        word_model = {k.removeprefix(WORD_READER_PREFIX): v for k, v in context.artifacts.items()
                      if k.startswith(WORD_READER_PREFIX)}
        self.word_reader = load_recognizer(word_model) if word_model else None
        if self.word_reader is not None:
            self.word_reader.warm_up()

    def preprocess_rows(self, values: list) -> tuple[np.ndarray, list[float | None], list]:
        """The rows as the model's input, each row's scale from image to canvas, and for a line model
        each row's gray image and its strokes (where its words are cut); a line model checks each
        row is one line of writing, and a blank line's scale is None (nothing to read)."""
        from hwr.data.images import decode_base64_image, normalised, scale_to, to_canvas
        from hwr.data.lines import check_line, strokes

        batch = np.zeros((len(values), self.recognizer.height, self.recognizer.width), dtype=np.uint8)
        scales: list[float | None] = []
        inks: list = []
        for row, value in enumerate(values):
            name = f"row {row}"
            try:
                image = decode_base64_image(value, name=name)
                gray = normalised(image)  # once: the line checks and the canvas both start from it
                scale = scale_to(image.size, self.recognizer.height, self.recognizer.width)
                mask = None
                if self.recognizer.reads_lines:
                    mask = strokes(gray)
                    check_line(image, mask, name)
                    scale = scale if mask.any() else None
                batch[row] = to_canvas(gray, self.recognizer.height, self.recognizer.width)
                scales.append(scale)
                inks.append((gray, mask) if self.recognizer.reads_lines else None)
            except Exception as exc:  # any unreadable row is the client's problem: 400, never 500
                message = str(exc) if isinstance(exc, InvalidImageError) else f"cannot be read as an image ({exc})"
                if not message.startswith(name):
                    message = f"{name}: {message}"
                raise _invalid(f"{message}; the request was refused, no row was read") from None
        return batch, scales, inks

    def read_lines(self, batch: np.ndarray, scales: list, inks: list, decoder: str, beam_width: int) -> pd.DataFrame:
        """A line model's rows: the line's text and calibrated confidence, and its words, each with its
        text, confidence, and its ink's columns [left, right) in the row's image. A line reader's
        word model reads each word (cut out at its ink) and gives its text and calibrated confidence;
        a line model alone gives its own reading and probability."""
        from hwr.data.charset import BLANK
        from hwr.data.lines import join_words, word_spans
        from hwr.decoding.calibration import apply as calibrated_confidence
        from hwr.decoding.line_words import joined
        from hwr.model.variants import DOWNSAMPLE

        logits = self.recognizer.logits(batch)
        for row, (scale, (gray, _)) in enumerate(zip(scales, inks)):
            # Frames past the image's right edge read only the canvas's padding: certain blanks.
            used = 0 if scale is None else int(np.ceil(gray.width * scale / DOWNSAMPLE))
            logits[row, used:] = -1e4
            logits[row, used:, BLANK] = 0.0
        if self.word_reader is not None:  # the line model only places the words: its best path does
            lines = self.recognizer.read_lines(logits, "greedy")
        else:
            lines = self.recognizer.read_lines(logits, decoder, beam_width)
            confidence = calibrated_confidence(self.recognizer.calibration, decoder, [joined(w) for w in lines])
        found = []  # per line, per word: text, confidence, left, right, and its ink's box (None: no ink)
        for words, scale, (gray, mask) in zip(lines, scales, inks):
            frame = DOWNSAMPLE / scale if words else 0  # one frame's width in the image
            placed = [(int(w.start * frame), min(gray.width, int(np.ceil(w.end * frame)))) for w in words]
            # The best path marks a word where it reads it, a little off its ink: the ink decides.
            spans = word_spans(mask, placed, reach=round(frame)) if words else []
            found.append([(w.decoded.text, w.decoded.probability, span.left if span else left,
                           span.right if span else right, span) for w, span, (left, right) in zip(words, spans, placed)])
        if self.word_reader is not None:
            found, confidence = self.read_words(found, inks, decoder, beam_width)
        rows = []
        for words, line_confidence in zip(found, confidence):
            rows.append({
                "text": join_words([text for text, *_ in words]),
                "confidence": 1.0 if not words else line_confidence,
                "words": [{"text": text, "confidence": conf, "left": left, "right": right}
                          for text, conf, left, right, _ in words],
            })
        return pd.DataFrame(rows, columns=["text", "confidence", "words"])

    def read_words(self, found: list, inks: list, decoder: str, beam_width: int) -> tuple[list, list[float]]:
        """A line reader's words: the line model's words with ink, cut again at paper wider than a
        word gap (where it ran words together), each read by the word model, all of a request's
        in one batch; a line's confidence is its words' product."""
        from hwr.data.images import stretch_contrast, to_canvas
        from hwr.data.lines import split_at_gaps

        reader = self.word_reader
        pieces = [split_at_gaps(mask, [span for *_, span in words if span], WORD_SPLIT_GAP)
                  for words, (_, mask) in zip(found, inks)]
        crops = [to_canvas(stretch_contrast(gray.crop((max(0, p.left - WORD_MARGIN), max(0, p.top - WORD_MARGIN),
                                                       min(gray.width, p.right + WORD_MARGIN),
                                                       min(gray.height, p.bottom + WORD_MARGIN)))),
                           reader.height, reader.width)
                 for spans, (gray, _) in zip(pieces, inks) for p in spans]
        read = iter(reader.recognize(np.asarray(crops, dtype=np.uint8).reshape(-1, reader.height, reader.width),
                                     decoder, beam_width))
        lines = [[(*next(read), p.left, p.right, p) for p in spans] for spans in pieces]
        return lines, [float(np.prod([conf for _, conf, *_ in words])) for words in lines]

    # The DataFrame hint is MLflow's "no schema from the hint" case: the logged signature still
    # checks requests, and MLflow stops warning about a missing hint on every import and load.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        decoder, beam_width = _decoding_params(params or {})
        values = _images_column(model_input)
        if not values:
            raise _invalid(f"the request holds no images: send at least one row in the {INPUT_COLUMN!r} column")
        batch, scales, inks = self.preprocess_rows(values)
        if self.recognizer.reads_lines:
            return self.read_lines(batch, scales, inks, decoder, beam_width)
        results = self.recognizer.recognize(batch, decoder, beam_width)
        return pd.DataFrame(
            {"text": [t for t, _ in results], "confidence": [c for _, c in results]},
            columns=["text", "confidence"],
        )
