"""Benchmark contamination: documents sharing long word n-grams (13 by default, as GPT-3 and Dolma) with
configured evaluation sets.

An evaluation set is a folder of files: ``<benchmark>.jsonl`` or ``.jsonl.gz`` with a ``text`` field
per line (and an optional ``id``), or ``<benchmark>.txt`` with one example per blank-line-separated
block. Text is lowercased and split into alphanumeric words on both sides, so formatting and
punctuation do not hide an overlap. The index maps each n-gram's 64-bit hash to its benchmark.
"""

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpuslake.dedup.minhash import splitmix, word_hashes

EVAL_SETS = Path(__file__).resolve().parent.parent.parent / "samples" / "eval_sets"
_WORD = re.compile(r"[^\W_]+")
_STEP = np.uint64(0x9E3779B97F4A7C15)


class EvalSetError(ValueError):
    """An evaluation-set folder or file that cannot be read."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngram_hashes(tokens: list[str], n: int) -> np.ndarray:
    """64-bit hashes of every ``n``-gram of ``tokens`` (none when there are fewer than ``n``)."""
    if len(tokens) < n:
        return np.zeros(0, np.uint64)
    ids = word_hashes(tokens)
    h = ids[: len(ids) - n + 1].copy()
    for k in range(1, n):
        h = h * _STEP + ids[k : len(ids) - n + 1 + k]
    return splitmix(h)


@dataclass
class EvalIndex:
    """Sorted n-gram hashes of the evaluation sets, with the benchmark each came from."""

    n: int
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    benchmarks: list[str] = field(default_factory=list)
    examples: dict[str, int] = field(default_factory=dict)

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
                hashes = ngram_hashes(words(text), n)
                parts.append(hashes)
                owners.append(np.full(len(hashes), len(index.benchmarks) - 1, np.int32))
        if not index.benchmarks:
            raise EvalSetError(f"no evaluation sets (.jsonl, .jsonl.gz, .txt) in {folder}")
        hashes = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        order = np.argsort(hashes, kind="stable")
        index.hashes, index.owners = hashes[order], np.concatenate(owners)[order] if owners else index.owners
        return index

    def overlaps(self, text: str) -> dict[str, int]:
        """Benchmark -> number of the text's n-grams found in it (empty when clean)."""
        return self.overlaps_words(words(text))

    def overlaps_words(self, tokens: list[str]) -> dict[str, int]:
        """``overlaps`` for a text already lowercased and split into words."""
        hashes = ngram_hashes(tokens, self.n)
        if not len(hashes) or not len(self.hashes):
            return {}
        at = np.searchsorted(self.hashes, hashes)
        at = np.minimum(at, len(self.hashes) - 1)
        found = at[self.hashes[at] == hashes]
        if not len(found):
            return {}
        owners, counts = np.unique(self.owners[found], return_counts=True)
        return {self.benchmarks[o]: int(c) for o, c in zip(owners.tolist(), counts.tolist(), strict=True)}


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
