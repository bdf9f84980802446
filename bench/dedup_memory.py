"""The dedup step's driver memory and CPU as the dump grows: the whole stage, on synthetic lakes.

For each ``--sizes`` a lake gets one ``filtered`` partition of that many synthetic documents (the
generator of bench/dedup_throughput.py: random words, 10% exact copies, 15% near copies and chains of
them; row groups of 1,000 rows, as the filter stage writes them). Then a fresh process, the driver,
imports corpuslake and runs :func:`corpuslake.dedup.run.deduplicate_dump` with ``--workers`` pool
workers, as ``corpuslake run`` does. Printed per run:

- the driver's resident set after imports and its peak (VmHWM) in the step;
- the cluster process's peak (the fresh process the driver starts for DuckDB);
- CPU seconds (user + sys) of the driver, and of the whole process tree (pool workers and the cluster
  process included; this process is their subreaper, so workers of a pool the runner replaced count
  too), and the tree's per document in microseconds.

``--in-driver`` runs the cluster step inside the driver instead (the layout before the cluster step got
its own process), for a before/after at the same commit.

    python bench/dedup_memory.py --root /tmp/dm [--sizes 100000 400000 1000000] [--memory 1GB]
"""

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

from corpuslake.schemas import FILTERED
from corpuslake.store import Lake, WrittenFile

DUMP = "CC-BENCH-2026-01"
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_throughput import synthetic_batches  # noqa: E402  (a sibling script, not a package)


def _filler(field: pa.Field, n: int) -> pa.Array:
    """A constant column for a filtered field the dedup step only carries through."""
    if pa.types.is_string(field.type):
        return pa.array(["x"] * n, field.type)
    if pa.types.is_list(field.type):
        return pa.array([[]] * n, field.type)
    if pa.types.is_timestamp(field.type):
        return pa.array([0] * n, pa.int64()).cast(field.type)
    return pa.array([0] * n, field.type)


def build(root: Path, count: int) -> Lake:
    """A lake whose ``filtered`` table has one dump of ``count`` synthetic documents."""
    from corpuslake.lineage import Lineage

    lake = Lake(str(root))
    if lake.version("filtered") is not None:
        return lake
    schema = pa.schema([f for f in FILTERED if f.name != "dump"])
    files: list[WrittenFile] = []
    writer = None
    for seq, batch in enumerate(synthetic_batches(count, 1_000, seed=count)):
        if seq % 50 == 0:
            if writer is not None:
                files.append(writer.close())
            writer = lake.file_writer("filtered", f"dump={DUMP}/part-{seq // 50:05d}.parquet", schema)
        n = batch.num_rows
        texts = batch.column("text")
        given = {"id": batch.column("id"), "text": texts, "text_chars": pa.compute.utf8_length(texts).cast(pa.int64())}
        assert writer is not None
        writer.write(pa.table([given.get(f.name, _filler(f, n)) for f in schema], schema=schema))
    if writer is not None:
        files.append(writer.close())
    lake.commit_files("filtered", files, FILTERED, Lineage("filtered", DUMP, "bench", "bench", {}), {"dump": DUMP})
    return lake


def status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1]) * 1024
    return 0.0


def driver(root: Path, workers: int, memory: str, in_driver: bool) -> dict[str, float]:
    """What the driver does in the step; runs in the measured process."""
    from corpuslake.dedup import run
    from corpuslake.parallel import shutdown_pools
    from corpuslake.stages.deduplicated import DedupConfig

    if in_driver:
        run.cluster_elsewhere = lambda job, _workers: run.cluster_job(job)  # type: ignore[assignment]
    lake = Lake(str(root))
    before = status("VmRSS")
    started = time.perf_counter()
    result = run.deduplicate_dump(lake, DUMP, "bench", DedupConfig(cluster_memory=memory), workers, "bench")
    wall = time.perf_counter() - started
    peak = status("VmHWM")
    shutdown_pools()  # reap the pool workers, so their CPU is counted below
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "documents": result["counters"]["documents"],
        "kept": result["counters"]["kept"],
        "driver_rss_before": before,
        "driver_peak": peak,
        "cluster_peak": result["figures"]["cluster_peak_rss_mib"] * 2**20,
        "driver_cpu": me.ru_utime + me.ru_stime,
        "tree_cpu_reaped": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "wall": wall,
    }


def reap_orphans() -> None:
    """Wait for every descendant left to this process (a subreaper), so its CPU joins RUSAGE_CHILDREN."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def measure(root: Path, workers: int, memory: str, in_driver: bool) -> dict[str, float]:
    """Run the driver in a fresh process; its figures, with the CPU of every process it started."""
    # a pool the runner replaces is stopped without being waited for: its workers, orphaned, would be
    # reaped by init and their CPU lost; as a subreaper this process gets them and counts them
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, __file__, "--driver", str(root), "--workers", str(workers), "--memory", memory]
    done = subprocess.run(command + (["--in-driver"] if in_driver else []), capture_output=True, text=True)
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"driver failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    tree = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return figures | {"tree_cpu": tree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="bench-dedup-memory")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--memory", default="1GB", help="DuckDB's limit in the cluster step (cluster_memory)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--in-driver", action="store_true", help="cluster inside the driver (the old layout)")
    parser.add_argument("--driver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        print(json.dumps(driver(Path(args.driver), args.workers, args.memory, args.in_driver)))
        return
    where = "in the driver" if args.in_driver else "in a fresh process"
    print(f"deduplicated, synthetic dumps, {args.workers} workers, cluster_memory={args.memory}, clustering {where}")
    print(
        f"  {'documents':>10} {'driver before':>13} {'driver peak':>11} {'cluster peak':>12} "
        f"{'driver CPU':>10} {'tree CPU':>8} {'us/doc':>7} {'wall s':>7} {'kept':>9}"
    )
    for size in args.sizes:
        root = Path(args.root) / f"lake-{size}"
        build(root, size)
        f = measure(root, args.workers, args.memory, args.in_driver)
        mib = 2**20
        print(
            f"  {int(f['documents']):>10,} {f['driver_rss_before'] / mib:9,.0f} MiB {f['driver_peak'] / mib:7,.0f} MiB "
            f"{f['cluster_peak'] / mib:8,.0f} MiB {f['driver_cpu']:10.1f} {f['tree_cpu']:8.1f} "
            f"{f['tree_cpu'] / f['documents'] * 1e6:7.1f} {f['wall']:7.1f} {int(f['kept']):>9,}",
            flush=True,
        )


if __name__ == "__main__":
    main()
