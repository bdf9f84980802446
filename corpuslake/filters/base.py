"""What every filter unit shares: the document view it reads, and the verdict it gives.

A unit computes signals (``score``) and separately turns signals into a verdict (``decide``): score
first, decide later. The signals are stored for every document, so a new threshold can be applied to
stored signals without computing them again.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from corpuslake.filters.text import Line, generation, split_line, token, token_table

Signals = dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """One rule a document fails: the unit, a stable reason code, and the measured value in words."""

    filter: str
    reason: str
    detail: str

    @property
    def code(self) -> str:
        return f"{self.filter}/{self.reason}"


class TextView:
    """A document's text with its lines and tokens computed once and shared by the units.

    Tokens are split line by line (a line break is whitespace, so no token spans two lines): C4's line
    edits can then count the tokens of the text they leave without splitting it again. They are kept
    as token ids (:mod:`corpuslake.filters.text`), recomputed if the id tables were reset since.
    """

    __slots__ = ("_generation", "_ids", "_lines", "_split", "_word_count", "text")

    def __init__(self, text: str, word_count: int | None = None) -> None:
        self.text = text
        self._lines: list[str] | None = None
        self._split: list[Line] | None = None
        self._ids: list[int] | None = None
        self._generation = -1
        self._word_count = word_count

    @property
    def lines(self) -> list[str]:
        """``str.splitlines()`` of the text."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    @property
    def split_lines(self) -> list[Line]:
        """Each line's token ids and whitespace-chunk count."""
        if self._split is None or self._generation != generation():
            self._generation = generation()
            self._split = list(map(split_line, self.lines))
            self._ids = None
        return self._split

    @property
    def ids(self) -> list[int]:
        """The id of every token of the text, in order."""
        split = self.split_lines
        if self._ids is None:
            self._ids = list(chain.from_iterable(line.ids for line in split))
        return self._ids

    @property
    def words(self) -> list[str]:
        """Every token of the text."""
        return list(map(token, self.ids))

    @property
    def word_count(self) -> int:
        if self._word_count is None:
            self._word_count = len(self.ids)
        return self._word_count


class BatchTokens:
    """The token ids of a batch of views laid end to end, with each document's start: what the units
    that count words over a whole batch (n-grams, Gopher's word rules) read."""

    def __init__(self, views: Sequence[TextView]) -> None:
        per_doc = [view.ids for view in views]  # after this, no view is re-split: one generation
        sizes = np.fromiter(map(len, per_doc), np.int64, len(per_doc))
        self.ids = np.fromiter(chain.from_iterable(per_doc), np.int64, int(sizes.sum()))
        self.sizes = sizes
        self.doc_start = np.concatenate(([0], np.cumsum(sizes)))
        self.table = token_table()

    def per_doc(self, values: np.ndarray) -> np.ndarray:
        """The sum of ``values`` (one per token) over each document's tokens."""
        prefix: np.ndarray = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
        sums: np.ndarray = prefix[self.doc_start[1:]] - prefix[self.doc_start[:-1]]
        return sums


@dataclass(frozen=True)
class SignalColumn:
    """A stored signal: its column name, Arrow type, and what it measures."""

    name: str
    type: pa.DataType
    doc: str

    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, metadata={"doc": self.doc})


def ratio(part: float, whole: float) -> float:
    """``part / whole``, 0.0 for an empty whole (an empty document has no ratios to exceed)."""
    return part / whole if whole else 0.0
