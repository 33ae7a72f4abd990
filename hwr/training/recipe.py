"""The recipe: every option that shapes what a pipeline trains, each written once.

A field carries its default, its help and its check (a click type). The steps' command-line
options are made from these fields (steps/_cli.py), a preset file (presets/*.yaml) sets
some of them, and the train step logs the resolved recipe as its run's params.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import click
import yaml

from hwr.data.images import IMAGE_HEIGHT, IMAGE_WIDTH
from hwr.data.splits import RANDOM
from hwr.errors import HwrError
from hwr.model.variants import DOWNSAMPLE, KERAS_EXAMPLE, KERAS_EXAMPLE_DROPOUT, MODELS, VARIANTS

SCHEDULES = ("constant", "cosine")
UNITS = ("word", "line")
MIN_LINE_WIDTH = 512  # a line of several words 32 px high needs a canvas this wide at least

# The steps that take each kind of option (and so get it on their command line).
DATA = ("main", "download")
SPLIT = ("main", "prepare")
TRAIN = ("main", "train")


class RecipeError(HwrError):
    """A recipe value or file that cannot be used; the message names the field and the source."""


MAX_CANVAS = 1024  # a handwritten line 32 px high is at most about 25 times as wide (IAM)


class CanvasWidth(click.ParamType):
    """Whole CTC frames (a multiple of DOWNSAMPLE) within sane bounds."""

    name = "width"

    def convert(self, value, param, ctx):
        width = click.INT.convert(value, param, ctx)
        if width % DOWNSAMPLE or not 64 <= width <= MAX_CANVAS:
            self.fail(f"must be a multiple of {DOWNSAMPLE} from 64 to {MAX_CANVAS}, got {width}", param, ctx)
        return width


class OrNone(click.ParamType):
    """Another type's values, or "none" (the command line's word for no value): None."""

    def __init__(self, inner: click.ParamType):
        self.inner, self.name = inner, inner.name

    def convert(self, value, param, ctx):
        if value is None or str(value).strip().lower() in ("", "none", "null"):
            return None
        return self.inner.convert(value, param, ctx)


def option(default, help: str, type: click.ParamType, steps: tuple[str, ...] = TRAIN):
    return field(default=default, metadata={"help": help, "type": type, "steps": steps})


UNIT = click.FloatRange(0, 1, max_open=True)
FRACTION = click.FloatRange(0, 1, min_open=True, max_open=True)


@dataclass(frozen=True)
class Recipe:
    """How one pipeline trains: its data draw, its splits, and each training's model and optimiser.

    conv_dropout and rnn_dropout default to None, "the model's own" (model/variants.py);
    `effective()` fills them in, and makes keras_example train as the public example does.
    """

    # data and splits
    samples: int = option(10000, "Words in the synthetic set (dataset=synthetic, or mix_synthetic).",
                          click.IntRange(min=1), DATA)
    unit: str = option("word", "What a sample is: word, or line (several words; a line model reads whole lines: the "
                       "synthetic set draws lines, IAM's words are pasted back into their lines). See presets/lines.yaml.",
                       click.Choice(UNITS), ("main", "download", "train"))
    seed: int = option(42, "Seed of the synthetic set, the splits and the trainings (split k trains with seed + k).",
                       click.INT, ("main", "download", "prepare", "train"))
    splits: int = option(3, "Seeded train/validation splits, one training each, in parallel.",
                         click.IntRange(min=1), SPLIT)
    split_by: str = option(RANDOM, "random, or a column whose every value stays on one side of the split: any "
                           "column of labels.tsv (page, writer, ...), or IAM's form or writer (with "
                           "writers=TABLE).", click.STRING, SPLIT)
    test_fraction: float = option(0.1, "Share of the words held out as the one test list.", FRACTION, SPLIT)
    val_fraction: float = option(0.1, "Share of the words each split validates on (early stopping, best epoch, "
                                 "confidence calibration).", FRACTION, SPLIT)
    ensemble: bool = option(False, "Register all finished splits as one model averaging their outputs, "
                            "instead of the best one alone.", click.BOOL, ("main", "register"))
    # the model
    model: str = option("compact", "compact (quick start), crnn (for real handwriting), keras_example "
                        "(the public Keras example, for comparison).", click.Choice(MODELS))
    image_width: int = option(IMAGE_WIDTH, f"Width of the canvas words are scaled into ({IMAGE_HEIGHT} high); "
                              f"one CTC frame per {DOWNSAMPLE} columns; keras_example keeps {IMAGE_WIDTH}.",
                              CanvasWidth())
    conv_dropout: float | None = option(None, "Dropout after every conv block from the third on; none = the "
                                        "model's own.", OrNone(UNIT))
    rnn_dropout: float | None = option(None, "Dropout before and after the recurrent layers; none = the "
                                       "model's own.", OrNone(UNIT))
    init_model: str | None = option(None, "Start from this hwr model's weights (models:/NAME@ALIAS, "
                                    "runs:/ID/model); none = from scratch.", OrNone(click.STRING))
    freeze: int = option(0, "With init_model: keep its first N conv blocks as they are and train the rest; "
                         "0 = train every layer.", click.IntRange(min=0))
    # the optimisation
    epochs: int = option(5, "Training epochs (the budget ends at epochs or max_minutes, whichever comes first).",
                         click.IntRange(min=1))
    max_minutes: float = option(0.0, "Training time budget per split in minutes; 0 = none.",
                                click.FloatRange(min=0))
    patience: int = option(0, "Stop after this many epochs without a better val_cer; 0 = never.",
                           click.IntRange(min=0))
    batch_size: int = option(32, "Words per training step.", click.IntRange(min=1))
    learning_rate: float = option(0.001, "Peak learning rate.", click.FloatRange(min=0))
    schedule: str = option("constant", "constant, or cosine: warm-up, then cosine decay over the budget.",
                           click.Choice(SCHEDULES))
    warmup: float = option(0.03, "With schedule=cosine: the share of the budget over which the learning rate "
                           "climbs to its peak.", UNIT)
    weight_decay: float = option(0.0, "AdamW's decoupled weight decay of the kernels; 0 = plain Adam.",
                                 click.FloatRange(min=0))
    ema: float = option(0.0, "Validate and keep a moving average of the weights with this momentum "
                        "(e.g. 0.999; the mean of the steps so far until that is the longer average); "
                        "0 = off.", UNIT)
    augment: bool = option(False, "Re-write every word slightly differently each epoch (slant, rotation, "
                           "scale, elastic distortion, stroke width, contrast, noise).", click.BOOL)
    erase: float = option(0.0, "With augment: chance of each of 3 paper patches hiding part of a word; 0 = off.",
                          click.FloatRange(0, 1))
    mix_synthetic: float = option(0.0, "Share of each training batch drawn from a synthetic set of `samples` "
                                  "words (dataset=iam or folder); 0 = off.", UNIT)
    own_words: float = option(0.0, "Mix the training words into the lexicon and hybrid decoders' lexicon, with this "
                              "share of its word prior (names, old spellings, punctuation attached); 0 = general "
                              "English only.", UNIT)

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, convert(f.name, getattr(self, f.name)))
        if self.erase and not self.augment and self.model != KERAS_EXAMPLE:
            raise RecipeError(f"erase={self.erase} paints patches in the augmentation: set augment=true too")
        if self.freeze and self.init_model is None:
            raise RecipeError(f"freeze={self.freeze} keeps init_model's first layers: give init_model too")

    def check_unit(self) -> None:
        """What a line pipeline needs of the training options (main holds both kinds; a step alone
        holds only its own, so this is not checked on every recipe)."""
        if self.unit == "line" and self.image_width < MIN_LINE_WIDTH:
            raise RecipeError(f"unit=line reads whole lines: image_width must be at least {MIN_LINE_WIDTH}, got "
                              f"{self.image_width} (presets/lines.yaml uses 800: -P recipe=lines)")
        if self.unit == "line" and self.mix_synthetic:
            raise RecipeError("mix_synthetic mixes synthetic words into batches of words: not with unit=line")

    def effective(self) -> Recipe:
        """The recipe as trained: the model's own dropout where none is given; keras_example
        always as the public example (Adam 1e-3, no augmentation, 128-wide images)."""
        if self.model == KERAS_EXAMPLE:
            return replace(self, augment=False, erase=0.0, schedule="constant", learning_rate=0.001, ema=0.0,
                           weight_decay=0.0, mix_synthetic=0.0, image_width=IMAGE_WIDTH,
                           **KERAS_EXAMPLE_DROPOUT)
        own = VARIANTS[self.model]
        return replace(self, conv_dropout=own["conv_dropout"] if self.conv_dropout is None else self.conv_dropout,
                       rnn_dropout=own["rnn_dropout"] if self.rnn_dropout is None else self.rnn_dropout)

    def params(self) -> dict[str, str]:
        """As MLflow params: every field, as the command line writes it."""
        return {name: as_param(value) for name, value in asdict(self).items()}

    def overrides(self, given: dict[str, str]) -> str:
        """The fields whose `given` value (as params) this recipe does not hold, as "name: given -> held"."""
        held = self.params()
        return ", ".join(f"{name}: {value} -> {held[name]}" for name, value in sorted(given.items())
                         if name in FIELDS and convert(name, value) != getattr(self, name))

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(asdict(self), sort_keys=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
        """The recipe of a preset file, with `overrides` (name -> value) set on top."""
        return cls.build(read_file(Path(path)), overrides, source=str(path))

    @classmethod
    def build(cls, values: dict[str, Any], overrides: dict[str, Any] | None = None, source: str = "") -> Recipe:
        merged = {**values, **(overrides or {})}
        unknown = sorted(set(merged) - set(FIELDS))
        if unknown:
            hints = [f"{name} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(name, FIELDS, 1))
                     else name for name in unknown]
            raise RecipeError(f"{source or 'recipe'}: unknown option {', '.join(hints)}; "
                              f"a recipe sets {', '.join(FIELDS)}")
        try:
            return cls(**merged)
        except RecipeError as exc:
            raise RecipeError(f"{source}: {exc}" if source else str(exc)) from None


FIELDS = {f.name: f for f in fields(Recipe)}


def convert(name: str, value: Any) -> Any:
    """A value from a file or the command line, checked and converted by its field's click type."""
    if value is None and FIELDS[name].default is not None:
        raise RecipeError(f"{name}: needs a value (its default is {FIELDS[name].default})")
    try:
        return FIELDS[name].metadata["type"].convert(value, None, None)
    except click.BadParameter as exc:
        raise RecipeError(f"{name}: {exc.message}") from None


def as_param(value: Any) -> str:
    """A value as the command line (and so an MLflow param) writes it: "none" for None, booleans
    as true/false."""
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RecipeError(f"recipe file {path} is not valid YAML: {exc}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise RecipeError(f"recipe file {path} must be a mapping of option: value, got {type(values).__name__}")
    return values


def fields_for(step: str) -> list:
    return [f for f in fields(Recipe) if step in f.metadata["steps"]]
