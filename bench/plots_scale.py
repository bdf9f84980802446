"""``corpuslake plots`` on a large synthetic dump: CPU seconds and peak RSS against the dump's size.

Writes a lake holding one dump of ``--documents`` synthetic documents: ``documents`` (URLs over a third as
many registered domains as documents, so the domain counts are large), ``filtered`` (60% kept, every
signal column random), the ``rejections`` of the other 40% (their signals as JSON, as the filter stage
writes them) and ``scored``. Each table is written a batch at a time. Then ``corpuslake plots --dump``
runs in its own process, and its CPU seconds (user + sys) and peak RSS are printed. Figures only.

    python bench/plots_scale.py [--documents 1000000] [--keep DIR]
"""

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import CommitProperties, WriterProperties, write_deltalake
from measure import run_child

from corpuslake.lineage import LINEAGE_KEY, Lineage
from corpuslake.schemas import DOCUMENTS, FILTERED, REJECTIONS, SCORED
from corpuslake.store import Lake

_BATCH = 50_000
_ROW_GROUP = 8_192
DUMP = "CC-MAIN-2026-10"


def _column(field: pa.Field, ids: np.ndarray, rng: np.random.Generator, domains: int) -> pa.Array:
    """Random values of a column's type for the rows ``ids`` (ids and URLs have their own shapes)."""
    n = len(ids)
    if field.name == "id":
        return pa.array([f"{i:032x}" for i in ids])
    if field.name == "dump":
        return pa.array([DUMP] * n)
    if field.name == "url":
        return pa.array([f"https://www.site{i % domains}.com/{i}" for i in ids])
    if pa.types.is_integer(field.type):
        return pa.array(rng.integers(0, 5_000, n), field.type)
    if pa.types.is_floating(field.type):
        return pa.array(rng.random(n), field.type)
    if pa.types.is_list(field.type):
        return pa.array([[] for _ in range(n)], field.type)
    if pa.types.is_timestamp(field.type):
        return pa.nulls(n, field.type)
    return pa.array(["x"] * n, field.type) if not field.nullable else pa.nulls(n, field.type)


def _reader(
    schema: pa.Schema, ids: np.ndarray, make: Callable[[pa.Schema, np.ndarray], pa.RecordBatch]
) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, len(ids), _BATCH):
            yield make(schema, ids[start : start + _BATCH])

    return pa.RecordBatchReader.from_batches(schema, batches())


def build(lake: Lake, documents: int) -> None:
    rng = np.random.default_rng(0)
    domains = max(1, documents // 3)
    everything = np.arange(documents)
    kept, dropped = everything[: documents * 6 // 10], everything[documents * 6 // 10 :]

    def rows(schema: pa.Schema, ids: np.ndarray) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([_column(f, ids, rng, domains) for f in schema], schema=schema)

    def rejections(schema: pa.Schema, ids: np.ndarray) -> pa.RecordBatch:
        signals = rows(FILTERED, ids)
        numeric = [f.name for f in FILTERED if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
        values = {name: signals.column(name).to_pylist() for name in numeric}
        texts = [json.dumps({k: v[i] for k, v in values.items()}) for i in range(len(ids))]
        base = {f.name: _column(f, ids, rng, domains) for f in schema}
        base["stage"] = pa.array(["filtered"] * len(ids))
        base["filter"] = pa.array(["gopher_quality"] * len(ids))
        base["reason"] = pa.array(["short_doc"] * len(ids))
        base["signals"] = pa.array(texts)
        return pa.RecordBatch.from_arrays([base[f.name] for f in schema], schema=schema)

    for table, schema, ids, make, partition in (
        ("documents", DOCUMENTS, everything, rows, {"dump": DUMP}),
        ("filtered", FILTERED, kept, rows, {"dump": DUMP}),
        ("rejections", REJECTIONS, dropped, rejections, {"dump": DUMP, "stage": "filtered"}),
        ("scored", SCORED, kept, rows, {"dump": DUMP}),
    ):
        # Row groups of 8,192 rows, as the stages' writers make them (deltalake's default is a million).
        write_deltalake(
            lake.table_uri(table),
            _reader(schema, ids, make),
            partition_by=list(partition),
            writer_properties=WriterProperties(max_row_group_size=_ROW_GROUP),
            commit_properties=CommitProperties(
                custom_metadata={LINEAGE_KEY: Lineage(table, DUMP, "bench", "bench", {}).to_json()}
            ),
        )


def plot(root: Path, out: Path) -> tuple[float, float, int, str]:
    """Seconds, CPU seconds, peak RSS (KB) and output of ``write_plots`` in its own process."""
    child = run_child([sys.executable, "-c", _PLOT, str(root), DUMP, str(out)], "plots")
    return child.seconds, child.cpu_seconds, child.peak_rss_kb, child.stdout.decode().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--keep", help="write the lake here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch) / "lake"
        started = time.perf_counter()
        build(Lake(str(root)), args.documents)
        print(f"{args.documents:,} documents written in {time.perf_counter() - started:.1f} s")
        seconds, cpu, rss, output = plot(root, Path(scratch) / "plots")
        print(f"  plots ({output}): {seconds:.1f} s, cpu {cpu:.1f} s (user+sys), peak RSS {rss / 1024:.0f} MB")


_PLOT = """
import sys
from corpuslake.plots.report import write_plots
from corpuslake.store import Lake
plots = write_plots(Lake(sys.argv[1]), sys.argv[2], out=sys.argv[3])
print(f"{len(plots.pngs)} PNG files")
"""

if __name__ == "__main__":
    main()
