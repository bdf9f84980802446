"""DuckDB for the global steps of publishing (cuts, winners, sorts, joins) in bounded memory.

DuckDB runs in this process with a memory limit and a temporary folder under the run's staging folder,
so a sort or a join larger than the limit spills to disk instead of growing the process. It reads the
lake's Parquet files by path (its reader is built in; no extension is installed or loaded). A lake on
object storage has no paths DuckDB could open (its HTTP extension cannot be installed offline): its
files are streamed to DuckDB through Arrow's own filesystems instead.

Queries are built with DuckDB's expression API or carry their values as parameters; the only text
spliced into SQL is a staging path made by this process (:func:`literal_path`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from duckdb import ColumnExpression as C
from duckdb import ConstantExpression as K

from corpuslake.names import check_name
from corpuslake.store import Lake


@dataclass(frozen=True)
class SpillConfig:
    """How much memory the publishing engine may use before it spills."""

    memory_limit: str = "512MB"
    """DuckDB's memory limit (sorts, joins and aggregates past it spill to the staging folder)."""
    threads: int = 1
    """DuckDB's threads. Each thread of a sort of wide rows (texts) needs its own working memory: a
    1M-document selection sorted by id ran out of memory with 2 threads and 1 GB, and spilled within
    400 MB with 1 thread (bench/publish_scale.py). The workers, not DuckDB, use the other cores."""


DEFAULT_SPILL = SpillConfig()


def connect(staging: Path, config: SpillConfig = DEFAULT_SPILL) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills into ``staging`` and never loads an extension."""
    temp = staging / "duckdb-spill"
    temp.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        config={
            "memory_limit": config.memory_limit,
            "threads": config.threads,
            "temp_directory": str(temp),
            "preserve_insertion_order": True,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )


def literal_path(path: Path) -> str:
    """A staging path as a SQL string (COPY takes no parameter for its target)."""
    return "'" + str(path).replace("'", "''") + "'"


def dump_relation(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    table: str,
    version: int,
    dump: str,
    rank: int,
    columns: Sequence[str],
    schema: pa.Schema,
) -> duckdb.DuckDBPyRelation:
    """The ``columns`` of one dump partition of ``table`` at ``version``, plus ``dump_rank``: the dump's
    place in the snapshot's dump order. The dump itself is a partition value kept in the Delta log rather
    than in the files: it is added here. ``schema`` is the table version's schema."""
    check_name(dump, "dump")
    stored = [c for c in columns if c != "dump"]
    extra = [K(dump).alias("dump"), K(rank).cast(duckdb.sqltypes.INTEGER).alias("dump_rank")]
    if lake.is_local:
        base = lake.table_uri(table).removeprefix("file://")
        paths = [f"{base}/{f['path']}" for f in lake.files(table, version) if f.get("partition.dump") == dump]
        if not paths:
            empty = con.from_arrow(pa.schema([schema.field(c) for c in stored]).empty_table())
            return empty.project(*[C(c) for c in stored], *extra)
        relation = con.read_parquet(paths, union_by_name=True)
    else:
        relation = con.from_arrow(lake.dataset(table, version)).filter(C("dump") == K(dump))
    present = set(relation.columns)
    projection = [C(c) if c in present else K(None).cast(_sql_type(schema.field(c).type)).alias(c) for c in stored]
    return relation.project(*projection, *extra)


def _sql_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of a column every file predates (columns are added, never renamed)."""
    names = {pa.string(): "VARCHAR", pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.int32(): "INTEGER"}
    return names.get(arrow_type, "BIGINT" if pa.types.is_integer(arrow_type) else "VARCHAR")


def union_all(relations: Sequence[duckdb.DuckDBPyRelation]) -> duckdb.DuckDBPyRelation:
    combined = relations[0]
    for other in relations[1:]:
        combined = combined.union(other)
    return combined


def version_relation(con: duckdb.DuckDBPyConnection, lake: Lake, table: str, version: int) -> duckdb.DuckDBPyRelation:
    """Every row of an unpartitioned table version (a publication): its files by path on a local lake."""
    if lake.is_local:
        base = lake.table_uri(table).removeprefix("file://")
        paths = [f"{base}/{f['path']}" for f in lake.files(table, version)]
        if paths:
            return con.read_parquet(paths)
    return con.from_arrow(lake.dataset(table, version))


def count_rows(relation: duckdb.DuckDBPyRelation) -> int:
    return int(relation.aggregate("count(*)").fetchall()[0][0])
