"""fastText's lid.176 prediction in numpy, from the same ``.ftz`` file, with a cache of word vectors.

fastText averages, for every whitespace-separated token of a line, the rows of its character n-grams (2-4
characters of ``<token>``, hashed with FNV-1a into 2M buckets, of which the quantized model keeps 42,765)
and of the token itself when it is in the vocabulary, then walks its hierarchical softmax. It does that
work again for every occurrence of a token: on web text about 3 n-gram lookups per character, 0.25-0.3 us
per character here. This module decodes the quantized matrix once (50,000 rows of 16 floats, 3.2 MB),
sums the rows of a token once and keeps the sum in a bounded cache, so a text costs one dictionary
lookup per token; the n-grams of unseen tokens are hashed in numpy for a whole batch at once.

The arithmetic is fastText's in float32, with one difference: a token's rows are summed before they are
added to the line's sum, so the last bits of the average can differ from fastText's left-to-right sum.
``tests/test_lid176.py`` checks labels and scores against the ``fasttext`` module.
"""

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import filterfalse, repeat
from pathlib import Path

import numpy as np
import numpy.typing as npt

_MAGIC, _VERSION = 793712314, 12
_EOS = b"</s>"
_LABEL = b"__label__"
_FNV_OFFSET, _FNV_PRIME = np.uint32(2166136261), np.uint32(16777619)
_LOSS_HS = 1  # fastText's loss_name::hs: lid.176 is trained with the hierarchical softmax
Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Model:
    """What prediction needs from a lid.176 file."""

    rows: Floats
    """Input matrix decoded from product quantization: (words + kept n-grams) x dim."""
    words: dict[bytes, int]
    """Vocabulary word -> row."""
    bucket_rows: npt.NDArray[np.int32]
    """Row of each hash bucket's n-gram; -1 for the buckets the quantization's cutoff dropped (8 MB: a
    lookup by index, not by search)."""
    nodes: Floats
    """Output rows of the hierarchical softmax's inner nodes: (labels - 1) x dim."""
    paths: Ints
    """labels x depth: the branch terms on each label's path from the root (left branches index the inner
    node, right ones the inner node + labels - 1), padded with the index of a zero term."""
    labels: tuple[str, ...]
    minn: int
    maxn: int
    bucket: int


def load(path: Path) -> "_Model":
    """Read a quantized fastText supervised model trained with the hierarchical softmax (lid.176.ftz)."""
    data = path.read_bytes()
    reader = _Reader(data)
    magic, version = reader.unpack("<ii")
    if (magic, version) != (_MAGIC, _VERSION):
        raise ValueError(f"{path}: not a fastText model of version {_VERSION}")
    dim, _ws, _epoch, _min_count, _neg, _word_ngrams, loss, _model, bucket, minn, maxn, _lr_rate, _t = reader.unpack(
        "<12id"
    )
    if loss != _LOSS_HS:
        raise ValueError(f"{path}: loss {loss}, only the hierarchical softmax is read")
    size, nwords, _nlabels = reader.unpack("<iii")
    _ntokens, prune_size = reader.unpack("<qq")
    words: dict[bytes, int] = {}
    labels: list[str] = []
    counts: list[int] = []
    for index in range(size):
        word = reader.cstring()
        count, kind = reader.unpack("<qb")
        if kind == 0:
            words[word] = index
        else:
            labels.append(word[len(_LABEL) :].decode())
            counts.append(count)
    pairs = reader.array("<i4", 2 * max(prune_size, 0)).reshape(-1, 2)
    bucket_rows = np.full(bucket, -1, dtype=np.int32)
    bucket_rows[pairs[:, 0]] = pairs[:, 1] + nwords
    (quantized,) = reader.unpack("<?")
    if not quantized or prune_size < 0:
        raise ValueError(f"{path}: only quantized, pruned models (.ftz) are read")
    rows = _decode_quantized(reader)
    (quantized_out,) = reader.unpack("<?")
    if quantized_out:
        raise ValueError(f"{path}: a quantized output matrix is not read")
    out_rows, out_dim = reader.unpack("<qq")
    output = reader.array("<f4", out_rows * out_dim).reshape(out_rows, out_dim)
    if out_dim != dim or rows.shape[1] != dim:
        raise ValueError(f"{path}: matrix widths differ from the model's dimension")
    return _Model(
        rows=rows,
        words=words,
        bucket_rows=bucket_rows,
        nodes=np.ascontiguousarray(output[: len(labels) - 1]),
        paths=_tree_paths(counts),
        labels=tuple(labels),
        minn=minn,
        maxn=maxn,
        bucket=bucket,
    )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def unpack(self, fmt: str) -> tuple[int, ...]:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def cstring(self) -> bytes:
        end = self.data.index(b"\0", self.pos)
        value, self.pos = self.data[self.pos : end], end + 1
        return value

    def array(self, dtype: str, count: int) -> npt.NDArray[np.generic]:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += values.nbytes
        return values


def _decode_quantized(reader: _Reader) -> Floats:
    """fastText's QuantMatrix as dense rows: centroid of each sub-vector times the row's quantized norm."""
    (qnorm,) = reader.unpack("<?")
    nrows, dim = reader.unpack("<qq")
    (codesize,) = reader.unpack("<i")
    codes = reader.array("u1", codesize)
    pq_dim, nsubq, dsub, lastdsub = reader.unpack("<iiii")
    centroids = reader.array("<f4", pq_dim * 256)
    if pq_dim != dim or lastdsub != dsub or nsubq * dsub != dim:
        raise ValueError("product quantizer layout not read (sub-vectors of unequal size)")
    # Centroid m, code c starts at (m * 256 + c) * dsub.
    sub = centroids.reshape(nsubq, 256, dsub)
    rows = sub[np.arange(nsubq), codes.reshape(nrows, nsubq)].reshape(nrows, dim)
    if qnorm:
        norm_codes = reader.array("u1", nrows)
        reader.unpack("<iiii")  # the norm quantizer: one sub-vector of one value
        norms = reader.array("<f4", 256)[norm_codes]
        rows = rows * norms[:, None]  # fastText adds norm * centroid: the same float32 product
    return np.ascontiguousarray(rows, dtype=np.float32)


def _tree_paths(counts: Sequence[int]) -> Ints:
    """fastText's Huffman tree over label counts, as the branches each label's path takes."""
    n = len(counts)
    count = [int(c) for c in counts] + [10**15] * (n - 1)
    parent, right = [-1] * (2 * n - 1), [False] * (2 * n - 1)
    leaf, node = n - 1, n
    for i in range(n, 2 * n - 1):
        mini = [0, 0]
        for j in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                mini[j], leaf = leaf, leaf - 1
            else:
                mini[j], node = node, node + 1
        count[i] = count[mini[0]] + count[mini[1]]
        parent[mini[0]] = parent[mini[1]] = i
        right[mini[1]] = True
    steps: list[list[int]] = []
    for label in range(n):
        path, j = [], label
        while parent[j] != -1:
            path.append(parent[j] - n + (n - 1) * right[j])
            j = parent[j]
        steps.append(path[::-1])  # from the root down, the order fastText adds the terms in
    depth = max(map(len, steps))
    padding = 2 * (n - 1)  # a column of zeros after the left and right terms
    return np.asarray([path + [padding] * (depth - len(path)) for path in steps], dtype=np.int64)


class Lid176:
    """Predicts (label, probability) for lines as fastText's ``predict(k=1)`` does on a quantized model.

    Not thread-safe: the token cache is shared by every call.
    """

    _sums: Floats
    _counts: Ints

    def __init__(self, path: Path, *, cache_tokens: int = 200_000) -> None:
        self.model = load(path)
        self.cache_tokens = cache_tokens
        self._cache: dict[bytes, int] = {}
        self._reset(cache_tokens)

    def _reset(self, room: int) -> None:
        """Empty the cache, with room for ``room`` tokens (more than ``cache_tokens`` only while one call
        holds more distinct tokens than that)."""
        dim = self.model.rows.shape[1]
        if not self._cache or len(self._counts) != room + 1:
            self._sums = np.zeros((room + 1, dim), dtype=np.float32)
            self._counts = np.zeros(room + 1, dtype=np.int64)
        # Entry 0 is the end of line fastText appends to every line: the row of the word "</s>" alone.
        self._cache = {_EOS: 0}
        self._sums[0] = self.model.rows[self.model.words[_EOS]]
        self._counts[0] = 1

    def predict(self, lines: Sequence[str]) -> list[tuple[str, float]]:
        """The most probable label of each line and its probability; whitespace of any kind separates tokens
        (fastText's: space, tab, newline, CR, VT, FF, NUL) and the whole text is one line."""
        token_lists = [_tokens(line) for line in lines]
        self._learn(token_lists)
        cache = self._cache
        flat: list[int] = []
        starts: list[int] = []
        for tokens in token_lists:
            starts.append(len(flat))
            flat.extend(map(cache.__getitem__, tokens))
            flat.append(0)  # the end of the line
        index = np.asarray(flat, dtype=np.int64)
        offsets = np.asarray(starts, dtype=np.int64)
        sums = np.add.reduceat(self._sums[index], offsets, axis=0)
        counts = np.add.reduceat(self._counts[index], offsets)
        # fastText multiplies by the float of the double 1.0 / count.
        hidden = sums * (1.0 / counts).astype(np.float32)[:, None]
        return self._classify(hidden)

    def _learn(self, token_lists: list[list[bytes]]) -> None:
        """Cache the row sum and row count of every token of ``token_lists`` not cached yet."""
        missing = set(filterfalse(self._cache.__contains__, set().union(*token_lists)))
        if not missing:
            return
        if len(self._cache) + len(missing) > len(self._counts) - 1:
            missing = set().union(*token_lists)
            missing.discard(_EOS)
            self._reset(max(self.cache_tokens, len(missing)))
        tokens = list(missing)
        sums, counts = self._token_vectors(tokens)
        first = len(self._cache)
        self._sums[first : first + len(tokens)] = sums
        self._counts[first : first + len(tokens)] = counts
        self._cache.update(zip(tokens, range(first, first + len(tokens)), strict=True))

    def _token_vectors(self, tokens: list[bytes]) -> tuple[Floats, Ints]:
        """Sum and count of the rows fastText averages for each token: its n-grams', and its own if it is a
        vocabulary word; nothing for a token that reads as a label."""
        model = self.model
        joined, word_of, buckets = _ngram_buckets(tokens, model.minn, model.maxn, model.bucket)
        rows = model.bucket_rows[buckets]
        kept = rows >= 0  # the buckets the quantization kept
        rows, word_of = rows[kept], word_of[kept]
        if b"<" + _LABEL in joined:
            labels = [i for i, t in enumerate(tokens) if t.startswith(_LABEL)]
            keep = ~np.isin(word_of, labels)
            rows, word_of = rows[keep], word_of[keep]
        wids = np.fromiter(map(model.words.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        vocab = np.flatnonzero(wids >= 0)
        rows, word_of = np.concatenate([wids[vocab], rows]), np.concatenate([vocab, word_of])
        sums = np.zeros((len(tokens), model.rows.shape[1]), dtype=np.float32)
        np.add.at(sums, word_of, model.rows[rows])
        return sums, np.bincount(word_of, minlength=len(tokens)).astype(np.int64)

    def _classify(self, hidden: Floats) -> list[tuple[str, float]]:
        """The hierarchical softmax's most probable leaf, as fastText's depth-first search finds it."""
        model = self.model
        dots = (hidden @ model.nodes.T).astype(np.float64)
        f = (1.0 / (1.0 + np.exp(-dots))).astype(np.float32)
        # std_log(x) = log(x + 1e-5) of a float argument; left branches take 1 - f, right ones f.
        left = np.log((1.0 - f).astype(np.float32).astype(np.float64) + 1e-5)
        right = np.log(f.astype(np.float64) + 1e-5)
        zeros = np.zeros((len(hidden), 1))
        terms = np.concatenate([left, right, zeros], axis=1).astype(np.float32)
        scores = np.zeros((len(hidden), len(model.labels)), dtype=np.float32)
        for step in model.paths.T:  # float32 sums from the root down, as the search adds them
            scores += terms[:, step]
        best = np.argmax(scores, axis=1)
        top = scores[np.arange(len(best)), best]
        floor = np.log(1e-5)  # fastText's search drops paths below std_log(threshold 0)
        return [
            (model.labels[b], min(max(float(np.exp(np.float32(s))), 0.0), 1.0)) if s >= floor else ("und", 0.0)
            for b, s in zip(best.tolist(), top.tolist(), strict=True)
        ]


def _tokens(line: str) -> list[bytes]:
    """fastText's tokens of a line, up to and including a literal ``</s>`` (where fastText stops reading)."""
    data = line.encode("utf-8", "replace")
    if b"\0" in data:
        data = data.replace(b"\0", b" ")
    tokens = data.split()  # ASCII whitespace: fastText's separators but NUL, replaced above
    if _EOS in tokens:
        del tokens[tokens.index(_EOS) :]
    return tokens


def _ngram_buckets(tokens: list[bytes], minn: int, maxn: int, bucket: int) -> tuple[bytes, Ints, Ints]:
    """The padded tokens ``<token>`` in one buffer, and (token index, hash bucket) of each of their character
    n-grams with minn <= n <= maxn, hashed as fastText does (32-bit FNV-1a over the UTF-8 bytes, each byte
    sign-extended), all tokens at once."""
    joined = b"<" + b"><".join(tokens) + b">"
    buf = np.frombuffer(joined, dtype=np.uint8)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)) + 2
    word_start = np.cumsum(lengths) - lengths
    first_bytes = (buf & 0xC0) != 0x80  # first bytes of characters (UTF-8 continuations skipped)
    starts = np.flatnonzero(first_bytes)
    chars_per_word = np.add.reduceat(first_bytes, word_start, dtype=np.int64)  # "<>" at least: never empty
    word_of = np.repeat(np.arange(len(tokens)), chars_per_word)
    char_end = np.repeat(np.cumsum(chars_per_word), chars_per_word)  # the first character after the token
    bounds = np.append(starts, len(buf))
    signed = buf.view(np.int8).astype(np.int32).view(np.uint32)
    hashes = np.full(len(starts), _FNV_OFFSET, dtype=np.uint32)
    first = np.arange(len(starts))
    out_words: list[Ints] = []
    out_buckets: list[Ints] = []
    for n in range(1, maxn + 1):
        last = first + n - 1  # the n-th character of each n-gram
        live = np.flatnonzero(last < char_end)
        byte_from, byte_to = bounds[last[live]], bounds[last[live] + 1]
        for offset in range(4):  # a UTF-8 character has at most 4 bytes
            more = byte_from + offset < byte_to
            grow = live[more]
            hashes[grow] = (hashes[grow] ^ signed[byte_from[more] + offset]) * _FNV_PRIME
        if n >= minn:
            out_words.append(word_of[live])
            out_buckets.append((hashes[live] % np.uint32(bucket)).astype(np.int64))
    return joined, np.concatenate(out_words), np.concatenate(out_buckets)
