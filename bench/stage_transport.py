"""What crosses between processes when a stage runs, and what the driver spends per document.

On a landing zone (the sample crawl by default, or a bench crawl from ``bench/build_scale_crawl.py``),
into fresh lakes that share the usual cache of derived files (``CORPUSLAKE_CACHE``, else
``~/.cache/corpuslake``: the URL blocklist is compiled once, not in every lake), prints:

1. Bytes moved per batch of the filtered stage: each job as it is pickled to a worker (a reference to one
   row group of the documents table) and its result as pickled back (file names and counts), against the
   Arrow size of the rows the job reads. For comparison, what the earlier transport shipped: a scanner
   batch of the same rows pickled as it comes (a slice that drags its row group's buffers along) and as a
   compact copy.
2. The driver's own CPU seconds (this process: planning, progress, commits) per document for the
   documents and filtered stages, and the workers' CPU (the other processes of the tree), with the local
   pool and, with ``--ray``, on a two-node Ray cluster started here (``ray.cluster_utils.Cluster``, a head
   and a second node with one CPU each); the tables of both executors are compared row for row. The
   driver's CPU is split into its main thread (planning, submitting, waiting, commits) and its other
   threads (the pool's feeder threads; Ray's core worker threads, which wake on timers whether or not a
   task runs, so their share follows the stage's wall time). Each executor first runs a few trivial jobs,
   outside the stage timings and printed apart: the pool starts its processes, Ray its workers and the
   driver's serialization context (whose first use imports pydantic, about 0.4 CPU s: a one-time cost
   per process, which a run under Dagster has already paid).

Ray starts its worker processes at niceness 15, the pool's are not niced: on a machine shared with other
work that alone stretches the Ray stages' wall time (and with it the driver's timer wake-ups).
``--ray-niceness`` (default 0) sets the cluster's ``worker_niceness`` so both executors' workers run at
the same priority; ``--ray-niceness 15`` is Ray's own default.

    python bench/stage_transport.py [--landing samples/crawl] [--workers 2] [--ray] [--ray-niceness 0]
"""

import argparse
import os
import pickle
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow as pa

from corpuslake import landing as landing_zone
from corpuslake.filters import url as url_filter
from corpuslake.filters.chain import FilterConfig
from corpuslake.parallel import RayExecutor, Workers, run_jobs, shutdown_pools
from corpuslake.pipeline import extract_documents, filter_documents, ingest_crawl_files
from corpuslake.runner import Job, partition_output, run_job
from corpuslake.schemas import FILTERED, REJECTIONS
from corpuslake.stages import filtered as filter_stage
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake

ROOT = Path(__file__).resolve().parent.parent


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu() -> dict[tuple[str, int], float]:
    """CPU seconds of each thread of this process, by name and id (the kernel's scheduler statistics)."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            out[(name, int(task.name))] = int((task / "schedstat").read_text().split()[0]) / 1e9
        except OSError:  # a thread that ended meanwhile
            continue
    return out


def by_thread(before: dict[tuple[str, int], float]) -> dict[str, float]:
    """CPU seconds per thread name since ``before``; the main thread is named ``main``."""
    out: dict[str, float] = {}
    for (name, tid), seconds in thread_cpu().items():
        key = "main" if tid == os.getpid() else name
        out[key] = out.get(key, 0.0) + seconds - before.get((name, tid), 0.0)
    return out


def live_children_cpu() -> float:
    """CPU seconds of this process's descendants that are alive now (pool workers, Ray's processes)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def transport_figures(lake: Lake, dump: str) -> None:
    version = lake.partition_version("documents", dump)
    groups = lake.row_groups("documents", version, dump)
    settings = filter_stage.FilterSettings(FilterConfig(), str(lake.cache_dir()))
    outputs = (
        partition_output("rejections", "rejections", REJECTIONS, dump, filter_stage.STAGE),
        partition_output("kept", "filtered", FILTERED, dump),
    )
    ratios, sliced, compacted = [], [], []
    for seq, group in enumerate(groups):
        rows = pa.concat_tables(list(group.batches(None, 1_000)))
        job = Job(seq, group, filter_stage.filter_batch, settings, outputs, "bench", lake, None, 1_000, 1_000)
        result = run_job(job)  # its files stay in the scratch lake, added by no commit
        moved = len(pickle.dumps(job)) + len(pickle.dumps(result))
        ratios.append(moved / rows.nbytes)
    scanner = lake.dataset("documents", version).scanner(batch_size=1_000)
    for batch in scanner.to_batches():
        if batch.num_rows:
            table = pa.Table.from_batches([batch])
            sliced.append(len(pickle.dumps(table)) / table.nbytes)
            copy = table.take(pa.array(range(table.num_rows)))
            compacted.append(len(pickle.dumps(copy)) / copy.nbytes)
    print(
        f"  row groups (jobs): {len(groups)}, rows per group: median {statistics.median(g.rows for g in groups):,.0f}"
    )
    print(
        f"  bytes moved per job / Arrow bytes of its rows: median {statistics.median(ratios):.4f}, "
        f"max {max(ratios):.4f}"
    )
    print(
        f"  earlier transport, pickled scanner batch / its Arrow bytes: median {statistics.median(sliced):.1f}x, "
        f"max {max(sliced):.1f}x; as a compact copy: max {max(compacted):.3f}x"
    )


def trivial(value: int) -> int:
    return value


def warm_up(workers: Workers, label: str) -> None:
    """Start the executor's workers with trivial jobs, so that the stage timings hold no one-time cost."""
    own, started = own_cpu(), time.perf_counter()
    list(run_jobs(trivial, range(8), workers))
    driver, seconds = own_cpu() - own, time.perf_counter() - started
    print(f"  {label:>10} start-up (8 trivial jobs): driver {driver:.2f} CPU s, {seconds:.1f} s wall")


def stages(lake: Lake, landing: Path, dumps: list[str], workers: Workers, label: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    docs = 0
    for step in ("documents", "filtered"):
        own, threads, others, started = own_cpu(), thread_cpu(), live_children_cpu(), time.perf_counter()
        for dump in dumps:
            if step == "documents":
                ingest_crawl_files(lake, landing, dump, "bench", workers, progress=lambda _: None)
                docs += extract_documents(lake, dump, "bench", DocumentsConfig(), workers, lambda _: None).rows
            else:
                filter_documents(lake, dump, "bench", FilterConfig(), workers, lambda _: None)
        figures[f"{step}.driver_cpu"] = own_cpu() - own
        for name, seconds in by_thread(threads).items():
            figures[f"{step}.thread.{name}"] = seconds
        figures[f"{step}.workers_cpu"] = live_children_cpu() - others
        figures[f"{step}.seconds"] = time.perf_counter() - started
    figures["documents"] = docs
    for step in ("documents", "filtered"):
        driver, main_thread, wall = (
            figures[f"{step}.driver_cpu"],
            figures[f"{step}.thread.main"],
            figures[f"{step}.seconds"],
        )
        print(
            f"  {label:>10} {step:>9}: driver {driver:7.2f} CPU s ({1e6 * driver / docs:7.1f} µs per document: "
            f"main thread {1e6 * main_thread / docs:5.1f}, other threads {1e6 * (driver - main_thread) / docs:5.1f}), "
            f"workers {figures[f'{step}.workers_cpu']:7.2f} CPU s, {wall:6.1f} s wall"
        )
        prefix = f"{step}.thread."
        busiest = sorted(
            ((k[len(prefix) :], v) for k, v in figures.items() if k.startswith(prefix)), key=lambda kv: -kv[1]
        )
        print(
            "    other threads, ms per wall second: "
            + ", ".join(f"{n} {1e3 * v / wall:.2f}" for n, v in busiest[:7] if n != "main")
        )
    return figures


def canonical(lake: Lake, table: str) -> pa.Table:
    return lake.read(table).sort_by([("dump", "ascending"), ("id", "ascending")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", default=str(ROOT / "samples" / "crawl"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray", action="store_true", help="also run on a two-node Ray cluster started here")
    parser.add_argument("--ray-niceness", type=int, default=0, help="the cluster's worker_niceness (Ray's own: 15)")
    args = parser.parse_args()
    landing = Path(args.landing)
    dumps = landing_zone.list_dumps(str(landing))
    size = sum(f.stat().st_size for d in dumps for f in (landing / d).rglob("*.warc*"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"input: {landing} ({len(dumps)} dumps, {size / 1e6:,.1f} MB of WARC)")
    cache = os.environ.get("CORPUSLAKE_CACHE") or str(Path.home() / ".cache" / "corpuslake")
    with tempfile.TemporaryDirectory() as scratch:
        pool_lake = Lake(str(Path(scratch) / "pool"), cache=cache)
        url_filter.prepare(FilterConfig().url, Path(cache))  # a one-time compile, not a per-document cost
        print("driver and workers, documents + filtered stages:")
        warm_up(args.workers, "local pool")
        local = stages(pool_lake, landing, dumps, args.workers, "local pool")
        shutdown_pools()
        print("bytes between processes (filtered stage, first dump):")
        transport_figures(pool_lake, dumps[0])
        if args.ray:
            import ray
            from ray.cluster_utils import Cluster

            head = {"num_cpus": 1, "include_dashboard": False, "_system_config": {"worker_niceness": args.ray_niceness}}
            cluster = Cluster(initialize_head=True, head_node_args=head)
            try:
                cluster.add_node(num_cpus=1)
                executor = RayExecutor(address=cluster.address)
                executor.connect()
                warm_up(executor, "ray 2 nodes")
                ray_lake = Lake(str(Path(scratch) / "ray"), cache=cache)
                remote = stages(ray_lake, landing, dumps, executor, "ray 2 nodes")
                for table in ("documents", "filtered", "rejections"):
                    same = canonical(ray_lake, table).equals(canonical(pool_lake, table))
                    print(f"  {table}: Ray and the local pool {'identical' if same else 'DIFFER'}")
                for step in ("documents", "filtered"):
                    ratio = remote[f"{step}.driver_cpu"] / max(local[f"{step}.driver_cpu"], 1e-9)
                    print(f"  driver CPU per document, {step}: Ray / local pool = {ratio:.2f}")
            finally:
                ray.shutdown()
                cluster.shutdown()  # type: ignore[no-untyped-call]  # ray.cluster_utils carries no annotations


if __name__ == "__main__":
    main()
