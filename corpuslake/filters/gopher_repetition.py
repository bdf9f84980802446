"""Gopher repetition rules (Rae et al. 2021, table A1), with datatrove's definitions.

- Paragraphs are split on two or more newlines (after stripping the text), lines on one or more.
- A duplicate is a second or later occurrence; character fractions divide by ``len(text)``.
- Top n-gram (n = 2, 3, 4): the most frequent n-gram (ties: the first seen), its characters joined by
  spaces times its count, over ``len(text)``.
- Duplicated n-grams (n = 5..10): a left-to-right scan that, on meeting an n-gram seen before, counts
  its characters (without spaces) and jumps past it.

Where this can differ from datatrove: n-grams are compared as word tuples, where datatrove compares the
words' concatenation, so ("ab", "c") and ("a", "bc") are one n-gram there and two here; and the words
themselves come from the regex splitter (see ``text.py``).
"""

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpuslake.filters.base import Failure, SignalColumn, Signals, TextView, ratio

NAME = "gopher_repetition"

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)

_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


@dataclass(frozen=True)
class GopherRepetitionConfig:
    """Gopher's repetition thresholds (table A1 defaults); ``None`` switches a rule off."""

    enabled: bool = True
    """Apply these rules (their signals are stored either way)."""
    dup_para_frac: float | None = 0.3
    """Fraction of paragraphs that repeat an earlier one: ``dup_para_frac``."""
    dup_para_char_frac: float | None = 0.2
    """Characters in repeated paragraphs over all characters: ``dup_para_char_frac``."""
    dup_line_frac: float | None = 0.3
    """Fraction of lines that repeat an earlier one: ``dup_line_frac``."""
    dup_line_char_frac: float | None = 0.2
    """Characters in repeated lines over all characters: ``dup_line_char_frac``."""
    top_ngram_char_frac: tuple[float | None, ...] = (0.20, 0.18, 0.16)
    """For n = 2, 3, 4: the most frequent n-gram's share of characters above this: ``top_<n>_gram``."""
    dup_ngram_char_frac: tuple[float | None, ...] = (0.15, 0.14, 0.13, 0.12, 0.11, 0.10)
    """For n = 5..10: the share of characters in repeated n-grams above this: ``dup_<n>_gram``."""


SIGNALS = [
    SignalColumn("rep_dup_para_frac", pa.float32(), "paragraphs repeating an earlier one"),
    SignalColumn("rep_dup_para_char_frac", pa.float32(), "characters in repeated paragraphs"),
    SignalColumn("rep_dup_line_frac", pa.float32(), "lines repeating an earlier one"),
    SignalColumn("rep_dup_line_char_frac", pa.float32(), "characters in repeated lines"),
    *[SignalColumn(f"rep_top_{n}gram_char_frac", pa.float32(), f"top {n}-gram's characters") for n in TOP_NGRAMS],
    *[
        SignalColumn(f"rep_dup_{n}gram_char_frac", pa.float32(), f"characters in repeated {n}-grams")
        for n in DUP_NGRAMS
    ],
]


def repeats(items: list[str]) -> tuple[int, int]:
    """(count, characters) of the items that repeat an earlier item."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def score(view: TextView, config: GopherRepetitionConfig) -> Signals:
    text = view.text
    length = len(text)
    paragraphs = _PARAGRAPHS.split(text.strip())
    lines = _LINES.split(text)
    para_dups, para_chars = repeats(paragraphs)
    line_dups, line_chars = repeats(lines)
    signals: Signals = {
        "rep_dup_para_frac": ratio(para_dups, len(paragraphs)),
        "rep_dup_para_char_frac": ratio(para_chars, length),
        "rep_dup_line_frac": ratio(line_dups, len(lines)),
        "rep_dup_line_char_frac": ratio(line_chars, length),
    }
    grams = NGrams(view.words)
    for n in TOP_NGRAMS:
        signals[f"rep_top_{n}gram_char_frac"] = ratio(grams.top_chars(n), length)
    repeated = True
    for n in DUP_NGRAMS:
        # A repeated (n+1)-gram contains a repeated n-gram: once none repeats, no longer one does.
        chars = grams.repeated_chars(n) if repeated else 0
        repeated = chars > 0
        signals[f"rep_dup_{n}gram_char_frac"] = ratio(chars, length)
    return signals


class NGrams:
    """Every n-gram of a word list named by an integer, built level by level with numpy.

    Level n names the n-gram at position i by the rank of the pair (name of the (n-1)-gram at i, word
    at i+n-1): exact, no hashing, one ``np.unique`` per level.
    """

    def __init__(self, words: list[str]) -> None:
        vocab = {word: i for i, word in enumerate(dict.fromkeys(words))}
        self.word_ids = np.fromiter(map(vocab.__getitem__, words), np.int64, len(words))
        self.vocab_size = max(len(vocab), 1)
        self.prefix = np.concatenate(([0], np.cumsum(np.fromiter(map(len, words), np.int64, len(words)))))
        # n -> (index of each distinct n-gram's first occurrence, name at each position, counts)
        self.levels: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._names = self.word_ids

    def level(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        while len(self.levels) + 2 <= n:
            k = len(self.levels) + 2
            if len(self._names) < 2:
                return None
            pairs = self._names[:-1] * self.vocab_size + self.word_ids[k - 1 :]
            _, first, names, counts = np.unique(pairs, return_index=True, return_inverse=True, return_counts=True)
            self.levels[k] = (first, names, counts)
            self._names = names
        return self.levels.get(n)

    def top_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram (joined by spaces) times its count; ties: first seen."""
        found = self.level(n)
        if found is None:
            return 0
        first, _, counts = found
        top = counts.max()
        start = int(first[counts == top].min())
        return int(self.prefix[start + n] - self.prefix[start] + n - 1) * int(top)

    def repeated_chars(self, n: int) -> int:
        """datatrove's greedy scan: at an n-gram seen before, count its characters and jump past it.

        Only positions whose n-gram occurred earlier are visited. Name each n-gram by its first
        occurrence: a first occurrence is in the seen set unless a jump passed over it; a later
        occurrence is a hit if its first occurrence was not jumped over, or if another occurrence of
        the same n-gram was visited (and so added) before.
        """
        found = self.level(n)
        if found is None:
            return 0
        first, names, _ = found
        origin = first[names]
        later = np.flatnonzero(origin != np.arange(len(origin)))
        if not len(later):
            return 0
        prefix = self.prefix
        jumped: set[int] = set()
        visited: set[int] = set()
        chars = resume = 0
        for pos, gram in zip(later.tolist(), origin[later].tolist(), strict=True):
            if pos < resume:
                continue
            if gram not in jumped or gram in visited:
                chars += int(prefix[pos + n] - prefix[pos])
                jumped.update(range(pos + 1, pos + n))
                resume = pos + n
            else:
                visited.add(gram)
        return chars


def decide(s: Signals, config: GopherRepetitionConfig) -> Failure | None:
    """The first rule ``s`` fails, in datatrove's order, or None."""
    c = config
    rules: list[tuple[str, float | None]] = [
        ("dup_para_frac", c.dup_para_frac),
        ("dup_para_char_frac", c.dup_para_char_frac),
        ("dup_line_frac", c.dup_line_frac),
        ("dup_line_char_frac", c.dup_line_char_frac),
    ]
    for reason, limit in rules:
        value = s[f"rep_{reason}"]
        if limit is not None and value > limit:
            return Failure(NAME, reason, f"{value:.3f} > {limit}")
    for n, limit in zip(TOP_NGRAMS, c.top_ngram_char_frac, strict=True):
        value = s[f"rep_top_{n}gram_char_frac"]
        if limit is not None and value > limit:
            return Failure(NAME, f"top_{n}_gram", f"{value:.3f} of characters > {limit}")
    for n, limit in zip(DUP_NGRAMS, c.dup_ngram_char_frac, strict=True):
        value = s[f"rep_dup_{n}gram_char_frac"]
        if limit is not None and value > limit:
            return Failure(NAME, f"dup_{n}_gram", f"{value:.3f} of characters > {limit}")
    return None
