"""Peak memory of ordering wide rows (long texts) by id: DuckDB's ORDER BY against the bucket sort.

Reads the ``id`` and ``text`` columns of the Parquet files under ``--source`` (a stage table of a bench
lake, e.g. ``<lake>/scored``), repeats them ``--times`` times with fresh ids (so the sort has N times the
rows), and orders them into one Parquet file twice, each in a fresh child process whose peak RSS
(``ru_maxrss``) and CPU seconds are printed: DuckDB alone (``ORDER BY id`` into ``COPY``, one thread,
``--memory`` limit) and :func:`corpuslake.widesort.order_relation` (DuckDB sorts the ids, each bucket is
sorted alone). A DuckDB out-of-memory error is printed as such.

    python bench/widesort_memory.py --source /path/to/lake/scored --times 1 4 [--memory 512MB]
"""

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path


def _relation(con: object, files: list[str], times: int) -> object:
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    parts = [con.read_parquet(files, union_by_name=True).project(f"id || '-{k}' AS id, text") for k in range(times)]
    relation = parts[0]
    for part in parts[1:]:
        relation = relation.union(part)
    return relation


def _child(method: str, files: list[str], times: int, memory: str, out: "multiprocessing.Queue[str]") -> None:
    import duckdb

    from corpuslake.widesort import order_relation

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        con = duckdb.connect(config={"memory_limit": memory, "threads": 1, "temp_directory": f"{folder}/spill"})
        relation = _relation(con, files, times)
        target = Path(folder) / "ordered.parquet"
        try:
            if method == "duckdb":
                relation.order("id").to_parquet(str(target), row_group_size=8192)  # type: ignore[attr-defined]
            else:
                order_relation(con, relation, "id", target)  # type: ignore[arg-type]
            status = "ok"
        except duckdb.OutOfMemoryException:
            status = "DuckDB out of memory"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(
        f"{method:>12} x{times}: {status:<22} peak RSS {usage.ru_maxrss >> 10:>6,} MiB  "
        f"CPU {usage.ru_utime + usage.ru_stime:6.1f} s  wall {time.perf_counter() - started:6.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, type=Path, help="a folder of Parquet files with id and text")
    parser.add_argument("--times", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--memory", default="512MB", help="DuckDB's memory limit")
    args = parser.parse_args()
    files = sorted(str(p) for p in args.source.rglob("*.parquet"))
    print(f"input: {len(files)} files under {args.source}; DuckDB limit {args.memory}, 1 thread")
    context = multiprocessing.get_context("spawn")
    for times in args.times:
        for method in ("duckdb", "bucket sort"):
            queue: multiprocessing.Queue[str] = context.Queue()
            child = context.Process(target=_child, args=(method, files, times, args.memory, queue))
            child.start()
            child.join()
            print(queue.get() if not queue.empty() else f"{method:>12} x{times}: exited {child.exitcode}")


if __name__ == "__main__":
    main()
