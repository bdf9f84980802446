"""Throughput of dedup: MinHash signatures against datasketch, the whole stage, and the band index.

Reads a lake holding documents and filtered for the sample dumps (``make demo`` builds it) and prints:

- signatures, docs/s on one core, same normalized texts, same parameters (word 5-grams, 112
  permutations), one after the other in this process: ours (shingle hashing and signatures, numpy over
  a batch of 1,000) against datasketch (``MinHash(num_perm=112).update_batch`` on the encoded 5-gram
  strings, its fast path), and the ratio (target: at least 5x); plus ours including normalization;
- the whole stage (hash, cluster, commit three tables) on each dump of a copy of the lake, one worker:
  per_dump on both dumps, then incremental on the second;
- the band index: rows and Parquet bytes after one and after two dumps, and the peak memory
  (tracemalloc) of the incremental lookup of a new dump against one and against two earlier dumps.

    python bench/dedup_throughput.py [--lake lake]
"""

import argparse
import os
import platform
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from datasketch import MinHash

from corpuslake.dedup.minhash import MinHasher
from corpuslake.dedup.normalize import normalize_text
from corpuslake.dedup.run import load_earlier
from corpuslake.pipeline import deduplicate
from corpuslake.stages.deduplicated import DedupConfig, HashJob, hash_batch
from corpuslake.store import Lake


def signature_figures(texts: list[str]) -> None:
    normalized = [normalize_text(t).split() for t in texts]
    hasher = MinHasher()
    hasher.signatures(*hasher.shingles([["warm", "up", "the", "compiled", "loops"]]))  # numba: compile or load
    started = time.perf_counter()
    for at in range(0, len(normalized), 1_000):
        shingles, offsets = hasher.shingles(normalized[at : at + 1_000])
        hasher.signatures(shingles, offsets)
    ours = time.perf_counter() - started

    started = time.perf_counter()
    for words in normalized:
        m = MinHash(num_perm=hasher.permutations, seed=1)
        grams = [" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))]
        m.update_batch(grams)
    theirs = time.perf_counter() - started

    started = time.perf_counter()
    for at in range(0, len(texts), 1_000):
        chunk = texts[at : at + 1_000]
        hash_batch(HashJob(at, [str(i) for i in range(len(chunk))], chunk, DedupConfig()))
    whole = time.perf_counter() - started
    n = len(texts)
    print(f"signatures on {n} documents (one core, word 5-grams, 112 permutations):")
    print(f"  datasketch update_batch   {n / theirs:9,.0f} docs/s")
    print(f"  ours                      {n / ours:9,.0f} docs/s   ratio {theirs / ours:.1f}x (target >= 5x)")
    print(f"  ours with normalization   {n / whole:9,.0f} docs/s   (the stage's hashing: normalize, exact key, bands)")


def stage_figures(lake_root: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "lake"
        shutil.copytree(lake_root, copy, ignore=shutil.ignore_patterns("deduplicated", "minhash_index", "_staging"))
        lake = Lake(str(copy), cache=str(Lake(str(lake_root)).cache_dir()))
        dumps = sorted({r["dump"] for r in lake.read("filtered", columns=["dump"]).to_pylist()})
        print(f"whole stage, one worker ({', '.join(dumps)}):")
        index_after: list[tuple[int, int]] = []
        for scope, dump in [*[("per_dump", d) for d in dumps], ("incremental", dumps[-1])]:
            rows = lake.read("filtered", dumps=[dump], columns=["id"]).num_rows
            started = time.perf_counter()
            report = deduplicate(lake, dump, "bench", DedupConfig(scope=scope), workers=1)
            seconds = time.perf_counter() - started
            c = report.counters
            print(
                f"  {scope:11} {dump}: {rows} documents in {seconds:.2f}s = {rows / seconds:,.0f} docs/s; "
                f"removed exact {c.get('removed.exact', 0)}, near {c.get('removed.near', 0)}; "
                f"earlier documents matched {c.get('earlier_documents_matched', 0)}"
            )
            if scope == "per_dump":
                index = lake.read("minhash_index")
                size = sum(p.stat().st_size for p in (copy / "minhash_index").rglob("*.parquet"))
                index_after.append((index.num_rows, size))
        for count, (rows_, size) in enumerate(index_after, start=1):
            print(
                f"  band index after {count} dump(s): {rows_:,} rows, {size / 1024:,.0f} KiB of Parquet (all versions)"
            )
        # the lookup a new dump makes, against one and against two earlier dumps
        texts = lake.read("filtered", dumps=[dumps[-1]], columns=["id", "text"])
        outcome = hash_batch(HashJob(0, texts["id"].to_pylist(), texts["text"].to_pylist(), DedupConfig()))
        index_version = lake.version("minhash_index")
        assert index_version is not None
        for label, new_dump in (("one earlier dump", dumps[-1]), ("two earlier dumps", "ZZZZ-later-dump")):
            tracemalloc.start()
            started = time.perf_counter()
            earlier = load_earlier(lake, index_version, None, new_dump, [outcome], DedupConfig(scope="incremental"))
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"  incremental lookup against {label}: {len(earlier.ids)} earlier documents matched, "
                f"peak {peak / 2**20:.1f} MiB, {seconds * 1000:.0f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default="lake")
    args = parser.parse_args()
    root = Path(args.lake).resolve()
    lake = Lake(str(root))
    if lake.version("filtered") is None:
        raise SystemExit(f"no filtered table in {args.lake}: run `make demo` first")
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    texts = lake.read("documents", columns=["text"])["text"].to_pylist()
    print(f"input: documents of {root} ({len(texts)} texts, mean {np.mean([len(t) for t in texts]):,.0f} chars)")
    signature_figures(texts)
    stage_figures(root)


if __name__ == "__main__":
    main()
