"""What every filter unit shares: the document view it reads, and the verdict it gives.

A unit computes signals (``score``) and separately turns signals into a verdict (``decide``): score
first, decide later. The signals are stored for every document, so a new threshold can be applied to
stored signals without computing them again.
"""

from dataclasses import dataclass
from itertools import chain
from typing import Any

import pyarrow as pa

from corpuslake.filters.text import Line, split_line

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
    edits can then count the tokens of the text they leave without splitting it again.
    """

    __slots__ = ("_lines", "_split", "_word_count", "_words", "text")

    def __init__(self, text: str, word_count: int | None = None) -> None:
        self.text = text
        self._lines: list[str] | None = None
        self._split: list[Line] | None = None
        self._words: list[str] | None = None
        self._word_count = word_count

    @property
    def lines(self) -> list[str]:
        """``str.splitlines()`` of the text."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    @property
    def split_lines(self) -> list[Line]:
        """Each line's tokens and whitespace-chunk count."""
        if self._split is None:
            self._split = list(map(split_line, self.lines))
        return self._split

    @property
    def words(self) -> list[str]:
        """Every token of the text."""
        if self._words is None:
            self._words = list(chain.from_iterable(line.tokens for line in self.split_lines))
        return self._words

    @property
    def word_count(self) -> int:
        if self._word_count is None:
            self._word_count = len(self.words)
        return self._word_count


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
