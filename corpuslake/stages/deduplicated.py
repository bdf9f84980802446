"""The deduplicated stage: exact and MinHash near-duplicates of a dump's filtered documents, clustered,
one document kept per cluster; optionally exact paragraph dedup of what is kept.

The per-batch work, run in workers; each job writes Parquet under the stage's staging folder and
returns only paths and counters, so nothing that grows with the dump travels back to the driver:

- :func:`hash_batch`: normalized text, exact key, MinHash band keys (and shingle sets to verify pairs,
  paragraph keys for paragraph dedup) -> ``hashes/<seq>.parquet``, read by the cluster step
  (:mod:`corpuslake.dedup.clusters`);
- :func:`corpuslake.dedup.rewrite.rewrite_batch`: the batch's rows and its decisions (written by the
  cluster step, one folder per ``seq``) -> kept rows, rejection rows and the kept documents' band-index
  rows.

A job holds the rows of one batch and its ``seq``; nothing else ties the two passes together, so either
job could take a reference to a row group instead of the rows.
"""

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.dedup.minhash import MinHasher
from corpuslake.dedup.textkeys import normalize_batch
from corpuslake.runner import Sink

STAGE = "deduplicated"
STAGE_VERSION = "1"
EXACT_BAND = -1  # the index row holding a document's exact-text hash


@dataclass(frozen=True)
class DedupConfig:
    """Settings of the dedup stage; the defaults are FineWeb's MinHash (per dump, 5-grams, 14 x 8)."""

    scope: str = "per_dump"
    """``per_dump``: duplicates within the dump only (FineWeb). ``incremental``: also against everything
    kept from earlier dumps (dump names sorting before this one), read from the band index."""
    exact: bool = True
    """Drop documents whose normalized text equals another's."""
    near: bool = True
    """Drop MinHash near-duplicates."""
    ngram: int = 5
    """Words per shingle."""
    bands: int = 14
    """LSH bands; with ``rows`` this sets the similarity threshold, about (1/bands)^(1/rows)."""
    rows: int = 8
    """Signature values per band."""
    seed: int = 1
    """Seed of the hash permutations: signatures in one index must share it."""
    verify: bool = False
    """Check each candidate pair's exact shingle Jaccard before merging (slower, no false merges)."""
    verify_threshold: float = 0.8
    """Minimum Jaccard of a verified pair."""
    keep: tuple[str, ...] = ("earliest_dump", "longest_text")
    """Which cluster member is kept: rules applied in order (earliest_dump, latest_dump, longest_text,
    shortest_text), then the smallest id. In incremental scope a document kept by an earlier dump
    always wins: earlier dumps are never rewritten."""
    max_cluster_size: int = 10_000
    """A cluster larger than this stops the run with an error instead of deleting its members."""
    paragraphs: bool = False
    """Exact paragraph dedup (DCLM and Dolma style) over the kept documents, in crawl order, with a
    Bloom filter: a paragraph seen before is removed; a document left without text is dropped."""
    paragraph_fp_rate: float = 0.001
    """False-positive rate of the paragraph Bloom filter."""
    paragraph_capacity: int = 1_000_000
    """Paragraphs the Bloom filter is sized for (its bits per item are reported)."""
    batch_rows: int = 1_000
    """Documents per hashing and rewriting job."""
    cluster_memory: str = "512MB"
    """DuckDB's memory limit in the cluster step (a DuckDB size: ``512MB``, ``4GB``); past it, its joins,
    aggregations and tables spill to the staging folder, so the memory of the process that clusters (one
    started for the step, or the driver with one worker) does not follow the dump. At 512MB that process
    peaked at 825 MiB on a dump of 1 M documents, with the same CPU as at 1GB (bench/dedup_memory.py)."""

    def hasher(self) -> MinHasher:
        return MinHasher(ngram=self.ngram, bands=self.bands, rows=self.rows, seed=self.seed)


def exact_key(normalized: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True
    )


def paragraph_keys(text: str) -> list[int]:
    """Hash of each paragraph (line) of ``text`` after normalization; blank paragraphs hash to 0."""
    return paragraph_key_lists([text])[0]


def paragraph_key_lists(texts: list[str]) -> list[list[int]]:
    """``paragraph_keys`` of every text, with the lines of all of them normalized as one batch."""
    lines = [text.split("\n") for text in texts]
    normalized = normalize_batch([line for parts in lines for line in parts])
    keys = np.where(np.diff(normalized.text_starts) > 0, normalized.exact_keys(), 0).tolist()
    out, at = [], 0
    for parts in lines:
        out.append(keys[at : at + len(parts)])
        at += len(parts)
    return out


@dataclass(frozen=True)
class HashJob:
    seq: int
    rows: pa.Table  # id and text of one batch
    staging: str
    config: DedupConfig


@dataclass(frozen=True)
class HashOutcome:
    seq: int
    path: str
    documents: int
    seconds: float

    @property
    def source_file(self) -> str:  # what the progress line names
        return f"batch {self.seq}"


def hash_path(staging: str, seq: int) -> str:
    return f"{staging}/hashes/{seq:06d}.parquet"


def hash_batch(job: HashJob) -> HashOutcome:
    """Normalize, shingle and sign one batch; write one row per document (``bands`` null without words)."""
    started = time.perf_counter()
    config, texts = job.config, job.rows.column("text").to_pylist()
    hasher = config.hasher()
    normalized = normalize_batch(texts)
    words = normalized.word_hashes()
    shingles, offsets = hasher.shingle_hashes(words, normalized.word_offsets)
    bands = hasher.band_keys(hasher.signatures(shingles, offsets))
    n = len(texts)
    steps = np.arange(0, (n + 1) * config.bands, config.bands, dtype=np.int32)
    columns: dict[str, Any] = {
        "seq": pa.array(np.full(n, job.seq, np.int32)),
        "row": pa.array(np.arange(n, dtype=np.int32)),
        "id": job.rows.column("id").combine_chunks(),
        "exact": pa.array(normalized.exact_keys()),
        "text_chars": pa.array(np.fromiter(map(len, texts), np.int64, n)),
        # a document without words has no signature: no band keys
        "bands": pa.ListArray.from_arrays(steps, pa.array(bands.ravel()), mask=pa.array(np.diff(offsets) == 0)),
    }
    if config.verify:
        sets, set_offsets = hasher.shingle_hashes(words, normalized.word_offsets, unique=True)
        columns["shingles"] = pa.ListArray.from_arrays(set_offsets.astype(np.int32), pa.array(sets.view(np.int64)))
    if config.paragraphs:
        columns["paragraphs"] = pa.array(paragraph_key_lists(texts), pa.list_(pa.int64()))
    path = hash_path(job.staging, job.seq)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return HashOutcome(job.seq, path, n, time.perf_counter() - started)


def warm_up(config: DedupConfig) -> None:
    """Run the hashing job's compiled loops once on a tiny batch: the first process to run them compiles
    and writes numba's cache, so the workers started next load it instead of each compiling them."""
    normalized = normalize_batch(["warm up 1"])
    normalized.exact_keys()
    hasher = config.hasher()
    hasher.band_keys(hasher.signatures(*hasher.shingle_hashes(normalized.word_hashes(), normalized.word_offsets)))


@dataclass(frozen=True)
class HashSettings:
    """What a hashing job needs besides its rows: the stage's config and the folder of the hash files."""

    config: DedupConfig
    staging: str


def hash_rows(rows: pa.Table, settings: HashSettings, sink: Sink) -> None:
    """The stage function of the hashing pass: one row group's keys into its hash file (named by the
    job's number, which the rewriting pass of the same row group reads)."""
    outcome = hash_batch(HashJob(sink.seq, rows, settings.staging, settings.config))
    sink.count("documents", outcome.documents)
    sink.measure("hashing_seconds", outcome.seconds)


@dataclass(frozen=True)
class ShingleJob:
    """Texts of earlier-dump documents whose shingle sets a verified incremental run compares with."""

    seq: int
    rows: pa.Table  # id and text
    staging: str
    config: DedupConfig


def shingle_batch(job: ShingleJob) -> str:
    """Write each document's sorted shingle set (``id``, ``shingles``); return the file's path."""
    hasher = job.config.hasher()
    normalized = normalize_batch(job.rows.column("text").to_pylist())
    sets, offsets = hasher.shingle_hashes(normalized.word_hashes(), normalized.word_offsets, unique=True)
    path = f"{job.staging}/earlier_shingles/{job.seq:06d}.parquet"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    shingles = pa.ListArray.from_arrays(offsets.astype(np.int32), pa.array(sets.view(np.int64)))
    pq.write_table(pa.table({"id": job.rows.column("id"), "shingles": shingles}), path)
    return path
