"""One compiled pass over a batch of texts: the words the content policies count, and where PII may be.

The policies used to split every text with a regex into a list of Python strings, hash each word in a
dict, and scan the whole text three more times with PII pre-check regexes: per-word and per-character
work in the interpreter, ~1.6 ms per 6 KB page. Here a batch is laid end to end as one UTF-8 buffer
(an ASCII text encodes as a copy; a UTF-32 buffer cost four times the encoding time) and numba kernels
walk it once, decoding code points as they go:

- words are the maximal runs of alphanumeric characters (the regex ``[^\\W_]+`` of Python's ``re``, from
  whose matches over every code point the character table is built), given as start and end byte
  offsets into the buffer and a 64-bit hash of their code points (FNV-1a, then the splitmix64 finalizer);
- the PII pre-checks (``corpuslake.policies.pii``'s ``_MAY_IP``, ``_MAY_PHONE``, ``_MAY_CARD``) run as
  fixed-shape matches over decimal digits (``str.isdecimal``: the regex ``\\d``), one flag per text.

Consumers turn a hash hit into an exact answer themselves (a word compared as a string, a text handed
to the regex it may match), so a 64-bit collision costs time, never a different count.
"""

import re
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np

ALNUM = np.uint8(1)
DECIMAL = np.uint8(2)
_SEPARATOR = b"\x00"  # between texts: neither alphanumeric nor a digit, nor any PII pattern's character
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@cache
def char_flags() -> np.ndarray:
    """Per code point: ``ALNUM`` where the regex ``[^\\W_]`` matches, ``DECIMAL`` where ``\\d`` does (once per
    process, from the regexes themselves over every code point)."""
    flags = np.zeros(0x110000, np.uint8)
    every = "".join(map(chr, range(0x110000)))
    for pattern, flag in ((r"[^\W_]+", ALNUM), (r"\d+", DECIMAL)):
        for m in re.finditer(pattern, every):
            flags[m.start() : m.end()] |= flag
    return flags


@dataclass(frozen=True)
class Scan:
    """The words of a batch of texts, laid end to end."""

    data: np.ndarray
    """The texts' UTF-8 bytes joined by a separator (uint8)."""
    text_starts: np.ndarray
    """Byte offset of each text in ``data``, and one past the last text's end (int64, n + 1)."""
    starts: np.ndarray
    """Byte offset of each word (int64)."""
    ends: np.ndarray
    hashes: np.ndarray
    """One uint64 per word."""
    offsets: np.ndarray
    """Index of each text's first word, and the total (int64, n + 1)."""

    def word_counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def word(self, at: int) -> str:
        return self.data[self.starts[at] : self.ends[at]].tobytes().decode("utf-8", "surrogatepass")

    def words(self, text: int) -> list[str]:
        return [self.word(at) for at in range(self.offsets[text], self.offsets[text + 1])]


def utf8(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts' UTF-8 bytes joined by a separator, and each text's start offset (with the end)."""
    encoded = [text.encode("utf-8", "surrogatepass") for text in texts]  # a lone surrogate stays one character
    data = np.frombuffer(_SEPARATOR.join(encoded), np.uint8)
    starts = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(texts)) + 1, out=starts[1:])
    starts[-1] = len(data)  # the last text has no separator after it
    return data, starts


def scan(texts: list[str]) -> Scan:
    """The words of every text (texts already lowercased, when words should be)."""
    data, text_starts = utf8(texts)
    starts, ends, hashes = _words(data, char_flags())
    offsets = np.searchsorted(starts, text_starts).astype(np.int64)
    return Scan(data, text_starts, starts, ends, hashes, offsets)


def pii_candidates(texts: Scan) -> np.ndarray:
    """Per text of a scan, three flags: it may hold an IPv4 address, a phone number, a card number (the
    pre-checks ``pii._MAY_IP``, ``_MAY_PHONE``, ``_MAY_CARD``). Lowercasing changes none of their
    characters (digits, ``.``, space, ``-``), maps no other character to one of them and none to nothing,
    so the flags of lowercased texts are those of the texts."""
    return _pii_flags(texts.data, texts.text_starts, char_flags())


@numba.njit(cache=True, nogil=True, inline="always")
def _decode(data: np.ndarray, i: int) -> tuple[int, int]:
    """The code point at byte ``i`` of valid UTF-8 (Python's encoder wrote it), and the next one's offset."""
    b = int(data[i])
    if b < 0x80:
        return b, i + 1
    if b < 0xE0:
        return ((b & 0x1F) << 6) | (int(data[i + 1]) & 0x3F), i + 2
    if b < 0xF0:
        return ((b & 0x0F) << 12) | ((int(data[i + 1]) & 0x3F) << 6) | (int(data[i + 2]) & 0x3F), i + 3
    return (
        ((b & 0x07) << 18)
        | ((int(data[i + 1]) & 0x3F) << 12)
        | ((int(data[i + 2]) & 0x3F) << 6)
        | (int(data[i + 3]) & 0x3F)
    ), i + 4


@numba.njit(cache=True, nogil=True)
def _words(data: np.ndarray, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(data)
    starts = np.empty(n // 2 + 1, np.int64)
    ends = np.empty(n // 2 + 1, np.int64)
    hashes = np.empty(n // 2 + 1, np.uint64)
    count = 0
    i = 0
    while i < n:
        code, after = _decode(data, i)
        if not flags[code] & ALNUM:
            i = after
            continue
        h = _FNV_OFFSET
        starts[count] = i
        while True:
            h = (h ^ np.uint64(code)) * _FNV_PRIME
            i = after
            if i >= n:
                break
            code, after = _decode(data, i)
            if not flags[code] & ALNUM:
                break
        ends[count] = i
        h = (h ^ (h >> np.uint64(30))) * _MIX1
        h = (h ^ (h >> np.uint64(27))) * _MIX2
        hashes[count] = h ^ (h >> np.uint64(31))
        count += 1
    return starts[:count].copy(), ends[:count].copy(), hashes[:count].copy()


@numba.njit(cache=True, nogil=True, inline="always")
def _digits(data: np.ndarray, at: int, end: int, flags: np.ndarray) -> tuple[int, int]:
    """The number of decimal digits in the run starting at byte ``at``, and the byte after the run."""
    count = 0
    while at < end:
        code, after = _decode(data, at)
        if not flags[code] & DECIMAL:
            break
        count += 1
        at = after
    return count, at


@numba.njit(cache=True, nogil=True)
def _pii_flags(data: np.ndarray, starts: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """``_MAY_IP`` (``\\d\\.\\d{1,3}\\.\\d{1,3}\\.\\d``), ``_MAY_PHONE`` (``\\d{3}[ .-]\\d{4}``) and ``_MAY_CARD``
    (``\\d{4}[ -]?\\d{4}[ -]?\\d{4}``), each as: is there a position where it matches. Every shape's digits
    before a separator close their run (a separator is no digit), so runs' lengths and the bytes after
    them decide."""
    out = np.zeros((len(starts) - 1, 3), np.bool_)
    dot, space, dash = 46, 32, 45
    for t in range(len(starts) - 1):
        end = starts[t + 1]
        i = starts[t]
        while i < end:
            if data[i] < 0x80 and not 48 <= data[i] <= 57:
                i += 1  # an ASCII character other than a digit: the common case, decided from the byte
                continue
            run, after = _digits(data, i, end, flags)
            if run == 0:
                i = _decode(data, i)[1]
                continue
            sep = data[after] if after < end else 0
            # IP: the run's last digit, ".", 1-3 digits, ".", 1-3 digits, ".", a digit
            if sep == dot and not out[t, 0]:
                a, a_end = _digits(data, after + 1, end, flags)
                if 1 <= a <= 3 and a_end < end and data[a_end] == dot:
                    b, b_end = _digits(data, a_end + 1, end, flags)
                    if 1 <= b <= 3 and b_end < end and data[b_end] == dot and _digits(data, b_end + 1, end, flags)[0]:
                        out[t, 0] = True
            # phone: the run's last three digits, one of " .-", 4 digits
            if (
                run >= 3
                and sep in (space, dot, dash)
                and not out[t, 1]
                and _digits(data, after + 1, end, flags)[0] >= 4
            ):
                out[t, 1] = True
            if not out[t, 2]:
                out[t, 2] = _card_after(data, run, after, end, flags)
            i = after
    return out


@numba.njit(cache=True, nogil=True)
def _card_after(data: np.ndarray, run: int, after: int, end: int, flags: np.ndarray) -> bool:
    """Does ``\\d{4}[ -]?\\d{4}[ -]?\\d{4}`` match with its first group in a run of ``run`` digits ending at
    byte ``after``? Twelve digits with no separator, or a separator after the first or the second group
    (or both): the groups before a separator close their run, so only the runs' lengths decide."""
    if run >= 12:
        return True
    if run < 4 or after >= end or not (data[after] == 32 or data[after] == 45):
        return False
    second, at = _digits(data, after + 1, end, flags)
    if second >= 8 or (run >= 8 and second >= 4):
        return True
    if second != 4 or at >= end or not (data[at] == 32 or data[at] == 45):
        return False
    return _digits(data, at + 1, end, flags)[0] >= 4


@dataclass(frozen=True)
class HashSet:
    """A set of 64-bit hashes for compiled lookups: a bitmap over the top bits rejects most misses in one
    probe, a sorted array settles the rest."""

    bitmap: np.ndarray
    values: np.ndarray
    shift: np.uint64

    @classmethod
    def of(cls, hashes: np.ndarray) -> "HashSet":
        values = np.unique(hashes.astype(np.uint64))
        bits = max(10, min(30, int(np.ceil(np.log2(max(1, len(values)) * 16)))))  # ~1/16 of misses pass
        bitmap = np.zeros(1 << (bits - 6), np.uint64)
        top = values >> np.uint64(64 - bits)
        np.bitwise_or.at(bitmap, top >> np.uint64(6), np.uint64(1) << (top & np.uint64(63)))
        return cls(bitmap, values, np.uint64(64 - bits))


@numba.njit(cache=True, nogil=True, inline="always")
def contains(bitmap: np.ndarray, values: np.ndarray, shift: np.uint64, h: np.uint64) -> bool:
    """Is ``h`` in the set (its ``bitmap``, ``values`` and ``shift``)?"""
    top = h >> shift
    if not (bitmap[top >> np.uint64(6)] >> (top & np.uint64(63))) & np.uint64(1):
        return False
    at = np.searchsorted(values, h)
    return bool(at < len(values) and values[at] == h)
