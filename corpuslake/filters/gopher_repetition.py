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
from itertools import chain

import numpy as np
import pyarrow as pa

from corpuslake.filters.base import BatchTokens, Failure, SignalColumn, Signals, TextView, ratio

NAME = "gopher_repetition"

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)

_PARAGRAPHS = re.compile(r"\n{2,}")


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
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


def _lines(text: str) -> list[str]:
    """``re.split("\\n+", text)`` without the regex: the non-empty pieces between newlines, with an empty
    first (last) piece when the text starts (ends) with a newline."""
    parts = text.split("\n")
    lines = [part for part in parts if part]
    if not parts[0]:
        lines.insert(0, "")
    if len(parts) > 1 and not parts[-1]:
        lines.append("")
    return lines


def score(view: TextView, config: GopherRepetitionConfig) -> Signals:
    return score_batch([view], config)[0]


def score_batch(
    views: list[TextView], config: GopherRepetitionConfig, tokens: BatchTokens | None = None
) -> list[Signals]:
    """The signals of many documents: the n-gram work runs once over the whole batch (numpy)."""
    tokens = BatchTokens(views) if tokens is None else tokens
    grams = BatchNGrams(tokens.ids, tokens.table.lengths[tokens.ids], tokens.sizes)
    top = {n: grams.top_chars(n) for n in TOP_NGRAMS}
    dup = grams.repeated_chars(DUP_NGRAMS)
    out: list[Signals] = []
    for doc, view in enumerate(views):
        text = view.text
        length = len(text)
        paragraphs = _PARAGRAPHS.split(text.strip())
        lines = _lines(text)
        para_dups, para_chars = repeats(paragraphs)
        line_dups, line_chars = repeats(lines)
        signals: Signals = {
            "rep_dup_para_frac": ratio(para_dups, len(paragraphs)),
            "rep_dup_para_char_frac": ratio(para_chars, length),
            "rep_dup_line_frac": ratio(line_dups, len(lines)),
            "rep_dup_line_char_frac": ratio(line_chars, length),
        }
        for n in TOP_NGRAMS:
            signals[f"rep_top_{n}gram_char_frac"] = ratio(top[n][doc], length)
        for n in DUP_NGRAMS:
            signals[f"rep_dup_{n}gram_char_frac"] = ratio(dup[n][doc], length)
        out.append(signals)
    return out


class BatchNGrams:
    """Every n-gram of every document of a batch named by an integer, built level by level with numpy.

    The batch's words are laid end to end. Level 1 names a position by (document, word); level n names
    the n-gram starting at position i by the rank of the pair (level n-1 name at i, word at i+n-1), for
    the positions whose n-gram stays inside its document. Exact (no hashing), one sort per level for the
    whole batch, so per-document costs are only the greedy scans below.

    From level 3 on, only the positions whose n-gram can repeat are named: an n-gram occurs twice in a
    document only if both of its (n-1)-grams do (the one at i and the one at i+1). Every other position
    holds an n-gram seen once, which no rule reads beyond "count 1"; in prose that leaves a few percent
    of the positions from level 4 on.
    """

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, sizes: np.ndarray) -> None:
        """``ids``: the batch's word ids laid end to end (equal ids, equal words); ``lengths``: each
        position's word length; ``sizes``: words per document."""
        if len(ids) and int(ids.max()) >= len(ids):  # sparse ids: rank them, so the names below stay small
            ids = np.unique(ids, return_inverse=True)[1].astype(np.int64)
        self.word_ids = ids
        self.vocab_size = max(int(ids.max()) + 1 if len(ids) else 0, 1)
        self.prefix = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
        self.docs = len(sizes)
        self.doc_start = np.concatenate(([0], np.cumsum(sizes)))
        self.doc_of = np.repeat(np.arange(len(sizes)), sizes)
        self.room = self.doc_start[1:][self.doc_of] - np.arange(len(ids))  # words from i to its doc's end
        # n -> (positions named at level n, name of each, global position of each name's first occurrence,
        # count of each name); the positions left out hold n-grams seen once
        self.levels: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._names = self.doc_of * self.vocab_size + self.word_ids
        self._repeated: np.ndarray | None = None  # positions whose last-level n-gram occurs again

    @classmethod
    def of_words(cls, docs: list[list[str]]) -> "BatchNGrams":
        """The n-grams of documents given as lists of words."""
        vocab: dict[str, int] = {}
        words = list(chain.from_iterable(docs))
        ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), np.int64, len(words))
        lengths = np.fromiter(map(len, words), np.int64, len(words))
        return cls(ids, lengths, np.fromiter(map(len, docs), np.int64, len(docs)))

    def level(self, n: int, docs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Level ``n``; levels built from here on cover only the documents in the ``docs`` mask."""
        while n not in self.levels:
            k = len(self.levels) + 2
            inside = self.room >= k
            if self._repeated is not None:
                inside &= self._repeated
                inside[:-1] &= self._repeated[1:]  # room >= k keeps i + 1 inside the document
            positions = np.flatnonzero(inside if docs is None else inside & docs[self.doc_of])
            pairs = self._names[positions] * self.vocab_size + self.word_ids[positions + k - 1]
            first, names, counts = _group(pairs)
            self.levels[k] = (positions, names, positions[first], counts)
            full = np.full(len(self.word_ids), -1, np.int64)
            full[positions] = names
            self._names = full
            repeated = np.zeros(len(self.word_ids), bool)
            repeated[positions] = counts[names] > 1
            self._repeated = repeated
        return self.levels[n]

    def top_chars(self, n: int) -> np.ndarray:
        """Per document: characters of its most frequent n-gram (joined by spaces) times its count;
        ties go to the first seen (what ``Counter.most_common`` gives datatrove); 0 without n-grams."""
        _, _, first, counts = self.level(n)
        out = np.zeros(self.docs, np.int64)
        sizes = np.diff(self.doc_start)
        holding = np.flatnonzero(sizes >= n)
        if not len(holding):
            return out
        # rank every distinct n-gram by (count, earlier first occurrence), placed at its first position;
        # a document's best is then the maximum over its own positions (no sort needed). A document's
        # first n-gram stands for the n-grams left unnamed (count 1, and none is seen earlier).
        span = len(self.word_ids) + 1
        at_position = np.full(len(self.word_ids), -1, np.int64)
        starts = self.doc_start[holding]
        at_position[starts] = span + (span - 1 - starts)
        at_position[first] = counts * span + (span - 1 - first)
        best = np.maximum.reduceat(at_position, starts)
        count, start = best // span, span - 1 - best % span
        out[holding] = (self.prefix[start + n] - self.prefix[start] + n - 1) * count
        return out

    def repeated_chars(self, sizes: tuple[int, ...]) -> dict[int, np.ndarray]:
        """Per n and document: the characters datatrove's greedy scan counts as repeated n-grams.

        The scan, at an n-gram seen before, counts its characters (without spaces) and jumps past it.
        Only positions whose n-gram occurred earlier are visited: naming each n-gram by its first
        occurrence, a first occurrence is in the seen set unless a jump passed over it, and a later
        occurrence is a hit if its first occurrence was not jumped over or if another occurrence of the
        same n-gram was visited (and so added) before. A document with no repeated n-gram has no
        repeated longer one, so it leaves the scan (and the longer levels) at the first n where it has none.
        """
        out = {n: np.zeros(self.docs, np.int64) for n in sizes}
        active = np.ones(self.docs, bool)
        for n in sizes:
            if not active.any():
                break
            positions, names, first, _ = self.level(n, active)
            origin = first[names]
            later = positions[origin != positions]
            owners = self.doc_of[later]
            later_origin = origin[origin != positions]
            keep = active[owners]
            later, owners, later_origin = later[keep], owners[keep], later_origin[keep]
            active[:] = False
            if not len(later):
                break
            bounds = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1], [True])))
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
                doc = int(owners[lo])
                out[n][doc] = self._scan(later[lo:hi].tolist(), later_origin[lo:hi].tolist(), n)
                active[doc] = True
        return out

    def _scan(self, later: list[int], origin: list[int], n: int) -> int:
        prefix = self.prefix
        jumped: set[int] = set()
        visited: set[int] = set()
        chars = resume = 0
        for pos, gram in zip(later, origin, strict=True):
            if pos < resume:
                continue
            if gram not in jumped or gram in visited:
                chars += int(prefix[pos + n] - prefix[pos])
                jumped.update(range(pos + 1, pos + n))
                resume = pos + n
            else:
                visited.add(gram)
        return chars


def _group(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each distinct value: the index of its first occurrence and its count; for each position, the
    name (rank) of its value. ``np.unique`` gives the same but sorts stably to find first occurrences;
    an unstable sort and a minimum per group is faster on large batches."""
    if not len(values):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    order = np.argsort(values)
    ordered = values[order]
    changes = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    starts = np.flatnonzero(changes)
    names = np.empty(len(values), np.int64)
    names[order] = np.cumsum(changes) - 1
    return np.minimum.reduceat(order, starts), names, np.diff(np.append(starts, len(values)))


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
