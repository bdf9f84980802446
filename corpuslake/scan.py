"""Bounded reads of one dump partition of a table version: previews, a deterministic sample, exact tallies.

Nothing here holds a partition in memory. A preview reads batches until it has its rows and stops; the
sample and the tallies come from one streamed pass over the partition's batches, so memory is that of a
few batches plus the sample, whatever the partition's size. Batches are decoded page by page (no
pre-buffering of whole column chunks), so a file written as one large row group is no exception.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

Rule = Callable[[pa.RecordBatch], pa.Array]
"""A row-level rule over a batch: True where a row breaks it (False or null where it holds)."""


@dataclass(frozen=True)
class ScanConfig:
    """How checks read a partition: the size of Great Expectations' sample and of the streamed batches."""

    sample_rows: int = 20_000
    """Rows handed to Great Expectations: those with the smallest ids. Ids hash the dump and the record,
    so this is a uniform sample that does not depend on how the partition is split into files."""
    batch_rows: int = 8_192
    """Rows per streamed batch: with the sample, what bounds a check's memory."""
    memory_limit: str = "512MB"
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


_PAGE_BY_PAGE = pads.ParquetFragmentScanOptions(use_buffered_stream=True, buffer_size=1 << 20, pre_buffer=False)


def batches(
    dataset: pads.Dataset,
    dump: str | None,
    columns: Sequence[str] | None = None,
    *,
    where: pads.Expression | None = None,
    batch_rows: int = ScanConfig.batch_rows,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``dump`` (every dump if None) that match ``where``, streamed in batches, in file order."""
    scanner = dataset.scanner(
        columns=list(columns) if columns is not None else None,
        filter=_partition(dump, where),
        batch_size=batch_rows,
        batch_readahead=2,  # readahead is memory: a check needs throughput far less than it needs a bound
        fragment_readahead=1,
        fragment_scan_options=_PAGE_BY_PAGE,
    )
    for batch in scanner.to_batches():
        if batch.num_rows:
            yield batch


def reader(
    dataset: pads.Dataset,
    dump: str | None,
    columns: Sequence[str],
    *,
    where: pads.Expression | None = None,
    batch_rows: int = ScanConfig.batch_rows,
) -> pa.RecordBatchReader:
    """:func:`batches` as a record batch reader (what DuckDB consumes as a stream)."""
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    return pa.RecordBatchReader.from_batches(
        schema, batches(dataset, dump, columns, where=where, batch_rows=batch_rows)
    )


def count(dataset: pads.Dataset, dump: str | None, where: pads.Expression | None = None) -> int:
    """Rows of ``dump`` matching ``where``; from the files' metadata alone when ``where`` is None."""
    return int(dataset.count_rows(filter=_partition(dump, where), fragment_scan_options=_PAGE_BY_PAGE))


def head(dataset: pads.Dataset, dump: str | None, columns: Sequence[str], rows: int) -> pa.Table:
    """The first ``rows`` rows of the partition: a preview reads batches of the first files, then stops."""
    taken: list[pa.RecordBatch] = []
    have = 0
    for batch in batches(dataset, dump, columns, batch_rows=max(1, min(rows, ScanConfig.batch_rows))):
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
    """One pass over every column of the partition: its row count, how many rows break each rule (with
    the first offending ids), and the ``config.sample_rows`` rows with the smallest ``key``."""
    sample = _SmallestKeys(config.sample_rows, key)
    unexpected = dict.fromkeys(rules, 0)
    offenders: dict[str, list[str]] = {name: [] for name in rules}
    rows = 0
    for batch in batches(dataset, dump, batch_rows=config.batch_rows):
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
        sample.offer(batch)
    tallies = {name: Tally(unexpected[name], tuple(offenders[name])) for name in rules}
    return PartitionScan(rows, sample.table(dataset.schema), tallies)


class _SmallestKeys:
    """The ``k`` rows with the smallest key seen so far (nulls last), in bounded memory: once ``k`` rows
    are held, a batch contributes only rows below the current cut, and the candidates are cut back to
    ``k`` whenever they exceed it by a quarter (so at most 1.25 k rows and one batch are ever held)."""

    def __init__(self, k: int, key: str) -> None:
        self.k, self.key = k, key
        self.held: list[pa.Table] = []
        self.rows = 0
        self.cut: pa.Scalar | None = None

    def offer(self, batch: pa.RecordBatch) -> None:
        if self.k <= 0:
            return
        if self.cut is not None:
            batch = batch.filter(pc.less(batch[self.key], self.cut))  # a null key is never below the cut
        if batch.num_rows:
            self.held.append(pa.Table.from_batches([batch]))
            self.rows += batch.num_rows
        if self.rows >= self.k + max(self.k // 4, 1):
            self._shrink()

    def _shrink(self) -> None:
        held = pa.concat_tables(self.held)
        order = pc.select_k_unstable(held, self.k, sort_keys=[(self.key, "ascending")])
        kept = held.take(order).combine_chunks()
        self.held, self.rows = [kept], kept.num_rows
        last = kept[self.key][kept.num_rows - 1]
        self.cut = last if kept.num_rows == self.k and last.is_valid else None

    def table(self, schema: pa.Schema) -> pa.Table:
        """The sample sorted by key (then by scan order), so the same partition always gives the same frame."""
        if not self.held:
            return schema.empty_table()
        held = pa.concat_tables(self.held)
        order = pc.sort_indices(held, sort_keys=[(self.key, "ascending", "at_end")])
        return held.take(order.slice(0, self.k)).combine_chunks()


def _partition(dump: str | None, where: pads.Expression | None) -> pads.Expression | None:
    own = None if dump is None else pads.field("dump") == dump
    if own is None or where is None:
        return own if where is None else where
    return own & where
