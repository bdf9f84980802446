"""BLAKE2b with an 8-byte digest (RFC 7693), compiled, for byte ranges of one buffer.

The dedup keys are BLAKE2b-64 hashes (``hashlib.blake2b(data, digest_size=8)``, read little-endian):
the exact key of a normalized text and the hash of each word of it. Both are stored (the band index
keeps them for later dumps), so they must never change; computing them in compiled loops, on ranges of
a batch's buffer, gives the same values without a Python call per word. ``tests/test_dedup_batch.py``
checks them against ``hashlib`` on inputs of every length class (empty, one block, several blocks).
"""

import numba
import numpy as np

_IV = np.array(
    [
        0x6A09E667F3BCC908,
        0xBB67AE8584CAA73B,
        0x3C6EF372FE94F82B,
        0xA54FF53A5F1D36F1,
        0x510E527FADE682D1,
        0x9B05688C2B3E6C1F,
        0x1F83D9ABFB41BD6B,
        0x5BE0CD19137E2179,
    ],
    np.uint64,
)
_SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ],
    np.int64,
)
# the parameter block's first word for an 8-byte digest, no key: digest length, key length 0, fanout 1, depth 1
_PARAM = np.uint64(0x01010000 ^ 8)
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


@numba.njit(cache=True, nogil=True, inline="always")
def _rotr(x: np.uint64, n: np.uint64) -> np.uint64:
    return (x >> n) | (x << (np.uint64(64) - n))


@numba.njit(cache=True, nogil=True, inline="always")
def _g(
    a: np.uint64, b: np.uint64, c: np.uint64, d: np.uint64, x: np.uint64, y: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    a = a + b + x
    d = _rotr(d ^ a, np.uint64(32))
    c = c + d
    b = _rotr(b ^ c, np.uint64(24))
    a = a + b + y
    d = _rotr(d ^ a, np.uint64(16))
    c = c + d
    b = _rotr(b ^ c, np.uint64(63))
    return a, b, c, d


@numba.njit(cache=True, nogil=True)
def _compress(h: np.ndarray, m: np.ndarray, counter: int, last: bool) -> None:
    # the working vector in sixteen locals, so that it stays in registers through the twelve rounds
    v0, v1, v2, v3, v4, v5, v6, v7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    v8, v9, v10, v11, v12, v13, v14, v15 = _IV[0], _IV[1], _IV[2], _IV[3], _IV[4], _IV[5], _IV[6], _IV[7]
    v12 ^= np.uint64(counter)
    if last:
        v14 ^= _MASK
    for r in range(12):
        s = _SIGMA[r % 10]
        v0, v4, v8, v12 = _g(v0, v4, v8, v12, m[s[0]], m[s[1]])
        v1, v5, v9, v13 = _g(v1, v5, v9, v13, m[s[2]], m[s[3]])
        v2, v6, v10, v14 = _g(v2, v6, v10, v14, m[s[4]], m[s[5]])
        v3, v7, v11, v15 = _g(v3, v7, v11, v15, m[s[6]], m[s[7]])
        v0, v5, v10, v15 = _g(v0, v5, v10, v15, m[s[8]], m[s[9]])
        v1, v6, v11, v12 = _g(v1, v6, v11, v12, m[s[10]], m[s[11]])
        v2, v7, v8, v13 = _g(v2, v7, v8, v13, m[s[12]], m[s[13]])
        v3, v4, v9, v14 = _g(v3, v4, v9, v14, m[s[14]], m[s[15]])
    h[0] ^= v0 ^ v8
    h[1] ^= v1 ^ v9
    h[2] ^= v2 ^ v10
    h[3] ^= v3 ^ v11
    h[4] ^= v4 ^ v12
    h[5] ^= v5 ^ v13
    h[6] ^= v6 ^ v14
    h[7] ^= v7 ^ v15


@numba.njit(cache=True, nogil=True)
def digest64(data: np.ndarray, start: int, end: int, h: np.ndarray, m: np.ndarray) -> np.uint64:
    """BLAKE2b-64 of ``data[start:end]`` (uint8), as the little-endian integer of its 8 bytes. ``h`` and
    ``m`` are scratch arrays (8 and 16 uint64) reused across calls."""
    for i in range(8):
        h[i] = _IV[i]
    h[0] ^= _PARAM
    length = end - start
    done = 0
    while True:
        remaining = length - done
        last = remaining <= 128
        for w in range(16):
            m[w] = np.uint64(0)
        take = min(remaining, 128)
        for k in range(take):
            m[k >> 3] |= np.uint64(data[start + done + k]) << np.uint64(8 * (k & 7))
        done += take
        _compress(h, m, done, last)
        if last:
            digest: np.uint64 = h[0]
            return digest


@numba.njit(cache=True, nogil=True)
def digests(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """BLAKE2b-64 of each range ``data[starts[i]:ends[i]]``."""
    out = np.empty(len(starts), np.uint64)
    h = np.empty(8, np.uint64)
    m = np.empty(16, np.uint64)
    for i in range(len(starts)):
        out[i] = digest64(data, starts[i], ends[i], h, m)
    return out
