"""Ray tasks against the local process pool on the same cores, and the per-core cost of every stage.

On the sample crawl (both dumps), in temporary lakes that share the usual cache of derived files
(``CORPUSLAKE_CACHE``, else ``~/.cache/corpuslake``: the URL blocklist is not recompiled), prints:

1. Ray against the local pool. ``ray.init(num_cpus=N)`` once, its start-up timed apart; the executors' own
   cost per stage call (one ``run_jobs`` call of trivial jobs, each executor); then, for each of
   ``--rounds`` rounds and each executor (a pool of N spawned processes, ``RayExecutor()``), the
   documents stage (``ingest_crawl_files`` then ``extract_documents``) and then the filter stage
   (``filter_documents``) of both dumps into a fresh lake, the executors' order alternating from round to
   round. Per stage and executor: documents in and out, best and median seconds, docs/s and (documents
   stage) MB of WARC/s; the Ray/pool throughput ratio; the row counts of both executors' tables.
   Both keep their workers between stage calls (the local pool since it is reused across a run's
   stages), so each pays its workers' imports and model loads once, in the first round.
2. The per-core cost of every stage: each stage with ``workers=1`` (jobs in this process) on each dump,
   crawl_files and documents, filtered, content_signals, deduplicated, scored (after training the quality
   model), best of ``--passes`` passes into fresh lakes (the first pass pays one-time loads: the language
   model, the compiled MinHash loops). Seconds per dump (wall, and this process's CPU time over all its
   threads), docs/s per core, MB of WARC per core-second for the first stage, and the same costs as
   core-hours per TB of WARC input, extrapolated linearly from the sample.
3. The Parquet bytes of each table per byte of WARC, on the last pass's lake. (The driver no longer
   reads rows: workers read their own row groups and write the tables' files, the driver commits add
   actions; bench/stage_transport.py prints its CPU per document, and bench/dedup_throughput.py the
   cluster step's memory.)

    python bench/ray_overhead.py [--workers 2] [--rounds 3] [--passes 2]
"""

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import ray

from corpuslake.filters import url as url_filter
from corpuslake.filters.chain import FilterConfig
from corpuslake.parallel import RayExecutor, Workers, run_jobs
from corpuslake.pipeline import (
    build_quality_training_set,
    deduplicate,
    extract_documents,
    filter_documents,
    ingest_crawl_files,
    score_documents,
    tag_content,
    train_quality_model,
)
from corpuslake.policies.run import PolicyConfig
from corpuslake.quality.model import ModelConfig
from corpuslake.quality.training import TrainingSetConfig
from corpuslake.runner import StageReport
from corpuslake.settings import SAMPLE_LANDING, load_settings
from corpuslake.stages.crawl_files import list_dump_files, list_dumps
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake

RUN_ID = "bench"
COMMIT_COPIES = 8
TABLES = ("crawl_files", "documents", "filtered", "rejections")
STAGES = ("crawl_files+documents", "filtered", "content_signals", "deduplicated", "scored")
LAKE_TABLES = ("documents", "rejections", "filtered", "content_signals", "deduplicated", "minhash_index", "scored")


def quiet(_message: str) -> None:
    """Progress messages are not printed."""


@dataclass
class Timing:
    """One stage run: documents in and out, wall seconds, CPU seconds of this process (all its threads)."""

    docs_in: int
    docs_out: int
    seconds: float
    cpu: float = 0.0


def run_documents(lake: Lake, landing: Path, dumps: list[str], workers: Workers) -> Timing:
    """The documents stage of every dump: crawl_files (inventory and scan), then documents."""
    records = documents = 0
    started = time.perf_counter()
    for dump in dumps:
        ingest_crawl_files(lake, landing, dump, RUN_ID, workers, quiet)
        report = extract_documents(lake, dump, RUN_ID, DocumentsConfig(), workers, quiet)
        records += report.counters["response_records"]
        documents += report.rows
    return Timing(records, documents, time.perf_counter() - started)


def run_filter(lake: Lake, dumps: list[str], workers: Workers) -> Timing:
    docs_in = kept = 0
    started = time.perf_counter()
    for dump in dumps:
        report = filter_documents(lake, dump, RUN_ID, FilterConfig(), workers, quiet)
        docs_in += report.counters["documents"]
        kept += report.rows
    return Timing(docs_in, kept, time.perf_counter() - started)


def row_counts(lake: Lake) -> dict[str, int]:
    return {table: lake.read(table, columns=["dump"]).num_rows for table in TABLES}


def trivial(value: int) -> int:
    return value


def call_seconds(workers: Workers, jobs: int) -> float:
    """Wall seconds of one run_jobs call of trivial jobs: the executor's own cost per stage call."""
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        list(run_jobs(trivial, range(jobs), workers))
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def executor_figures(landing: Path, dumps: list[str], warc_bytes: int, cache: str, workers: int, rounds: int) -> None:
    print(
        f"\n== Ray against the local pool: {workers} workers each, {rounds} rounds, a fresh lake per round and executor"
    )
    started = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    print(f"ray.init(num_cpus={workers}): {time.perf_counter() - started:.2f} s (outside the stage timings)")
    executors: dict[str, Workers] = {"pool": workers, "ray": RayExecutor()}
    fixed = {name: call_seconds(executor, 2 * workers) for name, executor in executors.items()}
    print(
        f"fixed cost of one stage call ({2 * workers} trivial jobs, median of 3): pool {fixed['pool']:.2f} s "
        f"(its {workers} processes started by an earlier call), ray {fixed['ray'] * 1000:.0f} ms"
    )
    times: dict[tuple[str, str], list[Timing]] = {}
    counts: dict[str, list[dict[str, int]]] = {name: [] for name in executors}
    with tempfile.TemporaryDirectory(prefix="corpuslake-ray-bench-") as scratch:
        for number in range(rounds):
            order = list(executors) if number % 2 == 0 else list(reversed(executors))
            line = []
            for name in order:
                lake = Lake(str(Path(scratch) / f"round{number}-{name}"), cache=cache)
                documents = run_documents(lake, landing, dumps, executors[name])
                filtered = run_filter(lake, dumps, executors[name])
                times.setdefault((name, "documents"), []).append(documents)
                times.setdefault((name, "filtered"), []).append(filtered)
                counts[name].append(row_counts(lake))
                line.append(f"{name} documents {documents.seconds:6.2f} s, filtered {filtered.seconds:5.2f} s")
            print(f"round {number + 1} ({order[0]} first): " + "; ".join(line))
    ray.shutdown()
    print(
        f"\n{'stage':10} {'executor':8} {'in':>6} {'out':>6} {'best s':>7} {'median s':>8} "
        f"{'docs/s':>7} {'MB WARC/s':>9}   (documents: in = response records, out and docs/s = documents)"
    )
    best_rate: dict[tuple[str, str], float] = {}
    median_rate: dict[tuple[str, str], float] = {}
    for stage in ("documents", "filtered"):
        for name in executors:
            runs = times[(name, stage)]
            best = min(r.seconds for r in runs)
            median = statistics.median(r.seconds for r in runs)
            count = runs[0].docs_out if stage == "documents" else runs[0].docs_in
            best_rate[(name, stage)] = count / best
            median_rate[(name, stage)] = count / median
            mb = f"{warc_bytes / 1e6 / best:9.2f}" if stage == "documents" else f"{'':9}"
            print(
                f"{stage:10} {name:8} {runs[0].docs_in:6} {runs[0].docs_out:6} {best:7.2f} {median:8.2f} "
                f"{count / best:7.0f} {mb}"
            )
    for stage in ("documents", "filtered"):
        print(
            f"ray/pool throughput, {stage:9}: {best_rate[('ray', stage)] / best_rate[('pool', stage)]:.2f} (best), "
            f"{median_rate[('ray', stage)] / median_rate[('pool', stage)]:.2f} (median)"
        )
    every = [c for per_round in counts.values() for c in per_round]
    same = all(c == every[0] for c in every)
    print(f"row counts, every round: pool {counts['pool'][0]}, ray {counts['ray'][0]}: {'same' if same else 'DIFFER'}")
    if not same:
        for name, per_round in counts.items():
            print(f"  {name}: {per_round}")


def timed(call: Callable[[], StageReport]) -> tuple[StageReport, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    report = call()
    return report, time.perf_counter() - wall, time.process_time() - cpu


def one_pass(lake: Lake, landing: Path, dumps: list[str]) -> tuple[float, dict[tuple[str, str], Timing]]:
    """Every stage of every dump with one worker (in this process); return the model training seconds and
    the timing of each (stage, dump)."""
    started = time.perf_counter()
    build_quality_training_set(lake, RUN_ID, TrainingSetConfig())
    train_quality_model(lake, RUN_ID, ModelConfig())
    training = time.perf_counter() - started
    out: dict[tuple[str, str], Timing] = {}
    for dump in dumps:
        _, wall, cpu = timed(partial(ingest_crawl_files, lake, landing, dump, RUN_ID, 1, quiet))
        docs, wall2, cpu2 = timed(partial(extract_documents, lake, dump, RUN_ID, DocumentsConfig(), 1, quiet))
        out[(STAGES[0], dump)] = Timing(docs.counters["response_records"], docs.rows, wall + wall2, cpu + cpu2)
        report, wall, cpu = timed(partial(filter_documents, lake, dump, RUN_ID, FilterConfig(), 1, quiet))
        out[("filtered", dump)] = Timing(report.counters["documents"], report.rows, wall, cpu)
        report, wall, cpu = timed(partial(tag_content, lake, dump, RUN_ID, PolicyConfig(), 1, quiet))
        out[("content_signals", dump)] = Timing(report.rows, report.rows, wall, cpu)
        report, wall, cpu = timed(partial(deduplicate, lake, dump, RUN_ID, DedupConfig(), 1, quiet))
        out[("deduplicated", dump)] = Timing(report.counters["documents"], report.rows, wall, cpu)
        report, wall, cpu = timed(partial(score_documents, lake, dump, RUN_ID, 1, quiet))
        out[("scored", dump)] = Timing(report.rows, report.rows, wall, cpu)
    return training, out


def per_core_figures(lake: Lake, landing: Path, dumps: list[str], warc_bytes: int, passes: int) -> None:
    print(f"\n== Per-core cost: workers=1 (jobs in this process), best of {passes} passes, a fresh lake per pass")
    root = Path(lake.root)
    best: dict[tuple[str, str], Timing] = {}
    trainings = []
    for number in range(passes):
        pass_lake = Lake(str(root.parent / f"{root.name}-pass{number}"), cache=lake.cache)
        training, timings = one_pass(pass_lake, landing, dumps)
        trainings.append(training)
        for key, timing in timings.items():
            if key not in best or timing.seconds < best[key].seconds:
                best[key] = timing
    # the last pass's lake is the one section 3 reads
    (root.parent / f"{root.name}-pass{passes - 1}").rename(root)
    print(f"quality model (training set + fastText training, once per lake, not per dump): {min(trainings):.2f} s")
    dump_bytes = {d: sum(p.stat().st_size for p in list_dump_files(landing, d)) for d in dumps}
    print(
        f"{'stage':22} {'dump':15} {'in':>5} {'out':>5} {'s':>6} {'cpu s':>6} {'docs/s/core':>11} "
        f"{'MB WARC/core-s':>14}   (docs/s per core of the documents in; crawl_files+documents: in = responses)"
    )
    for stage in STAGES:
        for dump in dumps:
            t = best[(stage, dump)]
            rate = (t.docs_out if stage == STAGES[0] else t.docs_in) / t.seconds
            mb = f"{dump_bytes[dump] / 1e6 / t.seconds:14.3f}" if stage == STAGES[0] else ""
            print(f"{stage:22} {dump:15} {t.docs_in:5} {t.docs_out:5} {t.seconds:6.2f} {t.cpu:6.2f} {rate:11.0f} {mb}")
    print(f"\nper TB of WARC input, linear from the sample ({warc_bytes / 1e6:.2f} MB of WARC, both dumps):")
    print(f"{'stage':22} {'docs in / TB':>14} {'core-hours / TB':>15} {'core-s / 1k docs in':>19}")
    for stage in STAGES:
        seconds = sum(best[(stage, d)].seconds for d in dumps)
        docs_in = sum(best[(stage, d)].docs_out if stage == STAGES[0] else best[(stage, d)].docs_in for d in dumps)
        per_tb = 1e12 / warc_bytes
        print(f"{stage:22} {docs_in * per_tb:14,.0f} {seconds * per_tb / 3600:15,.1f} {1000 * seconds / docs_in:19.2f}")
    total = sum(t.seconds for t in best.values())
    print(f"{'all five':22} {'':14} {total * 1e12 / warc_bytes / 3600:15,.1f}")
    responses = sum(best[(STAGES[0], d)].docs_in for d in dumps)
    documents = sum(best[(STAGES[0], d)].docs_out for d in dumps)
    kept = sum(best[("filtered", d)].docs_out for d in dumps)
    unique = sum(best[("deduplicated", d)].docs_out for d in dumps)
    print(
        f"survival: {responses} responses, {documents} documents ({documents / (warc_bytes / 1e6):.0f} per MB of "
        f"WARC, {warc_bytes / documents / 1e3:.1f} KB of WARC each), {kept} kept by the filters "
        f"({kept / documents:.1%}), {unique} after dedup ({unique / kept:.1%} of kept, {unique / documents:.1%} "
        "of documents)"
    )


def driver_figures(lake: Lake, warc_bytes: int) -> None:
    """What the stages left in the lake, per byte of WARC (the driver's own CPU per document, now that
    workers read and write the rows themselves, is printed by bench/stage_transport.py)."""
    sizes = {
        table: sum(p.stat().st_size for p in (Path(lake.root) / table).rglob("*.parquet")) for table in LAKE_TABLES
    }
    print("Parquet bytes per byte of WARC: " + ", ".join(f"{t} {b / warc_bytes:.3f}" for t, b in sizes.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, default=SAMPLE_LANDING)
    parser.add_argument("--workers", type=int, default=2, help="pool processes and Ray CPUs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2, help="passes of the per-core section (best of)")
    args = parser.parse_args()
    landing = args.landing.resolve()
    dumps = list_dumps(landing)
    files = [p for d in dumps for p in list_dump_files(landing, d)]
    warc_bytes = sum(p.stat().st_size for p in files)
    cache = load_settings().cache
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Ray {ray.__version__}, {datetime.date.today().isoformat()}"
    )
    print(f"input: {landing} ({', '.join(dumps)}), {len(files)} files, {warc_bytes / 1e6:.2f} MB of WARC")
    print(f"cache: {cache}")
    url_filter.prepare(FilterConfig().url, Path(cache))  # the blocklist compiled (or found) before any timing
    executor_figures(landing, dumps, warc_bytes, cache, args.workers, args.rounds)
    with tempfile.TemporaryDirectory(prefix="corpuslake-core-bench-") as scratch:
        lake = Lake(str(Path(scratch) / "lake"), cache=cache)
        per_core_figures(lake, landing, dumps, warc_bytes, args.passes)
        driver_figures(lake, warc_bytes)


if __name__ == "__main__":
    main()
