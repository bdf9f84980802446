"""The content policies as they were before the compiled batch scan, kept as the reference the tests
compare the product with: a regex split of each text into Python strings, a set lookup per word, the
phrase regex whenever a phrase's first word occurs, three PII pre-check regexes per text, and each
n-gram hashed from per-word BLAKE2b hashes.

:func:`signals` gives one document's signals as the ``content_signals`` row holds them.
"""

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from corpuslake.policies import badwords, pii

_WORD = re.compile(r"[^\W_]+")
_STEP = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def find_pii(text: str) -> pii.PiiCounts:
    return pii.PiiCounts(
        emails=len(pii.EMAIL.findall(text)) if "@" in text else 0,
        ips=len(pii._ips(text)),
        phones=len(pii.PHONE.findall(text)) if pii._MAY_PHONE.search(text) else 0,
        cards=len(pii._cards(text)),
    )


def count_bad_words(lowered: str, tokens: list[str], language: str | None, folder: str) -> badwords.BadWords:
    rules = badwords.word_list(language, folder) if language is not None else None
    if rules is not None and rules.unspaced:
        assert rules.phrases is not None
        return badwords.BadWords(language, len(rules.phrases.findall(lowered)), len(lowered))
    if rules is None:
        return badwords.BadWords(None, 0, len(tokens))
    matches = sum(1 for t in tokens if t in rules.words)
    if rules.phrases is not None and not rules.phrase_starts.isdisjoint(tokens):
        matches += len(rules.phrases.findall(lowered))
    return badwords.BadWords(language, matches, len(tokens))


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def ngram_hashes(tokens: list[str], n: int) -> np.ndarray:
    if len(tokens) < n:
        return np.zeros(0, np.uint64)
    digest = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in tokens]
    ids = np.array([int.from_bytes(d, "little") for d in digest], np.uint64)
    h = ids[: len(ids) - n + 1].copy()
    for k in range(1, n):
        h = h * _STEP + ids[k : len(ids) - n + 1 + k]
    return _splitmix(h)


class EvalIndex:
    """Sorted n-gram hashes of evaluation texts and the benchmark each came from."""

    def __init__(self, examples: dict[str, list[str]], n: int) -> None:
        self.n, self.benchmarks = n, sorted(examples)
        parts, owners = [], []
        for number, benchmark in enumerate(self.benchmarks):
            for text in examples[benchmark]:
                parts.append(ngram_hashes(_WORD.findall(text.lower()), n))
                owners.append(np.full(len(parts[-1]), number, np.int32))
        hashes = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.owners = np.concatenate(owners)[order] if owners else np.zeros(0, np.int32)

    def overlaps(self, tokens: list[str]) -> dict[str, int]:
        hashes = ngram_hashes(tokens, self.n)
        if not len(hashes) or not len(self.hashes):
            return {}
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        found = at[self.hashes[at] == hashes]
        owners, counts = np.unique(self.owners[found], return_counts=True)
        return {self.benchmarks[o]: int(c) for o, c in zip(owners.tolist(), counts.tolist(), strict=True)}


def signals(text: str, language: str | None, index: EvalIndex, folder: str = str(badwords.LISTS)) -> dict[str, Any]:
    """One document's PII counts, bad words and benchmark overlaps, as the stage's row holds them."""
    found = find_pii(text)
    lowered = text.lower()
    tokens = _WORD.findall(lowered)
    bad = count_bad_words(lowered, tokens, language, folder)
    overlaps = index.overlaps(tokens)
    return {
        "pii_emails": found.emails,
        "pii_ips": found.ips,
        "pii_phones": found.phones,
        "pii_cards": found.cards,
        "badword_list": bad.language,
        "badword_matches": bad.matches,
        "badword_rate": bad.rate,
        "contaminated": sorted(overlaps),
        "contamination_ngrams": sum(overlaps.values()),
    }


def eval_texts(folder: Path) -> dict[str, list[str]]:
    """Benchmark -> example texts of an evaluation-set folder (as ``EvalIndex.load`` reads them)."""
    from corpuslake.policies.contamination import _texts

    out = {}
    for path in sorted(folder.iterdir()):
        texts = _texts(path)
        if texts is not None:
            out[path.name.split(".")[0]] = texts
    return out
