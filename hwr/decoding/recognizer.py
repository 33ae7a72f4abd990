"""Running a trained model on preprocessed images, batched, through one compiled graph.

An eager Keras call costs ~400 ms per image on a 2-core CPU; a tf.function with a fixed input
signature costs ~5 ms. Training's validation and the served model both go through here.
"""

from __future__ import annotations

import numpy as np

from hwr.data.charset import Charset
from hwr.decoding.calibration import apply as calibrated_confidence
from hwr.decoding.decode import DEFAULT_BEAM_WIDTH, Decoded, DecoderSettings, decode, softmax
from hwr.decoding.lexicon import Lexicon
from hwr.decoding.line_words import LineWord, joined, padded, split_lines, with_marks
from hwr.model.variants import frames_for_width

BATCH = 64


class Recognizer:
    def __init__(
        self,
        model,
        charset: Charset,
        batch_size: int = BATCH,
        calibration: dict | None = None,
        lexicon: Lexicon | None = None,
        settings: DecoderSettings = DecoderSettings(),
        reads_lines: bool = False,
    ):
        """`calibration` is hwr.decoding.calibration.fit's dict (None: confidence is the model's own
        probability), fitted with `settings`, the lexicon and hybrid decoders' constants;
        `lexicon` replaces the default one for lexicon decoding; a line model (`reads_lines`, its
        alphabet has the space) is decoded word by word."""
        import tensorflow as tf

        self.model = model
        self.charset = charset
        self.batch_size = batch_size
        self.calibration = calibration
        self.lexicon = lexicon
        self.settings = settings
        self.reads_lines = reads_lines
        _, self.height, self.width, _ = model.input_shape
        spec = tf.TensorSpec([None, self.height, self.width, 1], tf.float32)
        self._logits = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def warm_up(self) -> None:
        """Trace the graph and build the lexicon now, so that the first request pays for neither."""
        probs = softmax(self.logits(np.zeros((1, self.height, self.width), np.uint8)))
        decode(probs, self.charset, "lexicon", 1, self.lexicon, self.settings)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W) uint8 ink arrays to (N, frames, classes) logits."""
        if len(images) == 0:
            return np.zeros((0, frames_for_width(self.width), self.charset.num_classes), dtype=np.float32)
        outputs = []
        for start in range(0, len(images), self.batch_size):
            batch = np.asarray(images[start : start + self.batch_size], dtype=np.float32)[..., None]
            outputs.append(self._logits(batch).numpy())
        return np.concatenate(outputs)

    def decode(
        self, logits: np.ndarray, decoder: str = "greedy", beam_width: int = DEFAULT_BEAM_WIDTH
    ) -> list[Decoded]:
        """Raw decoder results (text and scores) of (N, frames, classes) logits."""
        if self.reads_lines:
            return [joined(words) for words in self.read_lines(logits, decoder, beam_width)]
        return decode(softmax(logits), self.charset, decoder, beam_width, self.lexicon, self.settings)

    def read_lines(
        self, logits: np.ndarray, decoder: str = "greedy", beam_width: int = DEFAULT_BEAM_WIDTH
    ) -> list[list[LineWord]]:
        """A line model's (N, frames, classes) logits as each line's words, every word decoded on its
        own frames (hwr.decoding.line_words); all words of all lines in one decoder call."""
        lines = split_lines(softmax(logits), self.charset, marks_apart=decoder in ("lexicon", "hybrid"))
        regions = [region for words in lines for _, region, _ in words]
        if not regions:
            return [[] for _ in lines]
        decoded = iter(decode(padded(regions, self.charset.num_classes), self.charset, decoder, beam_width,
                              self.lexicon, self.settings))
        return [[LineWord(with_marks(next(decoded), marks), start, end) for (start, end), _, marks in words]
                for words in lines]

    def recognize_logits(
        self, logits: np.ndarray, decoder: str = "greedy", beam_width: int = DEFAULT_BEAM_WIDTH
    ) -> list[tuple[str, float]]:
        """(text, confidence) for each image's logits; decoder is one of hwr.decoding.decode.DECODERS."""
        decoded = self.decode(logits, decoder, beam_width)
        confidence = calibrated_confidence(self.calibration, decoder, decoded)
        return [(d.text, c) for d, c in zip(decoded, confidence)]

    def recognize(
        self, images: np.ndarray, decoder: str = "greedy", beam_width: int = DEFAULT_BEAM_WIDTH
    ) -> list[tuple[str, float]]:
        """(text, confidence) for each (H, W) uint8 ink array."""
        return self.recognize_logits(self.logits(images), decoder, beam_width)
