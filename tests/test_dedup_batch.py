"""The dedup keys of a batch in compiled loops (corpuslake.dedup.textkeys, corpuslake.dedup.blake2) against
the per-text functions they replace in the hashing job: ``normalize_text``, ``str.split``, ``exact_key``,
``word_hash`` and ``MinHasher.shingles`` over word strings. The keys are stored in the band index, so they
must be equal bit for bit, on real texts and on every code point. Pure functions and one hashing job's file
under tmp_path."""

import gzip
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpuslake.dedup.blake2 import digests
from corpuslake.dedup.minhash import word_hash
from corpuslake.dedup.normalize import normalize_text
from corpuslake.dedup.textkeys import normalize_batch
from corpuslake.stages.deduplicated import DedupConfig, HashJob, exact_key, hash_batch

EXAMPLES = Path(__file__).resolve().parent.parent / "samples" / "quality" / "examples.jsonl.gz"
TRICKY = [
    "",
    "   \n\t ",
    "Déjà-vu, in 2024!  Twice…",
    "中文，测试。",
    "lone \ud800 surrogate, and \udfff",
    "x\u0301 \u0301 e\u0301te",  # combining marks dropped inside and outside words
    "1\u00b2\u0663 ﬁ İ ß ǅ",  # other digits, a ligature, a lowercase that adds a mark
    "a\x1cb\u2028c\x85d\u3000e\xa0f",  # whitespace beyond spaces and newlines
    "end.",
    "x" * 300 + " " + "é" * 200,  # words longer than a BLAKE2b block
]


def real_texts() -> list[str]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


def test_blake2b_is_hashlib() -> None:
    rng = random.Random(2)
    items = [bytes(rng.randrange(256) for _ in range(n)) for n in [*range(300), 1023, 1024, 1025, 4096]]
    ends = np.cumsum([len(x) for x in items])
    got = digests(np.frombuffer(b"".join(items), np.uint8), ends - [len(x) for x in items], ends)
    want = [int.from_bytes(hashlib.blake2b(x, digest_size=8).digest(), "little") for x in items]
    assert got.tolist() == want


def check(texts: list[str]) -> None:
    batch = normalize_batch(texts)
    keys, hashes = batch.exact_keys().tolist(), batch.word_hashes().tolist()
    for at, text in enumerate(texts):
        normalized = normalize_text(text)
        assert batch.text(at) == normalized, repr(text[:60])
        assert batch.words(at) == normalized.split()
        assert keys[at] == exact_key(normalized)
        lo, hi = batch.word_offsets[at], batch.word_offsets[at + 1]
        assert hashes[lo:hi] == [word_hash(w) for w in normalized.split()]


@pytest.mark.parametrize("texts", [TRICKY, TRICKY[::-1], [], [""], ["one"]])
def test_keys_of_crafted_texts(texts: list[str]) -> None:
    check(texts)


def test_keys_of_real_texts() -> None:
    check(real_texts())  # more distinct words than the first table holds: it grows


def test_keys_of_every_code_point() -> None:
    # each code point between letters, so that it joins, splits, or vanishes from a word as normalize_text says
    points = [chr(c) for c in range(0x110000)]
    check(["".join(f"{p}q" for p in points[at : at + 4096]) for at in range(0, len(points), 4096)])


def test_hash_file_as_the_string_path(tmp_path: Path) -> None:
    texts = real_texts()[:500] + [t for t in TRICKY if "surrogate" not in t]  # Arrow holds valid UTF-8 only
    config = DedupConfig(verify=True, paragraphs=True)
    rows = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    written = pq.read_table(hash_batch(HashJob(0, rows, str(tmp_path), config)).path)
    hasher = config.hasher()
    words = [normalize_text(t).split() for t in texts]
    shingles, offsets = hasher.shingles(words)
    bands = hasher.band_keys(hasher.signatures(shingles, offsets))
    sets, set_offsets = hasher.shingles(words, unique=True)
    assert written.column("exact").to_pylist() == [exact_key(normalize_text(t)) for t in texts]
    assert written.column("bands").to_pylist() == [
        row.tolist() if w else None for w, row in zip(words, bands, strict=True)
    ]
    expected_sets = [sets[set_offsets[i] : set_offsets[i + 1]].view(np.int64).tolist() for i in range(len(texts))]
    assert written.column("shingles").to_pylist() == expected_sets
    paragraphs = [[exact_key(normalize_text(p)) if normalize_text(p) else 0 for p in t.split("\n")] for t in texts]
    assert written.column("paragraphs").to_pylist() == paragraphs
