"""Exact answers about id columns too large for one process's memory: repeated ids, ids in both of two
sets, values missing from a set.

DuckDB answers them, fed with streamed id columns (:func:`corpuslake.scan.reader`). Why DuckDB: an exact
answer needs every id at once somewhere, and a Python set or an Arrow ``value_counts`` grows with the
partition; DuckDB's hash aggregates and joins spill to disk past ``memory_limit``, so memory stays at the
limit plus a few batches however large the partition. Why streams rather than DuckDB reading the Parquet
files by path: the lake may be on S3 or lakeFS, which DuckDB reads only through its httpfs extension (a
download at run time), whereas Arrow's own filesystems already read every lake. So one path serves every
lake; DuckDB is opened with external access, extension installs and extension loads all switched off.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from corpuslake.scan import ScanConfig

# Fixed statements over fixed relation names: the streams are registered under these names, and the only
# parameter (how many ids to show) is bound, never formatted in.
_REPEATED = """
    SELECT id, n, count(*) OVER () AS ids, sum(n) OVER () AS rows
    FROM (SELECT id, count(*) AS n FROM ids WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1)
    ORDER BY id LIMIT ?
"""
_SHARED = """
    SELECT l.id, count(*) OVER () AS rows FROM left_ids l SEMI JOIN right_ids r ON l.id = r.id
    ORDER BY l.id LIMIT ?
"""
_MISSING = """
    SELECT v.id, count(*) OVER () AS ids
    FROM (SELECT DISTINCT id FROM left_ids WHERE id IS NOT NULL) v ANTI JOIN right_ids r ON v.id = r.id
    ORDER BY v.id LIMIT ?
"""


@dataclass(frozen=True)
class IdCount:
    ids: int
    """Distinct ids found."""
    rows: int
    """Rows carrying them (repeats counted)."""
    sample: tuple[str, ...]
    """The smallest few of them."""


@contextmanager
def _connection(memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with tempfile.TemporaryDirectory(prefix="corpuslake-duckdb-") as spill:
        connection = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "temp_directory": spill,
                "threads": 2,
                "preserve_insertion_order": False,  # lets aggregates and joins stream and spill
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        try:
            # After the spill folder is set (this setting forbids changing it): no file, URL or extension
            # is read from here on, and nothing can switch it back.
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
            yield connection
        finally:
            connection.close()


def _query(
    statement: str, streams: dict[str, pa.RecordBatchReader], memory_limit: str, shown: int
) -> list[tuple[Any, ...]]:
    with _connection(memory_limit) as connection:
        for name, stream in streams.items():
            connection.register(name, _as_id_stream(stream))
        return connection.execute(statement, [shown]).fetchall()


def _as_id_stream(stream: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The stream with its one column named ``id``, whatever it was called."""
    if stream.schema.names == ["id"]:
        return stream
    schema = pa.schema([stream.schema.field(0).with_name("id")])
    renamed = (pa.record_batch(batch.columns[:1], schema=schema) for batch in stream)
    return pa.RecordBatchReader.from_batches(schema, renamed)


def repeated_ids(ids: pa.RecordBatchReader, *, memory_limit: str = ScanConfig.memory_limit, shown: int = 10) -> IdCount:
    """Ids (the stream's one column) that occur more than once; nulls are not ids and never repeat."""
    rows = _query(_REPEATED, {"ids": ids}, memory_limit, shown)
    if not rows:
        return IdCount(0, 0, ())
    return IdCount(int(rows[0][2]), int(rows[0][3]), tuple(str(r[0]) for r in rows))


def shared_ids(
    left: pa.RecordBatchReader,
    right: pa.RecordBatchReader,
    *,
    memory_limit: str = ScanConfig.memory_limit,
    shown: int = 10,
) -> IdCount:
    """Rows of ``left`` whose id is also in ``right`` (``ids`` counts them too: a repeat in left counts twice)."""
    return _between(_SHARED, left, right, memory_limit, shown)


def missing_ids(
    values: pa.RecordBatchReader,
    ids: pa.RecordBatchReader,
    *,
    memory_limit: str = ScanConfig.memory_limit,
    shown: int = 10,
) -> IdCount:
    """Distinct non-null ``values`` that are not among ``ids`` (``rows`` is their distinct count too)."""
    return _between(_MISSING, values, ids, memory_limit, shown)


def _between(
    query: str, left: pa.RecordBatchReader, right: pa.RecordBatchReader, memory_limit: str, shown: int
) -> IdCount:
    """A query over two id streams whose rows are (id, total found), the first ``shown`` ids of them."""
    rows = _query(query, {"left_ids": left, "right_ids": right}, memory_limit, shown)
    found = int(rows[0][1]) if rows else 0
    return IdCount(found, found, tuple(str(r[0]) for r in rows))
