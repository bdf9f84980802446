"""The filtered step as the run runs it: CPU per document, where the CPU goes, and whether outputs change.

Builds (once, with ``build``) a lake holding the documents table of a landing zone (the S bench crawl by
default) through the project's own ingest, then:

    stage     runs ``pipeline.filter_documents`` (``runner.run_stage`` with pool workers) into a copy of
              that lake for each dump and prints the CPU seconds of the whole process tree (driver and
              workers) per document; with ``--save NAME`` it writes the kept and rejected rows, sorted
              by id, to ``<work>/NAME`` for ``compare``;
    profile   runs the stage function (``stages.filtered.filter_batch``) in this process over every row
              group, batches of 1,000 as the runner cuts them, under cProfile, and prints the top entries
              by cumulative and by own time;
    compare   checks that two saved outputs are equal row for row (every column, every signal).

    python bench/filtered_step.py build [--landing /work/bench-data/S/landing] [--work /tmp/filtered_step]
    python bench/filtered_step.py stage [--workers 2] [--save before]
    python bench/filtered_step.py profile [--limit 10000] [--plain]
    python bench/filtered_step.py compare before after
"""

import argparse
import cProfile
import io
import os
import pstats
import resource
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from stage_transport import live_children_cpu

from corpuslake.filters.chain import FilterConfig
from corpuslake.filters.text import clear_caches

DEFAULT_LANDING = Path("/work/bench-data/S/landing")
DEFAULT_WORK = Path("/tmp/filtered_step")


def tree_cpu() -> float:
    """CPU seconds of this process and its descendants, alive or reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    gone = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + gone.ru_utime + gone.ru_stime + live_children_cpu()


def build(landing: Path, work: Path, workers: int) -> None:
    from corpuslake.pipeline import extract_documents, ingest_crawl_files
    from corpuslake.stages.crawl_files import list_dumps
    from corpuslake.stages.documents import DocumentsConfig
    from corpuslake.store import Lake

    lake = Lake(str(work / "base"), cache=str(work / "cache"))
    for dump in list_dumps(str(landing)):
        ingest_crawl_files(lake, str(landing), dump, "bench", workers, lambda _: None)
        report = extract_documents(lake, dump, "bench", DocumentsConfig(), workers, lambda _: None)
        print(f"{dump}: {report.rows:,} documents")


def dumps(work: Path) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in (work / "base" / "documents").glob("dump=*"))


def stage(work: Path, workers: int, save: str | None) -> None:
    from corpuslake.parallel import shutdown_pools
    from corpuslake.pipeline import filter_documents
    from corpuslake.store import Lake

    target = work / "run"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / "base", target)
    lake = Lake(str(target), cache=str(work / "cache"))
    docs = 0
    driver = resource.getrusage(resource.RUSAGE_SELF)
    start, wall = tree_cpu(), time.perf_counter()
    for dump in dumps(work):
        report = filter_documents(lake, dump, "bench", FilterConfig(), workers, lambda _: None)
        docs += int(report.counters.get("documents", 0))
    shutdown_pools()
    cpu, wall = tree_cpu() - start, time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    own = after.ru_utime + after.ru_stime - driver.ru_utime - driver.ru_stime
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"filtered step, {workers} workers: {docs:,} documents, {cpu:.1f} CPU s ({wall:.1f} s wall), "
        f"{1000 * cpu / docs:.3f} CPU ms per document, {docs / cpu:,.0f} documents per CPU-second, "
        f"largest worker peak RSS {peak:.0f} MiB; of the CPU, the driver process {own:.1f} s "
        f"({1000 * own / docs:.3f} ms per document), the workers {cpu - own:.1f} s"
    )
    if save:
        out = work / save
        out.mkdir(parents=True, exist_ok=True)
        for table in ("filtered", "rejections"):
            rows = lake.read(table).drop_columns([c for c in ("run_id",) if c in lake.read(table).column_names])
            pq.write_table(rows.sort_by("id"), out / f"{table}.parquet")
        print(f"outputs saved to {out}")


def profile(work: Path, limit: int | None, plain: bool) -> None:
    from corpuslake.runner import Sink
    from corpuslake.stages.filtered import FilterSettings, filter_batch
    from corpuslake.store import Lake

    lake = Lake(str(work / "base"), cache=str(work / "cache"))
    settings = FilterSettings(FilterConfig(), str(work / "cache"))
    batches: list[pa.Table] = []
    for dump in dumps(work):
        for group in lake.row_groups("documents", lake.partition_version("documents", dump), dump):
            batches.extend(group.batches(None, 1_000))
    if limit:
        batches = batches[: max(1, limit // 1_000)]
    docs = sum(b.num_rows for b in batches)
    outputs = work / "profile-out"
    shutil.rmtree(outputs, ignore_errors=True)
    from corpuslake.runner import partition_output
    from corpuslake.schemas import FILTERED, REJECTIONS

    sink = Sink(
        Lake(str(outputs)),
        (
            partition_output("rejections", "rejections", REJECTIONS, "x", "filtered"),
            partition_output("kept", "filtered", FILTERED, "x"),
        ),
        "profile",
        1_000,
    )
    filter_batch(batches[0].slice(0, 10), settings, sink)  # load the chain's lists outside the measure
    clear_caches()
    profiler = cProfile.Profile()
    start = time.process_time()
    if not plain:
        profiler.enable()
    for batch in batches:
        filter_batch(batch, settings, sink)
    sink.close()
    profiler.disable()
    cpu = time.process_time() - start
    how = "without a profiler" if plain else "under cProfile"
    print(f"stage function: {docs:,} documents, {cpu:.1f} CPU s {how}, {1000 * cpu / docs:.3f} ms per document")
    if plain:
        return
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(35)
        print(text.getvalue())


def compare(work: Path, before: str, after: str) -> None:
    same = True
    for table in ("filtered", "rejections"):
        a = pq.read_table(work / before / f"{table}.parquet")
        b = pq.read_table(work / after / f"{table}.parquet")
        skip = {"run_id", "version", "lineage"} & set(a.column_names)
        columns = [c for c in a.column_names if c not in skip]
        if a.num_rows != b.num_rows or a.column_names != b.column_names:
            print(f"{table}: rows {a.num_rows} vs {b.num_rows}, columns differ: {a.column_names != b.column_names}")
            same = False
            continue
        for column in columns:
            x, y = a.column(column), b.column(column)
            if not x.equals(y):
                diff = pc.sum(pc.cast(pc.invert(pc.fill_null(pc.equal(x, y), False)), pa.int64())).as_py()
                print(f"{table}.{column}: {diff} rows differ")
                same = False
        print(f"{table}: {a.num_rows:,} rows compared")
    print("outputs identical" if same else "OUTPUTS DIFFER")
    if not same:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["build", "stage", "profile", "compare"])
    parser.add_argument("names", nargs="*", help="compare: two saved output names")
    parser.add_argument("--landing", type=Path, default=DEFAULT_LANDING)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--save", help="stage: keep the outputs under this name")
    parser.add_argument("--limit", type=int, help="profile: only the first N documents")
    parser.add_argument("--plain", action="store_true", help="profile: time the stage function without cProfile")
    args = parser.parse_args()
    if args.mode == "build":
        build(args.landing, args.work, args.workers)
    elif args.mode == "stage":
        stage(args.work, args.workers, args.save)
    elif args.mode == "profile":
        profile(args.work, args.limit, args.plain)
    else:
        compare(args.work, *args.names)


if __name__ == "__main__":
    main()
