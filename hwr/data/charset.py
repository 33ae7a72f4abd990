"""The model's alphabet (charset) and label encoding.

Index 0 is the CTC blank (and label padding), as keras.losses.CTC expects; characters take 1..N.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

BLANK = 0


@dataclass(frozen=True)
class Charset:
    chars: tuple[str, ...]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Charset":
        """Every character seen in `texts`, sorted so the same labels always give the same indices."""
        return cls(tuple(sorted({c for t in texts for c in t})))

    @classmethod
    def load(cls, path: str | Path) -> "Charset":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(tuple(data["chars"]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"chars": list(self.chars)}, ensure_ascii=False, indent=1), encoding="utf-8")

    @property
    def num_classes(self) -> int:
        """Output size of the model: every character plus the blank."""
        return len(self.chars) + 1

    def _index(self) -> dict[str, int]:
        return {c: i + 1 for i, c in enumerate(self.chars)}

    def unknown_chars(self, text: str) -> set[str]:
        return set(text) - set(self.chars)

    def encode(self, text: str) -> list[int]:
        index = self._index()
        missing = self.unknown_chars(text)
        if missing:
            raise ValueError(f"characters not in the charset: {''.join(sorted(missing))!r} in {text!r}")
        return [index[c] for c in text]

    def encode_batch(self, texts: Sequence[str], max_len: int) -> np.ndarray:
        """Labels padded with the blank index to `max_len`, as an int32 matrix."""
        out = np.zeros((len(texts), max_len), dtype=np.int32)
        for row, text in enumerate(texts):
            ids = self.encode(text)
            if len(ids) > max_len:
                raise ValueError(f"label {text!r} is longer than {max_len} characters")
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Indices to text; the blank and out-of-range indices are dropped."""
        n = len(self.chars)
        return "".join(self.chars[i - 1] for i in ids if 0 < i <= n)


def ctc_min_frames(text: str) -> int:
    """Frames CTC needs to emit `text`: one per character plus a blank between repeated letters."""
    return len(text) + sum(1 for a, b in zip(text, text[1:]) if a == b)
