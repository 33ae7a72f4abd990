"""CTC decoding of the model's per-frame probabilities into text with raw scores.

Four decoders, chosen per request:
- greedy: the best path (most likely class per frame), collapsed;
- beam: CTC prefix beam search, which sums the probability of every alignment of a text;
- lexicon: the same search, allowed to grow only prefixes of lexicon words and to return only a
  whole word; when the lexicon knows word frequencies, each hypothesis is also weighed by the
  prior of the words it can still become (PRIOR_WEIGHT), so a word's final score is
  P(word | image) * P(word) ** PRIOR_WEIGHT;
- hybrid: the lexicon decoder, open to words the lexicon lacks (names, hyphenated halves): any
  other text scores P(text | image) * exp(-OUT_OF_LEXICON_PENALTY), and the free beam's best
  stands for all of them.
Each returns a Decoded per image; hwr.decoding.calibration maps its scores to P(text is exactly right).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from hwr.data.charset import BLANK, Charset
from hwr.decoding.lexicon import DEFAULT_SIZE as DEFAULT_LEXICON_SIZE
from hwr.decoding.lexicon import Lexicon, default_lexicon

DECODERS = ("greedy", "beam", "lexicon", "hybrid")
# On validation words of held-out IAM writers, widening the lexicon decoder's beam from 10 to 50
# took its CER from 19.1 % to 14.7 % at 3.5 ms a word; the free beam barely changes (docs/measurements.md).
DEFAULT_BEAM_WIDTH = 50
# A frame's characters below this probability start no new hypothesis: with a trained model this
# leaves a handful of candidates per frame, which is what keeps the search in the millisecond range.
MIN_CHAR_PROB = 1e-3
# Probabilities are floored so that no score is log(0), as the greedy confidence always was.
PROB_FLOOR = 1e-12
# How much the lexicon decoder trusts word frequencies against the image (0 = not at all); chosen
# with the lexicon's size on validation words of held-out writers (docs/measurements.md, "Tuning
# the decoders": 0.75 with 200k words beat 0.5 with 50k once the models read well).
PRIOR_WEIGHT = 0.75
# The hybrid decoder's log-score penalty for a text outside the lexicon: it wins only when the
# image reads e**22 times better as that text than as the best (prior-weighted) lexicon word.
# Chosen with PRIOR_WEIGHT, where a heavier prior pulls every lexicon word's score down.
OUT_OF_LEXICON_PENALTY = 22.0


@dataclass(frozen=True)
class DecoderSettings:
    """The lexicon and hybrid decoders' constants: the default lexicon's size, the word-prior weight
    and the out-of-lexicon penalty. A model's confidence calibration is fitted to the scores these
    give, so a logged model keeps the settings it was calibrated with (hwr.serving.packaging) and is served
    with them, whatever the defaults are by then."""

    lexicon_size: int = DEFAULT_LEXICON_SIZE
    prior_weight: float = PRIOR_WEIGHT
    penalty: float = OUT_OF_LEXICON_PENALTY

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> DecoderSettings:
        """Settings from to_dict's form; a ValueError names a missing, unknown or invalid field."""
        if not isinstance(values, dict):
            raise ValueError(f"decoder settings must be a JSON object, got {type(values).__name__}")
        expected = {f.name for f in fields(cls)}
        if set(values) != expected:
            raise ValueError(f"decoder settings need exactly {sorted(expected)}, got {sorted(values)}")
        size, weight, penalty = values["lexicon_size"], values["prior_weight"], values["penalty"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"lexicon_size must be a positive integer, got {size!r}")
        for name, value in (("prior_weight", weight), ("penalty", penalty)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a number of at least 0, got {value!r}")
        return cls(size, float(weight), float(penalty))


# The constants of every model logged before models stored their own: 50k words, weight 0.5,
# penalty 18. Such models' calibration was fitted to these scores, so they keep decoding with them.
LEGACY_SETTINGS = DecoderSettings(lexicon_size=50_000, prior_weight=0.5, penalty=18.0)


@dataclass(frozen=True)
class Decoded:
    text: str
    log_prob: float  # log P(text | image) as the decoder computed it (-inf: the decoder found nothing)
    share: float  # the text's share of the probability of every hypothesis the decoder kept

    @property
    def probability(self) -> float:
        return math.exp(self.log_prob)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def greedy_decode(probs: np.ndarray, charset: Charset) -> list[Decoded]:
    """Best path decoding of a (batch, frames, classes) probability array.

    log_prob is the log-probability of the best path (sum of the per-frame maxima's logs): 0 when
    every frame is certain, lower as soon as any frame hesitates. Greedy keeps one hypothesis, so
    its share is 1.
    """
    best = probs.argmax(axis=-1)  # (batch, frames)
    best_prob = np.take_along_axis(probs, best[..., None], axis=-1)[..., 0]
    log_prob = np.log(np.clip(best_prob, PROB_FLOOR, 1.0)).sum(axis=-1)
    results = []
    for path, score in zip(best, log_prob):
        # Collapse repeats, then drop blanks.
        keep = np.ones_like(path, dtype=bool)
        keep[1:] = path[1:] != path[:-1]
        ids = path[keep]
        results.append(Decoded(charset.decode(ids[ids != BLANK].tolist()), float(score), 1.0))
    return results


def beam_decode(
    probs: np.ndarray, charset: Charset, beam_width: int = DEFAULT_BEAM_WIDTH, min_char_prob: float = MIN_CHAR_PROB
) -> list[Decoded]:
    """CTC prefix beam search over a (batch, frames, classes) probability array.

    log_prob is the summed probability of every alignment of the text that the beam kept: exact
    when the beam never had to drop a hypothesis (and min_char_prob is 0).
    """
    return [_prefix_beam_search(image, charset.chars, beam_width, min_char_prob) for image in _floored(probs)]


def lexicon_decode(
    probs: np.ndarray,
    charset: Charset,
    lexicon: Lexicon,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    min_char_prob: float = MIN_CHAR_PROB,
    prior_weight: float = PRIOR_WEIGHT,
) -> list[Decoded]:
    """CTC prefix beam search restricted to `lexicon`: returns only lexicon words.

    With a lexicon that has word frequencies, log_prob is log P(word | image) + prior_weight *
    log P(word). An image for which no whole word survives in the beam (say 3 frames and only
    long words) gets the empty text with log_prob -inf and share 0.
    """
    weight = prior_weight if lexicon.has_prior else 0.0
    return [_prefix_beam_search(image, charset.chars, beam_width, min_char_prob, lexicon, weight)
            for image in _floored(probs)]


def hybrid_decode(
    probs: np.ndarray,
    charset: Charset,
    lexicon: Lexicon,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    min_char_prob: float = MIN_CHAR_PROB,
    prior_weight: float = PRIOR_WEIGHT,
    penalty: float = OUT_OF_LEXICON_PENALTY,
) -> list[Decoded]:
    """The best text under one score: a lexicon word w scores log P(w | image) + prior_weight *
    log P(w) (as lexicon_decode), any other text t scores log P(t | image) - penalty.

    The free beam's best text is the best-scoring text outside the lexicon whenever it is not a
    lexicon word itself. If it is one, the lexicon search weighed it, and no other text can beat
    it while its prior term is above -penalty (P(w) > e**-29 for the defaults). log_prob is the
    winner's score; share is its share of the beam that found it.
    """
    words = lexicon_decode(probs, charset, lexicon, beam_width, min_char_prob, prior_weight)
    free = beam_decode(probs, charset, beam_width, min_char_prob)
    return hybrid_choice(words, free, lexicon, penalty)


def hybrid_choice(words: list[Decoded], free: list[Decoded], lexicon: Lexicon,
                  penalty: float = OUT_OF_LEXICON_PENALTY) -> list[Decoded]:
    """hybrid_decode's pick per image, from the lexicon search's and the free beam's results: the
    free text, scored log P(text | image) - penalty, where it is no lexicon word and beats the word."""
    return [Decoded(f.text, f.log_prob - penalty, f.share)
            if f.text not in lexicon and f.log_prob - penalty > w.log_prob else w
            for w, f in zip(words, free)]


def decode(
    probs: np.ndarray,
    charset: Charset,
    decoder: str = "greedy",
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lexicon: Lexicon | None = None,
    settings: DecoderSettings = DecoderSettings(),
) -> list[Decoded]:
    """Decode with the decoder named `decoder`; lexicon and hybrid use the default lexicon of
    `settings.lexicon_size` words unless given one, and `settings`' prior weight and penalty."""
    if decoder == "greedy":
        return greedy_decode(probs, charset)
    if decoder == "beam":
        return beam_decode(probs, charset, beam_width)
    if decoder in ("lexicon", "hybrid"):
        if lexicon is None:
            lexicon = default_lexicon(charset, settings.lexicon_size)
        if decoder == "lexicon":
            return lexicon_decode(probs, charset, lexicon, beam_width, prior_weight=settings.prior_weight)
        return hybrid_decode(probs, charset, lexicon, beam_width, prior_weight=settings.prior_weight,
                             penalty=settings.penalty)
    raise ValueError(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")


def _floored(probs: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(probs, dtype=np.float64), PROB_FLOOR)


def _prefix_beam_search(
    probs: np.ndarray,
    chars: tuple[str, ...],
    beam_width: int,
    min_char_prob: float,
    lexicon: Lexicon | None = None,
    prior_weight: float = 0.0,
) -> Decoded:
    """One image's (frames, classes) probabilities to its best text.

    Each hypothesis is a prefix with two probabilities: of the alignments so far that end in a
    blank, and of those that end in its last character (the split tells whether the next frame's
    same character repeats it or extends it). After each frame the kept probabilities are rescaled
    to sum to 1 and the log of the scale is carried aside, so 32 small factors never underflow.

    With a lexicon, a prefix's probabilities carry its lookahead, P(word starts with prefix) **
    prior_weight (1 without a prior, 0 for a prefix of no word, which is then never grown). An
    extension multiplies by the ratio of the two lookaheads, and a finished word by
    P(word) / P(starts with word); the factors telescope to P(word) ** prior_weight.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    class_of = {char: index + 1 for index, char in enumerate(chars)}
    beams: dict[str, tuple[float, float]] = {"": (1.0, 0.0)}
    log_scale = 0.0
    lookahead: dict[str, float] = {"": 1.0}  # asked of the lexicon once per prefix

    def lookahead_of(prefix: str) -> float:
        if prefix not in lookahead:
            if prior_weight:
                lookahead[prefix] = lexicon.prefix_prior(prefix) ** prior_weight
            else:
                lookahead[prefix] = 1.0 if lexicon.is_prefix(prefix) else 0.0
        return lookahead[prefix]
    for frame in probs:
        frame_probs = frame.tolist()
        blank = frame_probs[BLANK]
        candidates = [(chars[c - 1], frame_probs[c]) for c in (np.flatnonzero(frame[1:] > min_char_prob) + 1).tolist()]
        following: dict[str, tuple[float, float]] = {}
        for prefix, (ends_blank, ends_char) in beams.items():
            total = ends_blank + ends_char
            last = prefix[-1] if prefix else None
            stay_blank, stay_char = following.get(prefix, (0.0, 0.0))
            stay_blank += total * blank
            if last is not None:
                stay_char += ends_char * frame_probs[class_of[last]]  # a repeated character collapses
            following[prefix] = (stay_blank, stay_char)
            for char, p in candidates:
                extended = prefix + char
                # The same character again makes a new one only after a blank.
                gained = (ends_blank if char == last else total) * p
                if lexicon is not None:
                    if not lookahead_of(extended):
                        continue
                    gained *= lookahead_of(extended) / lookahead_of(prefix)
                ext_blank, ext_char = following.get(extended, (0.0, 0.0))
                following[extended] = (ext_blank, ext_char + gained)
        if len(following) > beam_width:
            following = dict(heapq.nlargest(beam_width, following.items(), key=lambda item: item[1][0] + item[1][1]))
        scale = sum(b + c for b, c in following.values())
        beams = {prefix: (b / scale, c / scale) for prefix, (b, c) in following.items()}
        log_scale += math.log(scale)
    totals = {prefix: b + c for prefix, (b, c) in beams.items()}
    if lexicon is not None:
        # A prefix is only an answer if it is a whole word: weigh it by how often it ends there.
        for prefix in totals:
            ends_here = prefix in lexicon
            if ends_here and prior_weight:
                totals[prefix] *= (lexicon.word_prior(prefix) / lexicon.prefix_prior(prefix)) ** prior_weight
            elif not ends_here:
                totals[prefix] = 0.0
    # A prefix can sit in the beam with probability 0 ("cc" from "c" with no blank between).
    answers = [prefix for prefix, total in totals.items() if total > 0]
    if not answers:
        return Decoded("", -math.inf, 0.0)
    best = max(answers, key=totals.__getitem__)
    # The kept probabilities sum to 1, so a text's share is its rescaled probability.
    return Decoded(best, math.log(totals[best]) + log_scale, totals[best])
