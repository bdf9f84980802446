"""Dedup: MinHash signatures against datasketch, and the memory of the cluster step as the dump grows.

Prints:

- signatures, docs/s on one core, same normalized texts, same parameters (word 5-grams, 112
  permutations), one after the other in this process: ours (shingle hashing and signatures, numpy over
  a batch of 1,000) against datasketch (``MinHash(num_perm=112).update_batch`` on the encoded 5-gram
  strings, its fast path), and the ratio (target: at least 5x); plus ours including normalization.
  Texts: the lake's documents when ``--lake`` holds them, else the synthetic documents below;
- the cluster step at each ``--sizes`` (synthetic dumps: random words with planted exact copies, near
  copies and chains of near copies; hashed by ``--workers`` processes into Parquet as the stage's
  workers do), each run in a fresh child process: DuckDB with ``--memory`` as its limit (the product's
  path) and the in-memory union-find the tests keep as the reference (tests/dedup_reference.py); per run
  the child's peak RSS, its CPU seconds (user + sys) and the documents kept, which must agree.

    python bench/dedup_throughput.py [--sizes 50000 500000] [--memory 256MB] [--workers 2] [--lake lake]
"""

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
from datasketch import MinHash

from corpuslake.dedup import clusters
from corpuslake.dedup.minhash import MinHasher
from corpuslake.dedup.normalize import normalize_text
from corpuslake.dedup.textkeys import normalize_batch
from corpuslake.parallel import run_jobs
from corpuslake.schemas import MINHASH_INDEX
from corpuslake.stages.deduplicated import DedupConfig, HashJob, hash_batch
from corpuslake.store import Lake

WORDS = [f"{a}{b}{c}" for a in "bcdfghjklmnpqrstvwz" for b in "aeiou" for c in "bdgklmnprst"][:1_000]


def synthetic_batches(count: int, batch: int, seed: int) -> Iterator[pa.Table]:
    """``count`` documents of 40-160 words in batches: 10% exact copies (case and digits changed), 15%
    near copies (1-4 words replaced) of a recent document, which also makes chains of near copies."""
    rng = random.Random(seed)
    recent: list[list[str]] = []  # the documents copies are drawn from: bounded, so generating is too
    for start in range(0, count, batch):
        ids, texts = [], []
        for i in range(start, min(count, start + batch)):
            roll = rng.random()
            if recent and roll < 0.10:
                words = [w.upper() if rng.random() < 0.2 else w for w in rng.choice(recent)] + [str(i)]
            elif recent and roll < 0.25:
                words = list(rng.choice(recent))
                for _ in range(rng.randint(1, 4)):
                    words[rng.randrange(len(words))] = rng.choice(WORDS)
            else:
                words = rng.choices(WORDS, k=rng.randint(40, 160))
            recent.append(words)
            if len(recent) > 5_000:
                recent.pop(rng.randrange(len(recent)))
            ids.append(f"doc-{i:09d}")
            texts.append(" ".join(words))
        yield pa.table({"id": ids, "text": texts})


def signature_figures(texts: list[str]) -> None:
    normalized = [normalize_text(t).split() for t in texts]
    hasher = MinHasher()
    batches = [normalize_batch(texts[at : at + 1_000]) for at in range(0, len(texts), 1_000)]
    hasher.signatures(*hasher.shingle_hashes(batches[0].word_hashes(), batches[0].word_offsets))  # numba: load
    started = time.process_time()
    for batch in batches:
        hasher.signatures(*hasher.shingle_hashes(batch.word_hashes(), batch.word_offsets))
    ours = time.process_time() - started

    started = time.process_time()
    for words in normalized:
        m = MinHash(num_perm=hasher.permutations, seed=1)
        grams = [" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))]
        m.update_batch(grams)
    theirs = time.process_time() - started

    with tempfile.TemporaryDirectory() as scratch:
        started = time.process_time()
        for at in range(0, len(texts), 1_000):
            chunk = pa.table(
                {"id": [str(i) for i in range(len(texts[at : at + 1_000]))], "text": texts[at : at + 1_000]}
            )
            hash_batch(HashJob(at, chunk, scratch, DedupConfig()))
        whole = time.process_time() - started
    n = len(texts)
    print(f"signatures on {n} documents (docs per CPU-second of this process, word 5-grams, 112 permutations):")
    print(f"  datasketch update_batch   {n / theirs:9,.0f} docs/s   (from normalized words)")
    print(f"  ours                      {n / ours:9,.0f} docs/s   ratio {theirs / ours:.1f}x (target >= 5x)")
    print(f"  ours with normalization   {n / whole:9,.0f} docs/s   (the stage's hashing job, Parquet file included)")


def hash_dump(count: int, staging: Path, workers: int) -> list[str]:
    jobs = (
        HashJob(seq, batch, str(staging), DedupConfig())
        for seq, batch in enumerate(synthetic_batches(count, 1_000, seed=count))
    )
    return sorted(o.path for o in run_jobs(hash_batch, jobs, workers))


def cluster_child(staging: Path, memory: str) -> dict[str, float]:
    """The product's cluster step over the hash files in ``staging``; what a driver does, nothing else."""
    files = sorted(str(p) for p in (staging / "hashes").glob("*.parquet"))
    work = staging / f"duckdb-{os.getpid()}"
    work.mkdir()
    with clusters.connect(work, memory) as con:
        clusters.load_dump(con, files, "D", verify=False)
        con.register("earlier_index", MINHASH_INDEX.empty_table())
        clusters.load_earlier(con, "D")
        clusters.decide_all(con, DedupConfig(), work / "decisions", earlier_matched=False)
    decisions = pads.dataset(work / "decisions", partitioning="hive").to_table(columns=["kept"])
    return {"kept": float(decisions.column("kept").to_numpy(zero_copy_only=False).sum())}


def reference_child(staging: Path) -> dict[str, float]:
    """The in-memory union-find the tests keep, over the same files: the driver as it was."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.dedup_reference import Earlier, Hashed, cluster_dump

    files = sorted(str(p) for p in (staging / "hashes").glob("*.parquet"))
    config = DedupConfig()
    decision = cluster_dump("D", Hashed.read(files, config), Earlier.none(), config)
    return {"kept": float(decision.kept.sum())}


def peak_rss() -> float:
    """This process's peak resident set (VmHWM): ru_maxrss would carry the parent's peak across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(mode: str, staging: Path, memory: str) -> dict[str, float]:
    """Run one clustering in a fresh process; its peak RSS, CPU seconds and wall time."""
    started = time.perf_counter()
    command = [sys.executable, __file__, "--child", mode, "--staging", str(staging), "--memory", memory]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{mode} child failed:\n{done.stderr}")
    out = done.stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures | {"wall": time.perf_counter() - started}


def memory_figures(sizes: list[int], memory: str, workers: int) -> None:
    print(f"cluster step, synthetic dumps (10% exact, 15% near copies), DuckDB memory_limit={memory}:")
    print(
        f"  {'documents':>10} {'path':9} {'peak RSS':>10} {'above imports':>13} {'CPU s':>7} {'wall s':>7} {'kept':>9}"
    )
    base = child("imports", Path.cwd(), memory)
    print(f"  {0:>10} {'imports':9} {base['rss'] / 2**20:8,.0f} MiB {'':>13} {base['cpu']:7.1f} {base['wall']:7.1f}")
    for size in sizes:
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
            staging = Path(scratch)
            started = time.perf_counter()
            hash_dump(size, staging, workers)
            print(f"  ({size:,} documents hashed by {workers} workers in {time.perf_counter() - started:.1f}s)")
            for mode in ("duckdb", "reference"):
                f = child(mode, staging, memory)
                above = (f["rss"] - base["rss"]) / size
                print(
                    f"  {size:>10,} {mode:9} {f['rss'] / 2**20:8,.0f} MiB {above:7,.0f} B/doc "
                    f"{f['cpu']:7.1f} {f['wall']:7.1f} {int(f['kept']):>9,}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default="lake")
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 500_000], help="none: signatures only")
    parser.add_argument("--memory", default="256MB")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", choices=["duckdb", "reference", "imports"])
    parser.add_argument("--staging")
    args = parser.parse_args()
    if args.child:
        result = {"kept": 0.0}  # imports: what every child holds before it clusters
        if args.child == "duckdb":
            result = cluster_child(Path(args.staging), args.memory)
        elif args.child == "reference":
            result = reference_child(Path(args.staging))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps(result | {"rss": peak_rss(), "cpu": usage.ru_utime + usage.ru_stime}))
        return
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    root = Path(args.lake)
    if root.exists() and Lake(str(root.resolve())).version("documents") is not None:
        table = "filtered" if Lake(str(root.resolve())).version("filtered") is not None else "documents"
        texts = Lake(str(root.resolve())).read(table, columns=["text"])["text"].to_pylist()
        print(f"input: {table} of {root} ({len(texts)} texts, mean {np.mean([len(t) for t in texts]):,.0f} chars)")
    else:
        texts = next(synthetic_batches(5_000, 5_000, seed=1)).column("text").to_pylist()
        print(f"input: {len(texts)} synthetic documents (no lake at {root})")
    signature_figures(texts)
    memory_figures(args.sizes, args.memory, args.workers)


if __name__ == "__main__":
    main()
