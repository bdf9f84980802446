"""Benchmark contamination: documents sharing long word n-grams (13 by default, as GPT-3 and Dolma) with
configured evaluation sets.

An evaluation set is a folder of files: ``<benchmark>.jsonl`` or ``.jsonl.gz`` with a ``text`` field
per line (and an optional ``id``), or ``<benchmark>.txt`` with one example per blank-line-separated
block. Text is lowercased and split into alphanumeric words on both sides, so formatting and
punctuation do not hide an overlap. The index maps each n-gram's 64-bit hash to its benchmark.

Words and n-grams are hashed by compiled loops over a whole batch (:mod:`corpuslake.policies.textscan`);
an n-gram's hash mixes its words' hashes (multiply-add, then the splitmix64 finalizer). The index is
built in each process from the evaluation files with the same functions, never stored.
"""

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from corpuslake.policies.textscan import HashSet, Scan, contains, scan

EVAL_SETS = Path(__file__).resolve().parent.parent.parent / "samples" / "eval_sets"
_WORD = re.compile(r"[^\W_]+")
_STEP = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


class EvalSetError(ValueError):
    """An evaluation-set folder or file that cannot be read."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """64-bit hashes of every ``n``-gram of the words of ``text`` (none when it has fewer than ``n``)."""
    words = scan([text.lower()])
    out = np.empty(max(0, len(words.hashes) - n + 1), np.uint64)
    _ngrams(words.hashes, 0, len(words.hashes), n, out)
    return out


@dataclass
class EvalIndex:
    """Sorted n-gram hashes of the evaluation sets, with the benchmark each came from."""

    n: int
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    benchmarks: list[str] = field(default_factory=list)
    examples: dict[str, int] = field(default_factory=dict)
    lookup: HashSet = field(default_factory=lambda: HashSet.of(np.zeros(0, np.uint64)))

    @classmethod
    def load(cls, folder: Path, n: int = 13) -> "EvalIndex":
        if not folder.is_dir():
            raise EvalSetError(f"evaluation-set folder not found: {folder}")
        index = cls(n)
        parts, owners = [], []
        for path in sorted(folder.iterdir()):
            texts = _texts(path)
            if texts is None:
                continue
            name = path.name.split(".")[0]
            index.benchmarks.append(name)
            index.examples[name] = len(texts)
            for text in texts:
                hashes = ngram_hashes(text, n)
                parts.append(hashes)
                owners.append(np.full(len(hashes), len(index.benchmarks) - 1, np.int32))
        if not index.benchmarks:
            raise EvalSetError(f"no evaluation sets (.jsonl, .jsonl.gz, .txt) in {folder}")
        hashes = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        order = np.argsort(hashes, kind="stable")
        index.hashes, index.owners = hashes[order], np.concatenate(owners)[order] if owners else index.owners
        index.lookup = HashSet.of(index.hashes)
        return index

    def overlaps(self, text: str) -> dict[str, int]:
        """Benchmark -> number of the text's n-grams found in it (empty when clean)."""
        (counts,) = self.counts(scan([text.lower()]))
        return {self.benchmarks[b]: int(counts[b]) for b in np.flatnonzero(counts).tolist()}

    def counts(self, words: Scan) -> np.ndarray:
        """Per text of a scan of lowercased texts, per benchmark, the text's n-grams found in it.

        An n-gram found several times in the index counts for the benchmark of its first entry (the
        first benchmark file, in name order, that holds it)."""
        out = np.zeros((len(words.offsets) - 1, max(1, len(self.benchmarks))), np.int64)
        if len(self.hashes):
            lookup = self.lookup
            _probe(
                words.hashes,
                words.offsets,
                self.n,
                lookup.bitmap,
                lookup.values,
                lookup.shift,
                self.hashes,
                self.owners,
                out,
            )
        return out[:, : len(self.benchmarks)]


@numba.njit(cache=True, nogil=True)
def _ngrams(words: np.ndarray, start: int, end: int, n: int, out: np.ndarray) -> None:
    """Hash of each ``n``-gram of ``words[start:end]`` into ``out`` (one per n-gram)."""
    for k in range(end - start - n + 1):
        h = words[start + k]
        for j in range(1, n):
            h = h * _STEP + words[start + k + j]
        h = (h ^ (h >> np.uint64(30))) * _MIX1
        h = (h ^ (h >> np.uint64(27))) * _MIX2
        out[k] = h ^ (h >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _probe(
    words: np.ndarray,
    offsets: np.ndarray,
    n: int,
    bitmap: np.ndarray,
    values: np.ndarray,
    shift: np.uint64,
    hashes: np.ndarray,
    owners: np.ndarray,
    out: np.ndarray,
) -> None:
    """Count, per text and benchmark, the text's n-grams that the index holds."""
    grams = np.empty(0, np.uint64)
    for t in range(len(offsets) - 1):
        start, end = offsets[t], offsets[t + 1]
        if end - start < n:
            continue
        if len(grams) < end - start - n + 1:
            grams = np.empty(end - start - n + 1, np.uint64)
        _ngrams(words, start, end, n, grams)
        for k in range(end - start - n + 1):
            if contains(bitmap, values, shift, grams[k]):
                out[t, owners[np.searchsorted(hashes, grams[k])]] += 1


def _texts(path: Path) -> list[str] | None:
    name = path.name
    try:
        if name.endswith((".jsonl", ".jsonl.gz")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as lines:
                return [str(json.loads(line)["text"]) for line in lines if line.strip()]
        if name.endswith(".txt"):
            return [block for block in path.read_text("utf-8").split("\n\n") if block.strip()]
    except (OSError, json.JSONDecodeError, KeyError) as error:
        raise EvalSetError(f"{path}: cannot read evaluation examples ({error})") from None
    return None
