"""A mixture's draw without its text: what is drawn is decided on ids and token counts, and the rows are
fetched afterwards, in position order, by DuckDB.

A source's draw columns (a 64-bit key of each id, its tokens, optionally its quality score) are read a
row group at a time, each file verified against the manifest first (:mod:`corpuslake.verified_source`):
about 16 bytes per document stay in memory, never a text. The drawn rows are numbers (source, row,
epoch, position); DuckDB joins them with the sources' drawn rows, decoded from the row groups that hold
them, and sorts the result by position into one staged Parquet file, spilling past its memory limit. A
drawn order is a shuffle: no source is ever held in memory to serve it.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.verified_source import VerifiedSource
from corpuslake.widesort import order_relation

FETCHED = ("id", "dump", "url", "language", "text", "tokens")


@dataclass(frozen=True)
class DrawColumns:
    """What a source's draw needs, one entry per document in published order."""

    keys: np.ndarray  # uint64: a keyed hash of each id
    tokens: np.ndarray  # int64
    quality: np.ndarray | None  # float64, when the source has quality scores
    domain: pa.ChunkedArray | None = None  # strings, when a recipe draws this source by domain


def id_keys(ids: Sequence[str]) -> np.ndarray:
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little") for i in ids),
        np.uint64,
        len(ids),
    )


def draw_columns(source: VerifiedSource, with_quality: bool, with_domain: bool = False) -> DrawColumns:
    """The draw columns of a published snapshot, read a row group at a time (ids hashed as they come)."""
    columns = ["id", "tokens"] + (["quality_score"] if with_quality else []) + (["domain"] if with_domain else [])
    keys, tokens, quality, domains = [], [], [], []
    for _, batch in source.batches(columns):
        if with_domain:
            domains.append(batch.column("domain"))
        keys.append(id_keys(batch.column("id").to_pylist()))
        tokens.append(batch.column("tokens").to_numpy(zero_copy_only=False).astype(np.int64))
        if with_quality:
            quality.append(batch.column("quality_score").to_numpy(zero_copy_only=False).astype(np.float64))
    return DrawColumns(
        np.concatenate(keys) if keys else np.zeros(0, np.uint64),
        np.concatenate(tokens) if tokens else np.zeros(0, np.int64),
        (np.concatenate(quality) if quality else np.zeros(0)) if with_quality else None,
        pa.chunked_array(domains, pa.string()) if with_domain else None,
    )


def drawn_keys(source: VerifiedSource, rows: np.ndarray, epochs: np.ndarray, uri: str) -> np.ndarray:
    """``id_keys(f"{id}/{epoch}/{uri}")`` of the drawn ``rows`` of a source (with their ``epochs``),
    reading the id column of the row groups that hold them."""
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    keys = np.zeros(len(rows), np.uint64)
    for offset, batch in source.batches(["id"], np.unique(sorted_rows)):
        low, high = np.searchsorted(sorted_rows, [offset, offset + batch.num_rows])
        if high > low:
            picked = order[low:high]
            ids = batch.column("id").take(pa.array(sorted_rows[low:high] - offset)).to_pylist()
            marks = epochs[picked].tolist()
            keys[picked] = id_keys([f"{i}/{e}/{uri}" for i, e in zip(ids, marks, strict=True)])
    return keys


def _source_reader(source: VerifiedSource, index: int, drawn: np.ndarray) -> pa.RecordBatchReader:
    """The fetched columns of the ``drawn`` rows (sorted row numbers) of a source, with its number and
    each row's place, verified, decoding only the row groups that hold drawn rows: a batch keeps only
    its drawn rows before it goes on."""
    available = set(source.schema.names)
    schema = pa.schema(
        [("src", pa.int32()), ("source_row", pa.int64())]
        + [(c, pa.int32() if c == "tokens" else pa.string()) for c in FETCHED]
    )
    wanted = np.unique(drawn)

    def batches() -> Iterator[pa.RecordBatch]:
        for first, batch in source.batches([c for c in FETCHED if c in available], wanted):
            low, high = np.searchsorted(wanted, [first, first + batch.num_rows])
            picked = wanted[low:high] - first
            if not len(picked):
                continue
            batch, n = batch.take(pa.array(picked)), len(picked)
            arrays = [pa.array(np.full(n, index, np.int32)), pa.array(picked + first, pa.int64())]
            for name in FETCHED:
                kind = schema.field(name).type
                present = name in batch.schema.names
                arrays.append(batch.column(name).cast(kind) if present else pa.nulls(n, kind))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def fetch_in_order(
    con: duckdb.DuckDBPyConnection,
    draw: pa.Table,
    sources: Sequence[VerifiedSource],
    target: Path,
    row_group_rows: int = 8192,
) -> int:
    """Write the drawn rows with their columns, ordered by position, into ``target``; return the rows.

    ``draw`` has ``position``, ``phase``, ``source`` (the pin), ``epoch``, ``src`` (index into
    ``sources``) and ``source_row``."""
    drawn = con.from_arrow(draw).set_alias("d")
    fetched = None
    for index, snapshot in enumerate(sources):
        rows = draw.filter(pc.equal(draw["src"], index))["source_row"].to_numpy()
        relation = con.from_arrow(_source_reader(snapshot, index, np.sort(rows)))
        fetched = relation if fetched is None else fetched.union(relation)
    assert fetched is not None
    rows = drawn.join(fetched.set_alias("f"), "d.src = f.src AND d.source_row = f.source_row")
    columns = ["position", "phase", "source", "epoch", *FETCHED]
    projected = rows.project(*[duckdb.ColumnExpression(c) for c in columns])
    order_relation(con, projected, "position", target, row_group_rows=row_group_rows)
    return int(draw.num_rows)
