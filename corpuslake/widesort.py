"""Ordering wide rows (texts) in bounded memory: DuckDB cuts the key ranges, each range is sorted alone.

DuckDB spills narrow sorts well, but a sort whose payload is long texts does not stay in its memory
limit: ordering 68k documents of ~6k characters by id needed ~800 MB, and four times as many failed at
1 GB (bench/publish_scale.py prints the figures). So only the key column is sorted by DuckDB, to find
range bounds that split the rows into buckets of about ``bucket_bytes``; one streaming pass writes each
row into its bucket's file (an Arrow stream: a write is a copy, where a Parquet row group per write
made the pass's cost grow with the number of buckets, so with the selection); then each bucket is read,
sorted by pyarrow, and appended to the target. The largest things held are one bucket and the
distributing pass's write buffers (both bounded by :class:`WideSort`), whatever the number of rows.
Rows can be left out on the way (``exclude``): the cross-dump pass's duplicates are dropped while the
selection is ordered, not in a copy of its own.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

STAGED_GROUP_BYTES = 16 << 20
"""A row group's size bound in staged files: DuckDB's Parquet writer buffers one row group, and the
default (122,880 rows) of long texts is most of a 512 MB limit."""
STAGED_COMPRESSION = "none"
"""Staged files are written once and read once or twice on the same disk, then removed: compressing
them cost more CPU than anything it saved (Snappy: about 3 ms to write and 3-6 ms to read per MB of
text, against under 1 ms uncompressed), at about 1.6 times their size on disk while they exist."""


@dataclass(frozen=True)
class WideSort:
    """How wide rows are ordered."""

    bucket_bytes: int = 32 << 20
    """Uncompressed bytes per bucket: one bucket, and its sorted copy, are in memory at a time (with
    64 MB buckets this was the publishing process's largest phase)."""
    pending_bytes: int = 32 << 20
    """The write buffers of all bucket files together (each at least ``min_buffer_bytes``), so they stay
    bounded however many buckets a large selection needs."""
    min_buffer_bytes: int = 64 << 10
    """A bucket file's smallest write buffer: writes to the file system stay this large."""
    batch_rows: int = 1024
    """Rows read at a time by the distributing pass."""


DEFAULT_WIDE_SORT = WideSort()

_Rows = TypeVar("_Rows", pa.Table, pa.RecordBatch)


def write_unordered(relation: duckdb.DuckDBPyRelation, target: Path, row_group_rows: int = 8192) -> int:
    """Stream ``relation`` into one Parquet file, in whatever order DuckDB produces; return its rows."""
    relation.to_parquet(
        str(target),
        row_group_size=row_group_rows,
        row_group_size_bytes=STAGED_GROUP_BYTES,
        compression="uncompressed",  # DuckDB's name for STAGED_COMPRESSION
    )
    return int(pq.ParquetFile(target).metadata.num_rows)


def sort_file(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    key: str,
    target: Path,
    *,
    row_group_rows: int = 8192,
    config: WideSort = DEFAULT_WIDE_SORT,
    exclude: pa.Array | None = None,
) -> int:
    """Copy the Parquet file ``source`` into ``target`` ordered by ``key`` (ties keep no fixed order),
    leaving out the rows whose key is in ``exclude``; return the rows written. Bucket files go beside
    ``target`` and are removed."""
    meta = pq.ParquetFile(source).metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    buckets = max(1, min(meta.num_rows, math.ceil(size / config.bucket_bytes)))
    folder = target.parent / f"{target.stem}-buckets"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if buckets == 1:
            parts, kept = [source], exclude  # read whole: the rows excluded are left out below
        else:
            bounds = _bounds(con, source, key, buckets)
            parts, kept = _distribute(source, key, bounds, folder, config, exclude), None
        written = 0
        with pq.ParquetWriter(target, pq.read_schema(source), compression=STAGED_COMPRESSION) as writer:
            for part in parts:
                if part.exists():
                    rows = _without(_read_part(part), key, kept).sort_by(key)
                    writer.write_table(rows, row_group_size=row_group_rows)
                    written += rows.num_rows
                    del rows
                    pa.default_memory_pool().release_unused()  # else each bucket's pages stay with mimalloc
    finally:
        for leftover in [*folder.glob("*.parquet"), *folder.glob("*.arrows")]:
            leftover.unlink()
        folder.rmdir()
    return written


def _read_part(part: Path) -> pa.Table:
    """A bucket's rows (an Arrow stream of many small batches, as one chunk) or the unsplit source."""
    if part.suffix == ".arrows":
        with pa.OSFile(str(part)) as handle:
            return pa.ipc.open_stream(handle).read_all().combine_chunks()
    return pq.read_table(part)


def _without(rows: _Rows, key: str, exclude: pa.Array | None) -> _Rows:
    if exclude is None or not len(exclude):
        return rows
    return rows.filter(pc.invert(pc.is_in(rows.column(key), value_set=exclude)))


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


def _distribute(
    source: Path, key: str, bounds: np.ndarray, folder: Path, config: WideSort, exclude: pa.Array | None
) -> list[Path]:
    """One pass over ``source`` writing every row (but those excluded) into its bucket's file, in bucket
    order. A batch is grouped by bucket with one ``take`` (each row copied once) and each bucket's slice
    goes to the bucket's Arrow stream through a write buffer; the buffers of all buckets together are
    ``config.pending_bytes``."""
    schema = pq.read_schema(source)
    paths = [folder / f"bucket-{b:05d}.arrows" for b in range(len(bounds) + 1)]
    buffer_bytes = max(config.min_buffer_bytes, config.pending_bytes // len(paths))
    sinks: dict[int, pa.NativeFile] = {}
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    try:
        # Without a read buffer pyarrow reads ahead through the whole file (1 GB held for a 1 GB file).
        parquet = pq.ParquetFile(source, buffer_size=1 << 20, pre_buffer=False)
        for batch in parquet.iter_batches(batch_size=config.batch_rows, use_threads=False):
            batch = _without(batch, key, exclude)
            where = np.searchsorted(bounds, batch.column(key).to_numpy(zero_copy_only=False), side="right")
            order = np.argsort(where, kind="stable")
            grouped = batch.take(pa.array(order))
            found, starts = np.unique(where[order], return_index=True)
            for b, low, high in zip(found.tolist(), starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
                if b not in writers:
                    sinks[b] = pa.BufferedOutputStream(pa.OSFile(str(paths[b]), "wb"), buffer_bytes)
                    writers[b] = pa.ipc.new_stream(sinks[b], schema)
                writers[b].write_batch(grouped.slice(low, high - low))
    finally:
        for b, writer in writers.items():
            writer.close()
            sinks[b].close()
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
