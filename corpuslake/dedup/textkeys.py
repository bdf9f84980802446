"""The dedup keys of a batch of texts in compiled loops: normalized text, its exact key, its words' hashes.

The same values as :func:`corpuslake.dedup.normalize.normalize_text`, ``exact_key`` and the per-word
BLAKE2b hashes of :mod:`corpuslake.dedup.minhash` (they are stored in the band index, so they never
change), without per-word Python work (the string path split every text into a list of strings and
looked each word up in dicts: ~0.8 ms per 6 KB page). Per text, in Python: ``lower()`` and NFD (C loops,
and a quick no-op for ASCII), then UTF-8. Then one pass over the batch's buffer applies the
normalization table (digits to ``0``, punctuation and symbols to a space, combining marks dropped: the
table of ``normalize_text``'s ``str.translate``), splits on whitespace (the regex ``\\s`` that
``normalize_text`` collapses), writes the normalized texts (words joined by one space), and numbers each
word by distinct word of the batch. BLAKE2b-64 (:mod:`corpuslake.dedup.blake2`) then hashes each distinct
word once, and each normalized text.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np

from corpuslake.dedup.blake2 import digests
from corpuslake.dedup.normalize import _table

KEEP, ZERO, SPACE, DROP = 0, 1, 2, 3
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@cache
def actions() -> np.ndarray:
    """Per code point: what normalization does to it (``KEEP``, ``ZERO``, ``SPACE`` or ``DROP``)."""
    out = np.zeros(0x110000, np.uint8)
    kinds = {"0": ZERO, " ": SPACE, "": DROP}
    for code, replacement in _table().items():
        out[code] = kinds[replacement]
    every = "".join(map(chr, range(0x110000)))
    for m in re.finditer(r"\s+", every):  # the whitespace normalize_text collapses
        out[m.start() : m.end()] = SPACE
    return out


@dataclass(frozen=True)
class Normalized:
    """A batch's normalized texts laid end to end in UTF-8, with their words."""

    data: np.ndarray
    """The normalized texts' bytes (uint8), one after the other."""
    text_starts: np.ndarray
    """Byte offset of each text, and the end (int64, n + 1)."""
    word_ids: np.ndarray
    """Per word of every text, in order, the number of the distinct word it is (int64)."""
    word_offsets: np.ndarray
    """Index of each text's first word, and the total (int64, n + 1)."""
    distinct_starts: np.ndarray
    """Byte range of each distinct word's first occurrence."""
    distinct_ends: np.ndarray

    def text(self, at: int) -> str:
        return self.data[self.text_starts[at] : self.text_starts[at + 1]].tobytes().decode("utf-8", "surrogatepass")

    def words(self, at: int) -> list[str]:
        ids = self.word_ids[self.word_offsets[at] : self.word_offsets[at + 1]].tolist()
        starts, ends = self.distinct_starts, self.distinct_ends
        return [self.data[starts[i] : ends[i]].tobytes().decode("utf-8", "surrogatepass") for i in ids]

    def exact_keys(self) -> np.ndarray:
        """BLAKE2b-64 of each normalized text, signed (``corpuslake.stages.deduplicated.exact_key``)."""
        keys: np.ndarray = digests(self.data, self.text_starts[:-1], self.text_starts[1:]).view(np.int64)
        return keys

    def word_hashes(self) -> np.ndarray:
        """BLAKE2b-64 of each word (``corpuslake.dedup.minhash.word_hash``), each distinct word hashed once."""
        hashes: np.ndarray = digests(self.data, self.distinct_starts, self.distinct_ends)[self.word_ids]
        return hashes


def normalize_batch(texts: list[str]) -> Normalized:
    """``normalize_text`` of every text, and the words of each (``normalize_text(t).split()``)."""
    encoded = [unicodedata.normalize("NFD", t.lower()).encode("utf-8", "surrogatepass") for t in texts]
    data = np.frombuffer(b"".join(encoded), np.uint8)
    starts = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(texts)), out=starts[1:])
    return Normalized(*_normalize(data, starts, actions()))


@numba.njit(cache=True, nogil=True, inline="always")
def _width(lead: int) -> int:
    """Bytes of the UTF-8 sequence that starts with byte ``lead``."""
    if lead < 0x80:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


@numba.njit(cache=True, nogil=True, inline="always")
def _code(data: np.ndarray, i: int, width: int) -> int:
    b = int(data[i])
    if width == 1:
        return b
    if width == 2:
        return ((b & 0x1F) << 6) | (int(data[i + 1]) & 0x3F)
    if width == 3:
        return ((b & 0x0F) << 12) | ((int(data[i + 1]) & 0x3F) << 6) | (int(data[i + 2]) & 0x3F)
    return (
        ((b & 0x07) << 18)
        | ((int(data[i + 1]) & 0x3F) << 12)
        | ((int(data[i + 2]) & 0x3F) << 6)
        | (int(data[i + 3]) & 0x3F)
    )


@numba.njit(cache=True, nogil=True)
def _normalize(
    data: np.ndarray, starts: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalize each text of ``data`` into a new buffer and number its words by distinct word: at the end
    of each word, its key (bytes rotated and added, then mixed) finds it in an open-addressing table whose
    slot holds key, number and byte range side by side (one cache line per probe); an equal key is
    confirmed byte for byte, so two words share a number only if their bytes are equal."""
    out = np.empty(len(data), np.uint8)
    text_starts = np.empty(len(starts), np.int64)
    word_offsets = np.empty(len(starts), np.int64)
    word_ids = np.empty(len(data) // 2 + 1, np.int64)
    bits = 12
    table_of_words = np.full((1 << bits, 4), -1, np.int64)
    distinct = 0
    h = np.uint64(0)
    o = start = words = 0
    for t in range(len(starts) - 1):
        text_starts[t] = o
        word_offsets[t] = words
        in_word = False
        i, end = starts[t], starts[t + 1]
        while i <= end:
            if i == end:
                action, width = SPACE, 1  # the text's end closes its last word
            else:
                lead = int(data[i])
                width = 1 if lead < 0x80 else _width(lead)  # ASCII decided from the byte
                action = table[lead] if width == 1 else table[_code(data, i, width)]
            if action == DROP:
                i += width
                continue
            if action == SPACE:
                if in_word:
                    word_ids[words - 1], known = _number(table_of_words, bits, _finish(h), out, start, o, distinct)
                    if not known:
                        distinct += 1
                        if 2 * distinct > (1 << bits):  # keep the table at most half full
                            bits += 1
                            table_of_words = _grow(table_of_words, bits)
                    in_word = False
                i += width
                continue
            if not in_word:
                if words > word_offsets[t]:
                    out[o] = 32  # one space between words
                    o += 1
                start = o
                words += 1
                in_word = True
                h = np.uint64(0)
            if action == ZERO:
                out[o] = 48
                h = _step(h, 48)
                o += 1
            else:
                for k in range(width):
                    out[o + k] = data[i + k]
                    h = _step(h, int(data[i + k]))
                o += width
            i += width
    text_starts[len(starts) - 1] = o
    word_offsets[len(starts) - 1] = words
    ranges = _ranges(table_of_words, distinct)
    return out[:o].copy(), text_starts, word_ids[:words].copy(), word_offsets, ranges[0], ranges[1]


@numba.njit(cache=True, nogil=True)
def _number(
    table: np.ndarray, bits: int, key: np.uint64, data: np.ndarray, start: int, end: int, count: int
) -> tuple[int, bool]:
    """The number of the word ``data[start:end]`` and whether it was known; a new word gets ``count``."""
    j = _slot(key, bits)
    while True:
        if table[j, 1] < 0:
            table[j, 0], table[j, 1], table[j, 2], table[j, 3] = np.int64(key), count, start, end
            return count, False
        if table[j, 0] == np.int64(key) and _same(data, table[j, 2], table[j, 3], start, end):
            return table[j, 1], True
        j = (j + 1) & ((1 << bits) - 1)


@numba.njit(cache=True, nogil=True)
def _ranges(table: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.empty(count, np.int64)
    ends = np.empty(count, np.int64)
    for j in range(len(table)):
        if table[j, 1] >= 0:
            starts[table[j, 1]], ends[table[j, 1]] = table[j, 2], table[j, 3]
    return starts, ends


@numba.njit(cache=True, nogil=True, inline="always")
def _step(h: np.uint64, byte: int) -> np.uint64:
    """One byte into a word's table key: rotate and add, one cycle (the key only finds equal words)."""
    return ((h << np.uint64(7)) | (h >> np.uint64(57))) + np.uint64(byte)


@numba.njit(cache=True, nogil=True, inline="always")
def _finish(h: np.uint64) -> np.uint64:
    h = (h ^ (h >> np.uint64(30))) * _MIX1
    h = (h ^ (h >> np.uint64(27))) * _MIX2
    return h ^ (h >> np.uint64(31))


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(h: np.uint64, bits: int) -> np.int64:
    """The table slot of key ``h``: the top ``bits`` of ``h`` times a large odd constant."""
    return np.int64((h * _GOLDEN) >> np.uint64(64 - bits))


@numba.njit(cache=True, nogil=True)
def _same(data: np.ndarray, a: int, a_end: int, b: int, b_end: int) -> bool:
    if a_end - a != b_end - b:
        return False
    for k in range(a_end - a):  # noqa: SIM110 (numba compiles the loop, not a generator in all())
        if data[a + k] != data[b + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _grow(table: np.ndarray, bits: int) -> np.ndarray:
    grown = np.full((1 << bits, 4), -1, np.int64)
    for j in range(len(table)):
        if table[j, 1] >= 0:
            k = _slot(np.uint64(table[j, 0]), bits)
            while grown[k, 1] >= 0:
                k = (k + 1) & ((1 << bits) - 1)
            grown[k] = table[j]
    return grown
