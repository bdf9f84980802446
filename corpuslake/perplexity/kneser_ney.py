"""Interpolated Kneser-Ney estimation from n-gram counts, written as an ARPA file KenLM can query.

KenLM's estimator (lmplz) is not on PyPI, so the model is estimated here. The formulas are those of
NLTK's ``KneserNeyInterpolated`` (one absolute discount for every order; continuation counts below the
highest order; the unigram distribution is the continuation distribution), which the tests check
probability by probability. Interpolated probabilities are stored in the ARPA file and each context's
interpolation weight as its backoff, so a backoff query (KenLM) returns the same numbers.

Sentence boundaries: with ``pad="kenlm"`` a sentence is ``<s> w1 .. wn </s>`` and n-grams that start
with ``<s>`` keep their raw counts (nothing can precede ``<s>``; KenLM does the same); ``pad="nltk"``
pads with ``order - 1`` markers on both sides and uses continuation counts everywhere, as NLTK does.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, TextIO

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
Pad = Literal["kenlm", "nltk"]
NGram = tuple[str, ...]
NO_PROBABILITY = -99.0  # what ARPA files hold for log10(0), e.g. the unigram <s>


def padded(sentence: Sequence[str], order: int, pad: Pad) -> list[str]:
    edge = 1 if pad == "kenlm" else order - 1
    return [BOS] * edge + list(sentence) + [EOS] * (1 if pad == "kenlm" else order - 1)


def count(sentences: Iterable[Sequence[str]], order: int, pad: Pad) -> list[Counter[NGram]]:
    """Raw counts of every n-gram of order 1..``order`` of the padded sentences (index 0 is unigrams)."""
    counts: list[Counter[NGram]] = [Counter() for _ in range(order)]
    for sentence in sentences:
        words = tuple(padded(sentence, order, pad))
        for n in range(1, order + 1):
            counts[n - 1].update(words[i : i + n] for i in range(len(words) - n + 1))
    return counts


def _adjusted(counts: list[Counter[NGram]], pad: Pad) -> list[Counter[NGram]]:
    """Continuation counts (distinct left neighbours) below the highest order, raw counts at it."""
    adjusted: list[Counter[NGram]] = []
    for n in range(1, len(counts)):
        continuation: Counter[NGram] = Counter(gram[1:] for gram in counts[n])
        if pad == "kenlm" and n > 1:  # a unigram <s> is never predicted: it keeps probability 0
            continuation.update({gram: c for gram, c in counts[n - 1].items() if gram[0] == BOS})
        adjusted.append(continuation)
    adjusted.append(counts[-1])
    return adjusted


def estimate(
    sentences: Iterable[Sequence[str]], order: int, discount: float, pad: Pad = "kenlm"
) -> list[dict[NGram, tuple[float, float]]]:
    """Per order, every seen n-gram's (log10 probability, log10 backoff); ``<unk>`` gets the probability
    of a word seen after a single distinct context (the rarest known word)."""
    counts = count(sentences, order, pad)
    adjusted = _adjusted(counts, pad)
    totals = sum(adjusted[0].values())
    probability: dict[NGram, float] = {gram: adjusted[0][gram] / totals for gram in counts[0]}
    weights: dict[NGram, float] = {}
    for n in range(2, order + 1):
        denominator: Counter[NGram] = Counter()
        followers: Counter[NGram] = Counter()
        for gram, c in adjusted[n - 1].items():
            denominator[gram[:-1]] += c
        for gram in counts[n - 1]:
            followers[gram[:-1]] += 1
        for context, total in denominator.items():
            weights[context] = discount * followers[context] / total if total else 1.0
        for gram in counts[n - 1]:
            context = gram[:-1]
            total = denominator[context]
            alpha = max(adjusted[n - 1][gram] - discount, 0.0) / total if total else 0.0
            probability[gram] = alpha + weights[context] * probability[gram[1:]]
    probability.setdefault((UNK,), 1 / totals)
    tables: list[dict[NGram, tuple[float, float]]] = [{} for _ in range(order)]
    for gram, p in probability.items():
        backoff = weights.get(gram) if len(gram) < order else None
        tables[len(gram) - 1][gram] = (_log10(p), _log10(backoff) if backoff else 0.0)
    return tables


def _log10(p: float) -> float:
    return math.log10(p) if p > 0 else NO_PROBABILITY


def write_arpa(tables: list[dict[NGram, tuple[float, float]]], out: TextIO) -> None:
    """The ARPA text of the model, n-grams sorted so the same estimate always gives the same bytes."""
    out.write("\\data\\\n")
    for n, table in enumerate(tables, 1):
        out.write(f"ngram {n}={len(table)}\n")
    for n, table in enumerate(tables, 1):
        out.write(f"\n\\{n}-grams:\n")
        for gram in sorted(table):
            logp, backoff = table[gram]
            tail = f"\t{backoff:.7g}" if n < len(tables) else ""
            out.write(f"{logp:.7g}\t{' '.join(gram)}{tail}\n")
    out.write("\n\\end\\\n")


def save_arpa(tables: list[dict[NGram, tuple[float, float]]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        write_arpa(tables, out)
