"""MinHash signatures of word n-gram shingles and their LSH band keys, vectorized over a batch.

- Words are the whitespace tokens of the normalized text; each distinct word of a batch is hashed
  once (64-bit BLAKE2b, stable across processes and dumps), and an n-gram's hash mixes its words'
  hashes (multiply-add, then the splitmix64 finalizer): no string is built per shingle.
- Permutation i of a shingle hash h is ``(a_i * h + b_i) mod 2**64 >> 32`` (multiply-shift hashing,
  a 2-independent family with 32-bit output; ``a_i`` odd), drawn from a seeded generator.
- Band j's key mixes its ``rows`` signature values and j into one 64-bit integer.

A document with fewer words than the n-gram size is shingled as one n-gram of all its words.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STEP = np.uint64(0x9E3779B97F4A7C15)
_SHINGLE_BUDGET = 1 << 15  # shingles per vectorized step: 32k x 112 x 8 bytes = 28 MiB


def splitmix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a bijective mix of 64-bit integers (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class MinHasher:
    """Signatures of ``bands * rows`` permutations over word ``ngram``-shingles (FineWeb: 5, 14 x 8)."""

    ngram: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1

    @property
    def permutations(self) -> int:
        return self.bands * self.rows

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        a = rng.integers(1, 2**63, self.permutations, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 2**63, self.permutations, dtype=np.uint64)
        return a, b

    def shingles(self, docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Every document's shingle hashes laid end to end, and each document's start offset."""
        vocab = {w: i for i, w in enumerate(dict.fromkeys(w for words in docs for w in words))}
        hashes = np.fromiter(map(word_hash, vocab), np.uint64, len(vocab))
        parts, counts = [], []
        for words in docs:
            ids = hashes[np.fromiter(map(vocab.__getitem__, words), np.int64, len(words))]
            parts.append(self._ngrams(ids))
            counts.append(len(parts[-1]))
        offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
        return (np.concatenate(parts) if parts else np.zeros(0, np.uint64)), offsets

    def _ngrams(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return ids
        n = min(self.ngram, len(ids))
        h = ids[: len(ids) - n + 1].copy()
        for k in range(1, n):
            h = h * _STEP + ids[k : len(ids) - n + 1 + k]
        return np.unique(splitmix(h))  # a shingle set: repeats within a document count once

    def signatures(self, shingles: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One row of ``permutations`` uint32 minima per document (all ones for a document without words)."""
        a, b = self._coefficients()
        docs = len(offsets) - 1
        out = np.full((docs, self.permutations), np.iinfo(np.uint32).max, np.uint32)
        start = 0
        while start < docs:
            # documents whose shingles fit the budget together (a huge document goes alone, in slices)
            end = int(np.searchsorted(offsets, offsets[start] + _SHINGLE_BUDGET, side="right")) - 1
            end = max(end, start + 1)
            lo, hi = int(offsets[start]), int(offsets[end])
            for at in range(lo, hi, _SHINGLE_BUDGET):
                block = shingles[at : min(hi, at + _SHINGLE_BUDGET)]
                permuted = ((block[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)).astype(np.uint32)
                owners = np.searchsorted(offsets, np.arange(at, at + len(block)), side="right") - 1
                firsts = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
                minima = np.minimum.reduceat(permuted, firsts, axis=0)
                rows = owners[firsts]
                out[rows] = np.minimum(out[rows], minima)
            start = end
        return out

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """One int64 key per document and band: equal keys mean equal rows in that band."""
        grouped = signatures.reshape(len(signatures), self.bands, self.rows).astype(np.uint64)
        key = np.broadcast_to(np.arange(self.bands, dtype=np.uint64) + np.uint64(1), grouped.shape[:2]).copy()
        for r in range(self.rows):
            key = splitmix(key * _STEP + grouped[:, :, r])
        return key.view(np.int64)

    def collision_probability(self, jaccard: float) -> float:
        """The S-curve: chance that two documents of this Jaccard similarity share a band."""
        return float(1 - (1 - jaccard**self.rows) ** self.bands)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique shingle-hash arrays."""
    if not len(a) and not len(b):
        return 1.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)
