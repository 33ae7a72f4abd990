"""The words a model was trained on, kept with it so that its lexicon decoders know them too.

A user's collection writes names, old spellings and words with punctuation attached that no
general English list holds ("Fredericksburg,", "1st.", "&c."). With the recipe's `own_words`
weight above 0, a training run counts its training words, mixes them into the general lexicon
(hwr.decoding.lexicon.MixedLexicon) for calibration and scoring, and logs them with the model
(the `own_words` artifact), so the served model decodes with the same lexicon.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from hwr.data.charset import Charset
from hwr.decoding.lexicon import MixedLexicon, default_lexicon, own_words


@dataclass(frozen=True)
class OwnWords:
    counts: dict[str, int]  # each training word, as transcribed, and how often it was written
    weight: float  # its share of the mixed lexicon's word prior

    @classmethod
    def of(cls, texts: Iterable[str], weight: float) -> OwnWords:
        """The words of training labels: a line's label counts each of its words (split on spaces)."""
        return cls(dict(Counter(word for text in texts for word in text.split())), weight)

    @classmethod
    def merged(cls, found: list[OwnWords]) -> OwnWords:
        """Several models' words as one (an ensemble's members): counts add up, the weight is the first's."""
        total: Counter = Counter()
        for one in found:
            total.update(one.counts)
        return cls(dict(total), found[0].weight)

    def lexicon(self, charset: Charset, general_size: int) -> MixedLexicon:
        return MixedLexicon(default_lexicon(charset, general_size), own_words(self.counts, charset), self.weight)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"weight": self.weight, "counts": self.counts}, ensure_ascii=False),
                        encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> OwnWords:
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
            counts, weight = values["counts"], float(values["weight"])
            if not isinstance(counts, dict) or not 0 < weight < 1:
                raise ValueError("counts must be an object and weight lie between 0 and 1")
            return cls({str(word): int(count) for word, count in counts.items()}, weight)
        except (ValueError, KeyError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"the model's own_words artifact {path} is unreadable: {exc}") from None
