"""FineWeb's own quality rules (Penedo et al. 2024), with datatrove's FineWebQualityFilter definitions.

They run on the text left by C4's line edits, as in FineWeb's pipeline. Lines are ``split("\\n")``
without the blank ones, unstripped (a line with trailing spaces does not end in punctuation).
"""

from dataclasses import dataclass

import pyarrow as pa

from corpuslake.filters.base import Failure, SignalColumn, Signals, TextView, ratio
from corpuslake.filters.gopher_repetition import repeats
from corpuslake.filters.text import terminal_punctuation

NAME = "fineweb"


@dataclass(frozen=True)
class FineWebConfig:
    """FineWeb-English thresholds (the datatrove defaults FineWeb was built with)."""

    enabled: bool = True
    """Apply these rules (their signals are stored either way)."""
    line_punct_thr: float | None = 0.12
    """Fraction of lines ending in terminal punctuation below this: ``line_punct_ratio``."""
    short_line_thr: float | None = 0.67
    """Fraction of lines of at most ``short_line_length`` characters above this: ``short_line_ratio``."""
    short_line_length: int = 30
    """What counts as a short line, in characters."""
    char_duplicates_ratio: float | None = 0.01
    """Characters in repeated lines over characters (newlines excluded) above this: ``char_dup_ratio``.
    0.01 is FineWeb-English's value; FineWeb-2 uses 0.1."""
    new_line_ratio: float | None = 0.3
    """Newlines per token above this: ``list_ratio``."""


SIGNALS = [
    SignalColumn("fineweb_lines", pa.int32(), "non-blank lines"),
    SignalColumn("fineweb_line_punct_ratio", pa.float32(), "lines ending in terminal punctuation"),
    SignalColumn("fineweb_short_line_ratio", pa.float32(), "short lines"),
    SignalColumn("fineweb_char_dup_ratio", pa.float32(), "characters in repeated lines"),
    SignalColumn("fineweb_list_ratio", pa.float32(), "newlines per token"),
]


def score(view: TextView, config: FineWebConfig) -> Signals:
    text = view.text
    lines = [line for line in text.split("\n") if line.strip()]
    terminal = frozenset(terminal_punctuation())
    n = len(lines)
    return {
        "fineweb_lines": n,
        "fineweb_line_punct_ratio": ratio(sum(1 for line in lines if line[-1] in terminal), n),
        "fineweb_short_line_ratio": ratio(sum(1 for line in lines if len(line) <= config.short_line_length), n),
        "fineweb_char_dup_ratio": ratio(repeats(lines)[1], len(text) - text.count("\n")),
        "fineweb_list_ratio": ratio(text.count("\n"), view.word_count),
    }


def decide(s: Signals, config: FineWebConfig) -> Failure | None:
    c = config
    if s["fineweb_lines"] == 0:
        return Failure(NAME, "empty", "no text left")
    if c.line_punct_thr is not None and s["fineweb_line_punct_ratio"] < c.line_punct_thr:
        value = s["fineweb_line_punct_ratio"]
        return Failure(NAME, "line_punct_ratio", f"{value:.3f} of lines end in punctuation < {c.line_punct_thr}")
    if c.short_line_thr is not None and s["fineweb_short_line_ratio"] > c.short_line_thr:
        return Failure(NAME, "short_line_ratio", f"{s['fineweb_short_line_ratio']:.3f} > {c.short_line_thr}")
    if c.char_duplicates_ratio is not None and s["fineweb_char_dup_ratio"] > c.char_duplicates_ratio:
        return Failure(NAME, "char_dup_ratio", f"{s['fineweb_char_dup_ratio']:.3f} > {c.char_duplicates_ratio}")
    if c.new_line_ratio is not None and s["fineweb_list_ratio"] > c.new_line_ratio:
        return Failure(NAME, "list_ratio", f"{s['fineweb_list_ratio']:.3f} newlines per token > {c.new_line_ratio}")
    return None
