"""Gopher quality rules (Rae et al. 2021, appendix A), with datatrove's definitions.

Words are the tokens of :func:`corpuslake.filters.text.split_words`; "non-symbol" words have at least
one character outside the punctuation set. As in datatrove:

- length and mean word length count non-symbol words only;
- the ``#`` and ellipsis ratios and the alphabetic ratio divide by every token, punctuation included;
- the stop-word rule counts *distinct* stop words and is case-sensitive ("The" is not "the").
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpuslake.filters.base import BatchTokens, Failure, SignalColumn, Signals, TextView, ratio
from corpuslake.filters.text import known_id

NAME = "gopher_quality"


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
    return score_batch([view], config)[0]


def score_batch(views: list[TextView], config: GopherQualityConfig, tokens: BatchTokens | None = None) -> list[Signals]:
    """The signals of many documents; the word counts run over the whole batch's token ids (numpy)."""
    tokens = BatchTokens(views) if tokens is None else tokens
    table, ids = tokens.table, tokens.ids
    non_symbol = ~table.symbol[ids]
    words = tokens.per_doc(non_symbol)
    word_chars = tokens.per_doc(np.where(non_symbol, table.lengths[ids], 0))
    with_alpha = tokens.per_doc(table.alpha[ids])
    stop_words = _stop_words(tokens, config.stop_words)
    out: list[Signals] = []
    for doc, view in enumerate(views):
        text, lines, n_tokens = view.text, view.lines, int(tokens.sizes[doc])
        out.append(
            {
                "gopher_words": int(words[doc]),
                "gopher_tokens": n_tokens,
                "gopher_mean_word_length": ratio(int(word_chars[doc]), int(words[doc])),
                "gopher_hash_ratio": ratio(text.count("#"), n_tokens),
                "gopher_ellipsis_ratio": ratio(text.count("...") + text.count("…"), n_tokens),
                "gopher_bullet_lines_ratio": ratio(
                    sum(1 for s in lines if s.lstrip().startswith(("•", "-"))), len(lines)
                ),
                "gopher_ellipsis_lines_ratio": ratio(
                    sum(1 for s in lines if s.rstrip().endswith(("...", "…"))), len(lines)
                ),
                "gopher_alpha_words_ratio": ratio(int(with_alpha[doc]), n_tokens),
                "gopher_stop_words": int(stop_words[doc]),
            }
        )
    return out


def _stop_words(tokens: BatchTokens, stop_words: tuple[str, ...]) -> np.ndarray:
    """Per document, how many of the distinct ``stop_words`` occur (a word no text of the batch holds
    has no id)."""
    wanted = [i for i in map(known_id, dict.fromkeys(stop_words)) if i is not None]
    docs = len(tokens.sizes)
    if not wanted:
        return np.zeros(docs, np.int64)
    hits = np.flatnonzero(np.isin(tokens.ids, wanted))
    doc_of = np.searchsorted(tokens.doc_start, hits, side="right") - 1
    pairs = np.unique(doc_of * (max(wanted) + 1) + tokens.ids[hits])
    return np.bincount(pairs // (max(wanted) + 1), minlength=docs)


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
