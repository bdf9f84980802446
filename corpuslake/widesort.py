"""Ordering wide rows (texts) in bounded memory: DuckDB cuts the key ranges, each range is sorted alone.

DuckDB spills narrow sorts well, but a sort whose payload is long texts does not stay in its memory
limit: ordering 68k documents of ~6k characters by id needed ~800 MB, and four times as many failed at
1 GB (bench/publish_scale.py prints the figures). So only the key column is sorted by DuckDB, to find
range bounds that split the rows into buckets of about ``bucket_bytes``; one streaming pass writes each
row into its bucket's file; then each bucket is read, sorted by pyarrow, and appended to the target.
The largest thing held is one bucket, whatever the number of rows.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

STAGED_GROUP_BYTES = 16 << 20
"""A row group's size bound in staged files: DuckDB's Parquet writer buffers one row group, and the
default (122,880 rows) of long texts is most of a 512 MB limit."""


@dataclass(frozen=True)
class WideSort:
    """How wide rows are ordered."""

    bucket_bytes: int = 64 << 20
    """Uncompressed bytes per bucket: one bucket, and its sorted copy, are in memory at a time."""
    flush_bytes: int = 4 << 20
    """Rows buffered per bucket before they are written to the bucket's file."""
    batch_rows: int = 1024
    """Rows read at a time by the distributing pass."""


DEFAULT_WIDE_SORT = WideSort()


def write_unordered(relation: duckdb.DuckDBPyRelation, target: Path, row_group_rows: int = 8192) -> int:
    """Stream ``relation`` into one Parquet file, in whatever order DuckDB produces; return its rows."""
    relation.to_parquet(str(target), row_group_size=row_group_rows, row_group_size_bytes=STAGED_GROUP_BYTES)
    return int(pq.ParquetFile(target).metadata.num_rows)


def sort_file(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    key: str,
    target: Path,
    *,
    row_group_rows: int = 8192,
    config: WideSort = DEFAULT_WIDE_SORT,
) -> int:
    """Copy the Parquet file ``source`` into ``target`` ordered by ``key`` (ties keep no fixed order);
    return the rows. Bucket files go beside ``target`` and are removed."""
    meta = pq.ParquetFile(source).metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    buckets = max(1, min(meta.num_rows, math.ceil(size / config.bucket_bytes)))
    folder = target.parent / f"{target.stem}-buckets"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if buckets == 1:
            parts = [source]
        else:
            bounds = _bounds(con, source, key, buckets)
            parts = _distribute(source, key, bounds, folder, config)
        with pq.ParquetWriter(target, pq.read_schema(source)) as writer:
            for part in parts:
                if part.exists():
                    writer.write_table(pq.read_table(part).sort_by(key), row_group_size=row_group_rows)
                    pa.default_memory_pool().release_unused()  # else each bucket's pages stay with mimalloc
    finally:
        for leftover in folder.glob("*.parquet"):
            leftover.unlink()
        folder.rmdir()
    return int(meta.num_rows)


def _bounds(con: duckdb.DuckDBPyConnection, source: Path, key: str, buckets: int) -> np.ndarray:
    """The smallest key of every bucket but the first: a narrow sort of the key column alone."""
    con.read_parquet(str(source)).project(duckdb.ColumnExpression(key).alias("k")).create_view(
        "sort_keys", replace=True
    )
    found = con.execute(
        "SELECT b, min(k) FROM (SELECT k, ntile($n) OVER (ORDER BY k) AS b FROM sort_keys) GROUP BY b ORDER BY b",
        {"n": buckets},
    ).fetchall()
    lows = [low for _, low in found][1:]
    return np.array(lows, dtype=object if lows and isinstance(lows[0], str) else None)


def _distribute(source: Path, key: str, bounds: np.ndarray, folder: Path, config: WideSort) -> list[Path]:
    """One pass over ``source`` writing every row into its bucket's file, in bucket order."""
    schema = pq.read_schema(source)
    paths = [folder / f"bucket-{b:05d}.parquet" for b in range(len(bounds) + 1)]
    writers: dict[int, pq.ParquetWriter] = {}
    pending: dict[int, list[pa.RecordBatch]] = {}
    sizes: dict[int, int] = {}

    def flush(b: int) -> None:
        if b not in writers:
            writers[b] = pq.ParquetWriter(paths[b], schema)
        writers[b].write_table(pa.Table.from_batches(pending.pop(b), schema))
        sizes[b] = 0

    try:
        # Without a read buffer pyarrow reads ahead through the whole file (1 GB held for a 1 GB file).
        parquet = pq.ParquetFile(source, buffer_size=1 << 20, pre_buffer=False)
        for batch in parquet.iter_batches(batch_size=config.batch_rows, use_threads=False):
            keys = batch.column(key).to_numpy(zero_copy_only=False)
            where = np.searchsorted(bounds, keys, side="right")
            for b in np.unique(where).tolist():
                part = batch.filter(pa.array(where == b))
                pending.setdefault(b, []).append(part)
                sizes[b] = sizes.get(b, 0) + part.nbytes
                if sizes[b] >= config.flush_bytes:
                    flush(b)
        for b in list(pending):
            flush(b)
    finally:
        for writer in writers.values():
            writer.close()
    return paths


def order_relation(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    key: str,
    target: Path,
    *,
    row_group_rows: int = 8192,
    config: WideSort = DEFAULT_WIDE_SORT,
) -> int:
    """``relation``'s rows ordered by ``key`` into ``target``: staged unordered first, then sorted."""
    unordered = target.parent / f"{target.stem}-unordered.parquet"
    try:
        write_unordered(relation, unordered, row_group_rows)
        return sort_file(con, unordered, key, target, row_group_rows=row_group_rows, config=config)
    finally:
        unordered.unlink(missing_ok=True)
