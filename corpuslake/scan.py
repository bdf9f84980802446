"""Bounded reads of one dump partition of a table version: previews, a deterministic sample, exact tallies.

Nothing here holds a partition in memory. A preview reads batches until it has its rows and stops; the
sample and the tallies come from a pass over the key column and one streamed pass over every column, so
memory is that of a few batches plus the sample, whatever the partition's size. A partition is named by
the values of the table's partition columns (``{"dump": ...}``, with ``"stage"`` for rejections); only
its files are read.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

Rule = Callable[[pa.RecordBatch], pa.Array]
"""A row-level rule over a batch: True where a row breaks it (False or null where it holds)."""


@dataclass(frozen=True)
class ScanConfig:
    """How checks read a partition: the size of Great Expectations' sample and of the streamed batches."""

    sample_rows: int = 20_000
    """Rows handed to Great Expectations at most: those with the smallest ids. Ids hash the dump and the
    record, so this is a uniform sample that does not depend on how the partition is split into files."""
    sample_bytes: int = 16 * 2**20
    """Bytes of the sample at most (0: no bound), so that rows of long text do not make it large: the
    sample takes ``sample_bytes`` over the partition's mean row size (uncompressed, from the Parquet
    footers) rows when that is fewer than ``sample_rows``. Great Expectations works on a pandas copy of
    the sample, several times its Arrow size, so this bounds a check's memory whatever the text lengths."""
    batch_rows: int = 1_024
    """Rows per streamed batch: with the sample, what bounds a check's memory. Rows of text run to tens of
    kilobytes each, so batches stay small (a batch of 1,024 typical web documents is a few megabytes)."""
    memory_limit: str = "256MB"
    """DuckDB's memory for exact id sets (repeated ids, joins); beyond it, DuckDB spills to a temporary folder."""


DEFAULT_SCAN = ScanConfig()


@dataclass(frozen=True)
class Tally:
    """What one rule found over every row of a partition."""

    unexpected: int
    sample_ids: tuple[str, ...]
    """Ids of the first rows that broke the rule, in scan order."""


@dataclass(frozen=True)
class PartitionScan:
    rows: int
    sample: pa.Table
    tallies: Mapping[str, Tally]


def fragments(dataset: pads.Dataset, partition: Mapping[str, str]) -> list[pads.Fragment]:
    """The files of ``dataset`` in ``partition`` (values of partition columns; empty: every file), in order."""
    where = None
    for column, value in partition.items():
        term = pads.field(column) == value
        where = term if where is None else where & term
    return list(dataset.get_fragments(filter=where) if where is not None else dataset.get_fragments())


def batches(
    dataset: pads.Dataset,
    partition: Mapping[str, str],
    columns: Sequence[str] | None = None,
    *,
    batch_rows: int = ScanConfig.batch_rows,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``partition`` streamed in batches of ``columns`` (every column if None), in file order.

    Each file is decoded page by page with Parquet's own batch reader: Arrow's dataset scanner would
    decode a whole row group before yielding its first batch, and a stage may write one row group per
    file, so that alone would make a preview or a check grow with the partition."""
    names = list(columns) if columns is not None else dataset.schema.names
    schema = pa.schema([dataset.schema.field(c) for c in names])
    for fragment in fragments(dataset, partition):
        constants = pads.get_partition_keys(fragment.partition_expression)
        parquet = pq.ParquetFile(fragment.path, filesystem=fragment.filesystem, buffer_size=1 << 20, pre_buffer=False)
        stored = [c for c in names if c in parquet.schema_arrow.names]
        if not stored:  # only partition columns asked for: the row count is in the metadata
            yield from _constant_batches(parquet.metadata.num_rows, schema, constants, batch_rows)
            continue
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=stored, use_threads=False):
            if batch.num_rows:
                yield _conformed(batch, schema, constants)


def _conformed(batch: pa.RecordBatch, schema: pa.Schema, constants: Mapping[str, Any]) -> pa.RecordBatch:
    """``batch`` with the dataset's columns and types: partition columns from the file's partition values."""
    arrays = []
    for field in schema:
        if field.name in batch.schema.names:
            column = batch.column(field.name)
            arrays.append(column if column.type == field.type else column.cast(field.type))
        else:
            arrays.append(_constant(batch.num_rows, field, constants))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _constant(rows: int, field: pa.Field, constants: Mapping[str, Any]) -> pa.Array:
    """A column the file does not store: its partition value on every row, else nulls."""
    nulls = pa.nulls(rows, field.type)
    return nulls if constants.get(field.name) is None else nulls.fill_null(pa.scalar(constants[field.name], field.type))


def _constant_batches(
    rows: int, schema: pa.Schema, constants: Mapping[str, Any], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    for start in range(0, rows, batch_rows):
        n = min(batch_rows, rows - start)
        yield pa.RecordBatch.from_arrays([_constant(n, f, constants) for f in schema], schema=schema)


def reader(
    dataset: pads.Dataset,
    partition: Mapping[str, str],
    columns: Sequence[str],
    *,
    batch_rows: int = ScanConfig.batch_rows,
) -> pa.RecordBatchReader:
    """:func:`batches` as a record batch reader (what DuckDB consumes as a stream)."""
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    return pa.RecordBatchReader.from_batches(schema, batches(dataset, partition, columns, batch_rows=batch_rows))


def footer(fragment: pads.Fragment) -> pq.FileMetaData:
    """The Parquet footer of one file of a dataset, read afresh and dropped by the caller.

    A fragment's own ``metadata`` and ``count_rows`` keep the parsed footer on the fragment, which the
    dataset holds for as long as it lives: over the 300 files of one dump of a 1M-page crawl's
    ``deduplicated`` table (56 columns) that was 64 MiB held at once, against 13 MiB read file by file
    (bench/SCALING.md)."""
    return pq.read_metadata(fragment.path, filesystem=fragment.filesystem)


def count(dataset: pads.Dataset, partition: Mapping[str, str]) -> int:
    """Rows of ``partition``, from the files' footers alone, one file at a time."""
    return sum(footer(fragment).num_rows for fragment in fragments(dataset, partition))


def head(dataset: pads.Dataset, partition: Mapping[str, str], columns: Sequence[str], rows: int) -> pa.Table:
    """The first ``rows`` rows of the partition: a preview decodes the first pages of the first files, then stops."""
    taken: list[pa.RecordBatch] = []
    have = 0
    if rows > 0:
        for batch in batches(dataset, partition, columns, batch_rows=min(rows, ScanConfig.batch_rows)):
            taken.append(batch.slice(0, rows - have))
            have += taken[-1].num_rows
            if have >= rows:
                break
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    return pa.Table.from_batches(taken, schema).combine_chunks() if taken else schema.empty_table()


def scan_partition(
    dataset: pads.Dataset,
    dump: str,
    rules: Mapping[str, Rule],
    *,
    config: ScanConfig = DEFAULT_SCAN,
    key: str = "id",
    sample_ids: int = 10,
) -> PartitionScan:
    """The partition's row count, how many rows break each rule (with the first offending ids), and the
    sample: the :func:`sample_size` rows with the smallest ``key``, in scan order (when the partition has
    fewer non-null keys than that, its first rows).

    Two passes: the key column alone finds the cut (the largest key of the sample), then one pass over
    every column counts the rules and copies out only the sample's rows. So the sample costs its own size
    once, never candidates that a later batch would displace, nor a sorted copy."""
    partition = {"dump": dump}
    k = sample_size(dataset, partition, config)
    pick = _Pick(*_cut(dataset, partition, key, k, config.batch_rows), k, key)
    unexpected = dict.fromkeys(rules, 0)
    offenders: dict[str, list[str]] = {name: [] for name in rules}
    kept: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches(dataset, partition, batch_rows=config.batch_rows):
        rows += batch.num_rows
        for name, rule in rules.items():
            broken = rule(batch)
            found = int(pc.sum(broken).as_py() or 0)
            if found:
                unexpected[name] += found
                wanted = sample_ids - len(offenders[name])
                if wanted > 0:
                    ids = batch[key].filter(broken).slice(0, wanted)
                    offenders[name].extend(str(i) for i in ids.to_pylist())
        kept.append(pick(batch))
    tallies = {name: Tally(unexpected[name], tuple(offenders[name])) for name in rules}
    sample = pa.Table.from_batches([b for b in kept if b.num_rows], dataset.schema)
    return PartitionScan(rows, sample, tallies)


def sample_size(dataset: pads.Dataset, partition: Mapping[str, str], config: ScanConfig) -> int:
    """Rows of the partition's sample: ``config.sample_rows``, or fewer when rows of the partition's mean
    size (uncompressed bytes over rows, from the files' footers alone) would pass ``config.sample_bytes``."""
    if config.sample_bytes <= 0 or config.sample_rows <= 0:
        return max(config.sample_rows, 0)
    rows = size = 0
    for fragment in fragments(dataset, partition):
        metadata = footer(fragment)
        rows += metadata.num_rows
        size += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if not rows or not size:
        return config.sample_rows
    return max(1, min(config.sample_rows, config.sample_bytes * rows // size))


def _cut(
    dataset: pads.Dataset, partition: Mapping[str, str], key: str, k: int, batch_rows: int
) -> tuple[pa.Scalar | None, int]:
    """The largest key of a sample of ``k`` rows and how many of the sample's keys are below it; (None, 0)
    when the partition has fewer non-null keys than ``k``. Holds at most 1.25 ``k`` keys and a batch."""
    if k <= 0:
        return None, 0
    smallest = pa.chunked_array([], dataset.schema.field(key).type)
    cut = None
    for batch in batches(dataset, partition, [key], batch_rows=max(batch_rows, 8_192)):
        keys = batch[key].drop_null()
        smallest = pa.chunked_array([*smallest.chunks, keys if cut is None else keys.filter(pc.less(keys, cut))])
        if len(smallest) >= k + max(k // 4, 1):
            smallest = _smallest(smallest, k)
            cut = pc.max(smallest)
    if len(smallest) < k:
        return None, 0
    sample = _smallest(smallest, k)
    cut = pc.max(sample)
    return cut, int(pc.sum(pc.less(sample, cut)).as_py() or 0)


def _smallest(keys: pa.ChunkedArray, k: int) -> pa.ChunkedArray:
    """The ``k`` smallest of ``keys``."""
    return keys.take(pc.select_k_unstable(keys, k, [("key", "ascending")]))


class _Pick:
    """Which rows of each batch, in scan order, belong to the sample: every key below the cut, and the
    first rows whose key equals it until the sample is full (a repeated key may straddle the cut)."""

    def __init__(self, cut: pa.Scalar | None, below: int, k: int, key: str) -> None:
        self.cut, self.key = cut, key
        self.left = k if cut is None else k - below  # rows still to take: any row, or rows at the cut

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.cut is None:
            taken = batch.slice(0, max(self.left, 0))
            self.left -= taken.num_rows
            return taken
        keys = batch[self.key]
        at_cut = pc.fill_null(pc.equal(keys, self.cut), False)
        rank = pc.cumulative_sum(pc.cast(at_cut, pa.int64()))
        room = pc.and_(at_cut, pc.less_equal(rank, self.left))
        self.left -= int(pc.sum(room).as_py() or 0)
        return batch.filter(pc.or_(pc.fill_null(pc.less(keys, self.cut), False), room))
