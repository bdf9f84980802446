"""Publishing a snapshot of a million documents: peak memory of the publishing process, and the token
counting throughput of one against two workers.

Input: a synthetic ``scored`` table written with the lake API into a temporary lake, two dumps of
``--sizes`` documents in all. Every text is real prose: two paragraphs of the committed quality examples
(``samples/quality/examples.jsonl.gz``: edited prose and web text) cut and joined, the first 300 and the
last 250 characters of each, one pair per document so that no two texts are the same; 1% of the second
dump re-crawls documents of the first (the same text under a new URL), which the cross-dump pass drops.
Scores are uniform in [0, 1); the definition keeps the top 95% (so >= 1M documents at the default
size), all columns, tokens counted with the SentencePiece model of mistral-common.

For each size, in child processes (so that each figure is its own process's):
  publish   ``publish_snapshot(..., workers=W)`` end to end: selection in DuckDB (512 MB memory limit, one thread,
            spilling to the lake's staging folder), the cross-dump pass, W workers counting tokens and
            writing files, the content hash of the stored files, the commit, the audits, the catalog.
            Prints wall seconds, CPU seconds (user+sys) of the publishing process and of its workers,
            peak RSS of the publishing process (its rusage) and of the largest worker (sampled).
            The publishing process peaks in DuckDB's phases: ``--select-only`` runs just those.
  tokens    the same selection staged once, then the file jobs alone (read a row range, count tokens,
            write and read back the file) over the first ``--throughput-docs`` documents, with 1 worker
            (in the process) and with 2 (a pool, started before the clock): tokens per wall second.

    python bench/publish_scale.py [--sizes 250000 1100000] [--throughput-docs 262144] [--workers 2]
        [--memory-limit 512MB] [--select-only] [--no-throughput]

Figures only: nothing is asserted. The machine's other load shows in wall times (CPU seconds are given).
"""

import argparse
import contextlib
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpuslake.lineage import Lineage  # noqa: E402
from corpuslake.store import FileWriter, Lake, WrittenFile  # noqa: E402

EXAMPLES = ROOT / "samples" / "quality" / "examples.jsonl.gz"
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dump", pa.string()),
        ("url", pa.string()),
        ("warc_record_id", pa.string()),
        ("warc_date", pa.timestamp("us", tz="UTC")),
        ("source_file", pa.string()),
        ("text", pa.string()),
        ("language", pa.string()),
        ("language_score", pa.float32()),
        ("quality_score", pa.float32()),
        ("quality_model", pa.string()),
        ("cluster_size", pa.int32()),
    ]
)
BATCH = 50_000
FILE_ROWS = 32_768
FILE_GROUP_ROWS = 1_000


def paragraphs() -> list[str]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        texts = [str(json.loads(line)["text"]) for line in lines]
    found = [p.strip() for t in texts for p in t.split("\n") if len(p.strip()) > 80]
    heads = {p[:300]: p for p in reversed(found)}  # one paragraph per head and per tail: unique pairs
    tails = {p[-250:]: p for p in heads.values()}
    return sorted(tails.values())


def text(i: int, paras: list[str], chars: int) -> str:
    """Document i's text: paragraphs (i mod P, i div P) cut and joined (unique per i), then, up to
    ``chars`` characters, whole paragraphs picked by i (0: the pair alone)."""
    p = len(paras)
    head = paras[i % p][:300] + " " + paras[(i // p) % p][-250:]
    if len(head) >= chars:
        return head
    parts, size, k = [head], len(head), 1
    while size < chars:
        parts.append(paras[(i * 31 + k * 7) % p])
        size += len(parts[-1]) + 1
        k += 1
    return "\n".join(parts)[:chars]


def batches(
    dump: str, start: int, count: int, paras: list[str], copies: dict[int, int], chars: int = 0
) -> Iterator[pa.RecordBatch]:
    """Documents ``start`` to ``start + count`` (see :func:`text`)."""
    rng = np.random.default_rng(start)
    for first in range(start, start + count, BATCH):
        n = min(BATCH, start + count - first)
        numbers = [copies.get(i, i) for i in range(first, first + n)]  # a copy takes an earlier document's text
        texts = [text(i, paras, chars) for i in numbers]
        ids = [f"{dump}-{i:08d}" for i in range(first, first + n)]
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(ids),
                pa.array([dump] * n),
                pa.array([f"https://example.org/{dump}/{i}" for i in range(first, first + n)]),
                pa.array([f"<urn:uuid:{i}>" for i in ids]),
                pa.array(np.full(n, 1_700_000_000_000_000, np.int64)).cast(pa.timestamp("us", tz="UTC")),
                pa.array([f"{dump}/file-{i // 10_000:04d}.warc.gz" for i in range(first, first + n)]),
                pa.array(texts),
                pa.array(["en"] * n),
                pa.array(np.full(n, 0.9, np.float32)),
                pa.array(rng.random(n, dtype=np.float32)),
                pa.array(["bench"] * n),
                pa.array(np.ones(n, np.int32)),
            ],
            schema=SCHEMA,
        )


def build(lake: Lake, size: int, chars: int = 0) -> None:
    """The synthetic scored table: ``size`` documents in two dumps, texts of at least 550 characters
    (``chars``: that many)."""
    paras = paragraphs()
    half = size // 2
    copies = {half + k * 97: k * 89 for k in range(size // 200)}  # 1% of D2 repeats D1 texts
    stored = pa.schema([f for f in SCHEMA if f.name != "dump"])
    for dump, start, count in (("D1", 0, half), ("D2", half, size - half)):
        # Written as the stages write their tables (files of 32,768 rows, row groups of 1,000): a file of
        # one 56k-row group made DuckDB's reads of it, not publishing, the selection's largest allocation.
        files: list[WrittenFile] = []
        writer: FileWriter | None = None
        for batch in batches(dump, start, count, paras, copies, chars):
            rows = pa.Table.from_batches([batch]).drop_columns(["dump"])
            for offset in range(0, rows.num_rows, FILE_GROUP_ROWS):
                if writer is None:
                    writer = lake.file_writer("scored", f"dump={dump}/part-{len(files):05d}.parquet", stored)
                writer.write(rows.slice(offset, FILE_GROUP_ROWS))
                if writer.rows >= FILE_ROWS:
                    files.append(writer.close())
                    writer = None
        if writer is not None:
            files.append(writer.close())
        lake.commit_files("scored", files, SCHEMA, Lineage("scored", dump, "bench", "bench", {}), {"dump": dump})


def definition() -> Any:
    from corpuslake.snapshots import SnapshotDefinition

    return SnapshotDefinition(name="bench", quality_top_percent=95)


def usage() -> dict[str, float]:
    """CPU seconds of this process and of its worker processes, reaped or still running, and peak RSS."""
    me, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    running = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            running += times.user + times.system
    return {
        "cpu_self": me.ru_utime + me.ru_stime,
        "cpu_workers": reaped.ru_utime + reaped.ru_stime + running,
        "rss_self_mib": me.ru_maxrss / 1024,
        "rss_worker_mib": reaped.ru_maxrss / 1024,
    }


def child_select(root: str, workers: int, memory_limit: str) -> dict[str, Any]:
    """The selection alone (DuckDB's phases, where the publishing process peaks)."""
    from corpuslake.selection import select_snapshot
    from corpuslake.spill import SpillConfig
    from corpuslake.tokens import default_tokenizer

    lake = Lake(root)
    started = time.perf_counter()
    with lake.staging() as folder:
        spill = SpillConfig(memory_limit=memory_limit)
        selection = select_snapshot(lake, definition(), default_tokenizer(), folder, workers=workers, spill=spill)
    return {"wall": time.perf_counter() - started, "documents": selection.rows.rows} | usage()


def child_publish(root: str, workers: int, memory_limit: str) -> dict[str, Any]:
    from corpuslake.datasets import publish_snapshot
    from corpuslake.parallel import shutdown_pools
    from corpuslake.spill import SpillConfig

    lake = Lake(root)
    peak = [0.0]
    stop = threading.Event()
    sampler = threading.Thread(target=sample_workers, args=(peak, stop), daemon=True)
    sampler.start()
    started = time.perf_counter()
    spill = SpillConfig(memory_limit=memory_limit)
    entry = publish_snapshot(lake, definition(), "bench", workers=workers, spill=spill).entry
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    shutdown_pools()  # the workers' usage counts once they are reaped
    dropped = entry.report.get("cross_dump", {})
    return (
        {"wall": wall, "documents": entry.documents, "tokens": entry.tokens, "files": len(entry.manifest)}
        | {"cross_dump_dropped": dropped.get("same_text", 0) + dropped.get("same_url", 0)}
        | usage()
        | {"rss_worker_mib": peak[0]}
    )


def sample_workers(peak: list[float], stop: threading.Event) -> None:
    """The largest RSS of a worker process, sampled every 0.2 s (the rusage of reaped children is no
    measure here: a spawned child's peak includes the parent's pages between fork and exec)."""
    while not stop.wait(0.2):
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], child.memory_info().rss / 2**20)


def warm(model: str) -> int:
    from corpuslake.ordered import _tokenizer

    return len(_tokenizer(model).count(["warm up"]))


def child_tokens(root: str, docs: int) -> dict[str, Any]:
    from corpuslake.ordered import file_jobs, finish_file
    from corpuslake.parallel import run_jobs
    from corpuslake.selection import select_snapshot
    from corpuslake.store import ROWS_PER_FILE
    from corpuslake.tokens import default_tokenizer

    lake = Lake(root)
    tokenizer = default_tokenizer()
    figures: dict[str, Any] = {}
    with lake.staging() as folder:
        selection = select_snapshot(lake, definition(), tokenizer, folder)
        list(run_jobs(warm, [tokenizer.path] * 4, 2))  # the pool starts (and loads the model) off the clock
        warm(tokenizer.path)
        for workers in (1, 2):
            jobs = [
                j for j in file_jobs(selection.rows, lake, f"scratch-{workers}", ROWS_PER_FILE, "t") if j.start < docs
            ]
            before = usage()
            started = time.perf_counter()
            done = list(run_jobs(finish_file, jobs, workers))
            wall = time.perf_counter() - started
            after = usage()
            tokens = sum(d.tokens for d in done)
            cpu = after["cpu_self"] + after["cpu_workers"] - before["cpu_self"] - before["cpu_workers"]
            figures[str(workers)] = {"documents": sum(d.file.rows for d in done), "tokens": tokens, "wall": wall}
            figures[str(workers)] |= {"tokens_per_s": tokens / wall, "cpu": cpu, "load": os.getloadavg()[0]}
    return figures


def run_child(kind: str, root: str, argument: int, memory_limit: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, root, str(argument), memory_limit]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_100_000])
    parser.add_argument("--throughput-docs", type=int, default=262_144)  # 8 files: 4 per worker
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="512MB", help="DuckDB's memory limit (SpillConfig)")
    parser.add_argument("--select-only", action="store_true", help="only the selection's peak RSS per size")
    parser.add_argument("--no-throughput", action="store_true", help="skip the one-against-two workers runs")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, root, argument, limit = args.child
        if kind == "tokens":
            result = child_tokens(root, int(argument))
        else:
            result = (child_publish if kind == "publish" else child_select)(root, int(argument), limit)
        print(json.dumps(result))
        return
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {load:.1f}, Python {platform.python_version()}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="corpuslake-publish-scale-", dir=ROOT.parent) as scratch:
            root = str(Path(scratch) / "lake")
            started = time.perf_counter()
            build(Lake(root), size)
            print(f"\n== {size:,} scored documents (two dumps), built in {time.perf_counter() - started:.0f}s")
            if args.select_only:
                p = run_child("select", root, args.workers, args.memory_limit)
                print(
                    f"selection (DuckDB memory limit {args.memory_limit}): {p['documents']:,} documents staged, "
                    f"{p['wall']:.0f}s wall, CPU {p['cpu_self']:.0f}s, peak RSS {p['rss_self_mib']:,.0f} MiB"
                )
                continue
            p = run_child("publish", root, args.workers, args.memory_limit)
            print(
                f"publish ({args.workers} workers): {p['documents']:,} documents, {p['tokens']:,} tokens, "
                f"{p['files']} files, {p['cross_dump_dropped']:,} cross-dump duplicates dropped, "
                f"{p['wall']:.0f}s wall; "
                f"CPU {p['cpu_self']:.0f}s publisher + {p['cpu_workers']:.0f}s workers; "
                f"peak RSS publisher {p['rss_self_mib']:,.0f} MiB, largest worker {p['rss_worker_mib']:,.0f} MiB"
            )
            if args.no_throughput:
                continue
            t = run_child("tokens", root, args.throughput_docs, args.memory_limit)
            one, two = t["1"], t["2"]
            print(
                f"token counting over {one['documents']:,} documents ({one['tokens']:,} tokens): "
                f"1 worker {one['tokens_per_s']:,.0f} tokens/s ({one['wall']:.1f}s wall, {one['cpu']:.1f}s CPU), "
                f"2 workers {two['tokens_per_s']:,.0f} tokens/s ({two['wall']:.1f}s wall, {two['cpu']:.1f}s CPU): "
                f"{two['tokens_per_s'] / one['tokens_per_s']:.2f}x "
                f"(load average {one['load']:.1f} and {two['load']:.1f}; "
                f"CPU per token {one['cpu'] / one['tokens'] * 1e6:.2f} and {two['cpu'] / two['tokens'] * 1e6:.2f} us)"
            )


if __name__ == "__main__":
    main()
