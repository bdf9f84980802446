"""MinHash signatures of word n-gram shingles and their LSH band keys, vectorized over a batch.

- Words are the whitespace tokens of the normalized text; each distinct word of a batch is hashed
  once (64-bit BLAKE2b, stable across processes and dumps), and an n-gram's hash mixes its words'
  hashes (multiply-add, then the splitmix64 finalizer): no string is built per shingle.
- Permutation i of a shingle hash h is ``(a_i * h + b_i) mod 2**64 >> 32`` (multiply-shift hashing,
  a 2-independent family with 32-bit output; ``a_i`` odd), drawn from a seeded generator.
- Band j's key mixes its ``rows`` signature values and j into one 64-bit integer.

A document with fewer words than the n-gram size is shingled as one n-gram of all its words.
The shingle and signature loops are compiled with numba (cached on disk after the first call).
"""

import hashlib
from dataclasses import dataclass

import numba
import numpy as np

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STEP = np.uint64(0x9E3779B97F4A7C15)


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


# Words recur from batch to batch: their hashes are remembered per process, up to a bound.
_WORD_HASHES: dict[str, int] = {}
_WORD_HASHES_SIZE = 1_000_000


def word_hashes(words: list[str]) -> np.ndarray:
    """Stable 64-bit hashes of words, remembered per process."""
    known = _WORD_HASHES
    if len(known) > _WORD_HASHES_SIZE:
        known.clear()
    missing = [w for w in words if w not in known]
    known.update(zip(missing, map(word_hash, missing), strict=True))
    return np.fromiter(map(known.__getitem__, words), np.uint64, len(words))


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

    def shingles(self, docs: list[list[str]], unique: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Every document's shingle hashes laid end to end, and each document's start offset.

        A shingle repeated within a document appears once per occurrence (a minimum does not care);
        ``unique=True`` gives each document's sorted shingle set instead (for exact Jaccard).
        """
        words = [w for doc in docs for w in doc]
        vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
        hashed = word_hashes(list(vocab))
        hashes = hashed[np.fromiter(map(vocab.__getitem__, words), np.int64, len(words))]
        sizes = np.fromiter(map(len, docs), np.int64, len(docs))
        return self.shingle_hashes(hashes, np.concatenate(([0], np.cumsum(sizes))), unique)

    def shingle_hashes(
        self, hashes: np.ndarray, word_offsets: np.ndarray, unique: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``shingles`` of documents given as their words' hashes laid end to end (``word_offsets``: each
        document's first word, and the total)."""
        sizes = np.diff(word_offsets)
        counts = np.where(sizes > 0, np.maximum(sizes - self.ngram + 1, 1), 0)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        shingles = np.empty(int(offsets[-1]), np.uint64)
        _ngram_hashes(hashes, word_offsets.astype(np.int64), offsets, self.ngram, shingles)
        if not unique:
            return shingles, offsets
        sets = [np.unique(shingles[offsets[i] : offsets[i + 1]]) for i in range(len(sizes))]
        offsets = np.concatenate(([0], np.cumsum([len(x) for x in sets], dtype=np.int64)))
        return (np.concatenate(sets) if sets else shingles), offsets

    def signatures(self, shingles: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One row of ``permutations`` uint32 minima per document (all ones for a document without words)."""
        a, b = self._coefficients()
        out = np.full((len(offsets) - 1, self.permutations), np.iinfo(np.uint32).max, np.uint32)
        _minima(shingles, offsets.astype(np.int64), a, b, out)
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


@numba.njit(cache=True, nogil=True)
def _ngram_hashes(
    words: np.ndarray, word_offsets: np.ndarray, offsets: np.ndarray, ngram: int, out: np.ndarray
) -> None:
    """Hash of every word n-gram of every document: multiply-add over its words' hashes, then mixed.
    A document shorter than ``ngram`` words gives one shingle of all its words."""
    for doc in range(len(word_offsets) - 1):
        start, end = word_offsets[doc], word_offsets[doc + 1]
        n = min(ngram, end - start)
        for k in range(offsets[doc + 1] - offsets[doc]):
            h = words[start + k]
            for j in range(1, n):
                h = h * _STEP + words[start + k + j]
            h = h ^ (h >> np.uint64(30))
            h = h * _MIX1
            h = h ^ (h >> np.uint64(27))
            h = h * _MIX2
            out[offsets[doc] + k] = h ^ (h >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _minima(shingles: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """The signature loop, compiled: every permutation of every shingle, minimum per document.

    numpy would make five passes over a shingles x permutations array (multiply, add, shift, cast,
    reduce); one fused loop makes one, without the temporary.
    """
    shift = np.uint64(32)
    for doc in range(len(offsets) - 1):
        for at in range(offsets[doc], offsets[doc + 1]):
            h = shingles[at]
            for p in range(len(a)):
                value = np.uint32((a[p] * h + b[p]) >> shift)
                if value < out[doc, p]:
                    out[doc, p] = value


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique shingle-hash arrays."""
    if not len(a) and not len(b):
        return 1.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)
