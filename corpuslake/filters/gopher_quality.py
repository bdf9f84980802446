"""Gopher quality rules (Rae et al. 2021, appendix A), with datatrove's definitions.

Words are the tokens of :func:`corpuslake.filters.text.split_words`; "non-symbol" words have at least
one character outside the punctuation set. As in datatrove:

- length and mean word length count non-symbol words only;
- the ``#`` and ellipsis ratios and the alphabetic ratio divide by every token, punctuation included;
- the stop-word rule counts *distinct* stop words and is case-sensitive ("The" is not "the").
"""

import re
from dataclasses import dataclass
from itertools import filterfalse

import pyarrow as pa

from corpuslake.filters.base import Failure, SignalColumn, Signals, TextView, ratio
from corpuslake.filters.text import punctuation

NAME = "gopher_quality"

_HAS_ALPHA = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class GopherQualityConfig:
    """Gopher's quality thresholds (paper defaults); ``None`` switches a rule off."""

    enabled: bool = True
    """Apply these rules (their signals are stored either way)."""
    min_doc_words: int | None = 50
    """Fewer non-symbol words than this: ``short_doc``."""
    max_doc_words: int | None = 100_000
    """More non-symbol words than this: ``long_doc``."""
    min_avg_word_length: float | None = 3
    """Mean non-symbol word length below this: ``short_words``."""
    max_avg_word_length: float | None = 10
    """Mean non-symbol word length above this: ``long_words``."""
    max_symbol_word_ratio: float | None = 0.1
    """``#`` per token, or ellipses per token, above this: ``hash_ratio`` / ``ellipsis_ratio``."""
    max_bullet_lines_ratio: float | None = 0.9
    """Fraction of lines starting with a bullet (``•`` or ``-``) above this: ``bullet_lines``."""
    max_ellipsis_lines_ratio: float | None = 0.3
    """Fraction of lines ending with an ellipsis above this: ``ellipsis_lines``."""
    min_alpha_words_ratio: float | None = 0.8
    """Fraction of tokens containing a letter below this: ``non_alpha_words``."""
    min_stop_words: int | None = 2
    """Fewer distinct stop words than this: ``few_stop_words``."""
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
    """Gopher's English stop words (matched case-sensitively, as datatrove does)."""


SIGNALS = [
    SignalColumn("gopher_words", pa.int32(), "non-symbol words"),
    SignalColumn("gopher_tokens", pa.int32(), "all tokens, punctuation included"),
    SignalColumn("gopher_mean_word_length", pa.float32(), "mean length of non-symbol words"),
    SignalColumn("gopher_hash_ratio", pa.float32(), "'#' characters per token"),
    SignalColumn("gopher_ellipsis_ratio", pa.float32(), "'...' and '…' per token"),
    SignalColumn("gopher_bullet_lines_ratio", pa.float32(), "lines starting with a bullet"),
    SignalColumn("gopher_ellipsis_lines_ratio", pa.float32(), "lines ending with an ellipsis"),
    SignalColumn("gopher_alpha_words_ratio", pa.float32(), "tokens with at least one letter"),
    SignalColumn("gopher_stop_words", pa.int32(), "distinct stop words present"),
]


def score(view: TextView, config: GopherQualityConfig) -> Signals:
    text, words = view.text, view.words
    marks = punctuation()
    non_symbol = list(filterfalse(marks.issuperset, words))
    not_letters = list(filterfalse(str.isalpha, words))  # most tokens are letters only: test the rest
    with_alpha = len(words) - len(not_letters) + sum(1 for w in not_letters if _HAS_ALPHA.search(w))
    lines = view.lines
    n_tokens = len(words)
    return {
        "gopher_words": len(non_symbol),
        "gopher_tokens": n_tokens,
        "gopher_mean_word_length": ratio(sum(map(len, non_symbol)), len(non_symbol)),
        "gopher_hash_ratio": ratio(text.count("#"), n_tokens),
        "gopher_ellipsis_ratio": ratio(text.count("...") + text.count("…"), n_tokens),
        "gopher_bullet_lines_ratio": ratio(sum(1 for s in lines if s.lstrip().startswith(("•", "-"))), len(lines)),
        "gopher_ellipsis_lines_ratio": ratio(sum(1 for s in lines if s.rstrip().endswith(("...", "…"))), len(lines)),
        "gopher_alpha_words_ratio": ratio(with_alpha, n_tokens),
        "gopher_stop_words": len(set(config.stop_words).intersection(words)),
    }


def decide(s: Signals, config: GopherQualityConfig) -> Failure | None:
    """The first rule ``s`` fails, in datatrove's order, or None."""
    c = config
    words, mean = s["gopher_words"], s["gopher_mean_word_length"]
    if c.min_doc_words is not None and words < c.min_doc_words:
        return Failure(NAME, "short_doc", f"{words} words < {c.min_doc_words}")
    if c.max_doc_words is not None and words > c.max_doc_words:
        return Failure(NAME, "long_doc", f"{words} words > {c.max_doc_words}")
    if c.min_avg_word_length is not None and mean < c.min_avg_word_length:
        return Failure(NAME, "short_words", f"mean word length {mean:.2f} < {c.min_avg_word_length}")
    if c.max_avg_word_length is not None and mean > c.max_avg_word_length:
        return Failure(NAME, "long_words", f"mean word length {mean:.2f} > {c.max_avg_word_length}")
    for key, reason in (("gopher_hash_ratio", "hash_ratio"), ("gopher_ellipsis_ratio", "ellipsis_ratio")):
        if c.max_symbol_word_ratio is not None and s[key] > c.max_symbol_word_ratio:
            return Failure(NAME, reason, f"{s[key]:.3f} per token > {c.max_symbol_word_ratio}")
    if c.max_bullet_lines_ratio is not None and s["gopher_bullet_lines_ratio"] > c.max_bullet_lines_ratio:
        return Failure(NAME, "bullet_lines", f"{s['gopher_bullet_lines_ratio']:.3f} > {c.max_bullet_lines_ratio}")
    if c.max_ellipsis_lines_ratio is not None and s["gopher_ellipsis_lines_ratio"] > c.max_ellipsis_lines_ratio:
        value = s["gopher_ellipsis_lines_ratio"]
        return Failure(NAME, "ellipsis_lines", f"{value:.3f} > {c.max_ellipsis_lines_ratio}")
    if c.min_alpha_words_ratio is not None and s["gopher_alpha_words_ratio"] < c.min_alpha_words_ratio:
        value = s["gopher_alpha_words_ratio"]
        return Failure(NAME, "non_alpha_words", f"{value:.3f} of tokens have letters < {c.min_alpha_words_ratio}")
    if c.min_stop_words is not None and s["gopher_stop_words"] < c.min_stop_words:
        return Failure(NAME, "few_stop_words", f"{s['gopher_stop_words']} distinct stop words < {c.min_stop_words}")
    return None
