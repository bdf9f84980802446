"""Rows in their published order, staged as one sorted Parquet file, and the jobs that publish them.

A selection (or a mixture) is sorted by an engine that spills (:mod:`corpuslake.spill`) into one staged
Parquet file. Each published file is then one job: a row range of that staged file. The worker that runs
the job reads only its own range, redacts what is flagged, counts tokens with the recorded SentencePiece
model, writes the final file into the table's folder, reads it back from storage and checks that it
decodes to the rows meant, and returns the file with its digests and counts. Jobs are small picklable
values: no rows travel between processes, and the process that commits sees file names and numbers only.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpuslake.catalog import stream_digests
from corpuslake.content import values_digest
from corpuslake.policies import pii
from corpuslake.store import Lake, WrittenFile
from corpuslake.text_cache import TextCache, record, text_key
from corpuslake.tokens import Tokenizer

REDACT_COLUMN = "_redact"
"""A boolean column of a staged file: the row's text holds personal data to replace before publishing."""


@dataclass(frozen=True)
class OrderedRows:
    """The rows of a publication, in order, in one staged Parquet file (shared by every worker)."""

    path: str
    rows: int
    schema: pa.Schema
    """The published schema (``tokens`` included); staged columns are cast to it."""
    tokenizer: str | None = None
    """A SentencePiece model file: the workers count ``tokens`` with it (None: the staged rows have them)."""
    redact: bool = False
    """Whether the staged file has the :data:`REDACT_COLUMN` flag."""
    by_dump: bool = False
    """Whether the publication's report gets documents and tokens per dump."""
    token_cache: TextCache | None = None
    """Where the workers keep the counts they make (:mod:`corpuslake.text_cache`); staged rows whose
    cached column holds a count are not counted again."""

    def to_table(self) -> pa.Table:
        """The staged rows in the published schema, for small publications whose rows need no tokens
        counted (mixtures, tables staged from memory): tests compare them with what was published."""
        return pq.read_table(self.path).select(self.schema.names).cast(self.schema)


def stage_table(rows: pa.Table, folder: Path) -> OrderedRows:
    """A table already in memory (and already in its order, with its tokens) as staged ordered rows."""
    path = folder / "ordered-in-memory.parquet"
    pq.write_table(rows, path, row_group_size=8192)
    return OrderedRows(str(path), rows.num_rows, rows.schema)


@dataclass(frozen=True)
class FileJob:
    """One published file: rows ``start`` to ``stop`` of the staged file, written as ``name``."""

    source: OrderedRows
    lake: Lake
    table: str
    name: str
    start: int
    stop: int
    row_group_rows: int = 8192
    slice_rows: int = 1024
    """Rows redacted and tokenized at a time: Python holds each text of a slice several times over
    (strings, token ids, JSON for the content hash), so the slice, not the row group, bounds memory."""


@dataclass(frozen=True)
class FinishedFile:
    file: WrittenFile
    sha256: str
    blake3: str
    tokens: int
    documents_by_dump: dict[str, int] = field(default_factory=dict)
    tokens_by_dump: dict[str, int] = field(default_factory=dict)
    redacted: int = 0


def file_jobs(source: OrderedRows, lake: Lake, table: str, rows_per_file: int, prefix: str) -> Iterator[FileJob]:
    """One job per published file; file names sort in row order."""
    for index, start in enumerate(range(0, max(source.rows, 1), rows_per_file)):
        yield FileJob(
            source, lake, table, f"part-{index:06d}-{prefix}.parquet", start, min(start + rows_per_file, source.rows)
        )


def finish_file(job: FileJob) -> FinishedFile:
    """Read the job's row range a slice at a time, redact and count tokens, write the file a row group at
    a time, then read it back from storage: its digests, and every row group against the rows meant.
    Memory holds one row group and one slice of rows, whatever the size of the file."""
    schema = job.source.schema
    writer = job.lake.file_writer(job.table, job.name, schema)
    meant: list[str] = []
    documents: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    redacted = total = 0
    pending: list[pa.Table] = []
    counted = Computed()

    def write_group() -> None:
        group = pa.concat_tables(pending)
        writer.write(group)
        meant.append(values_digest(group))
        pending.clear()

    try:
        for batch in range_batches(job.source.path, job.start, job.stop, job.slice_rows):
            rows, flagged = _redacted(pa.Table.from_batches([batch]), job.source.redact)
            if job.source.tokenizer is not None and "tokens" not in rows.column_names:
                rows = rows.append_column("tokens", _tokens(rows, job.source, counted))
            rows = rows.select(schema.names).cast(schema)
            pending.append(rows)
            redacted += flagged
            total += int(pc.sum(rows["tokens"]).as_py() or 0)
            _count_by_dump(rows, documents, tokens)
            if sum(t.num_rows for t in pending) >= job.row_group_rows:
                write_group()
        if pending:
            write_group()
        written = writer.close()
    except BaseException:
        writer.abort()
        raise
    with job.lake.open_data_file(job.table, written.path) as handle:  # the bytes as storage holds them
        sha256, blake = stream_digests(handle)
        stored = pq.ParquetFile(handle)
        back = [values_digest(stored.read_row_group(i)) for i in range(stored.metadata.num_row_groups)]
    if back != meant:
        raise OSError(f"{job.table}/{written.path} read back differs from the rows written")
    if job.source.token_cache is not None:
        record(job.source.token_cache, job.name.removesuffix(".parquet"), counted.keys, counted.values)
    return FinishedFile(written, sha256, blake, total, dict(documents), dict(tokens), redacted)


@dataclass(frozen=True)
class Computed:
    """Values a worker computed, by text key: what it adds to a text cache."""

    keys: list[bytes] = field(default_factory=list)
    values: list[int] = field(default_factory=list)


def cached_or_computed(
    rows: pa.Table, texts: list[str], cache: TextCache | None, compute: Callable[[list[str]], list[int]], into: Computed
) -> list[int]:
    """Each row's value: the cached one when the staged ``rows`` carry it, else ``compute`` of its text
    (one of ``texts``, redaction applied), kept in ``into`` unless the text was redacted (the cache is
    looked up by the staged text, which a redacted text is not)."""
    if cache is None or cache.column not in rows.column_names:
        return compute(texts)
    known: list[int | None] = rows[cache.column].to_pylist()
    todo = [i for i, k in enumerate(known) if k is None]
    fresh = compute([texts[i] for i in todo]) if todo else []
    flags = rows[REDACT_COLUMN].to_pylist() if REDACT_COLUMN in rows.column_names else [False] * len(known)
    for i, value in zip(todo, fresh, strict=True):
        known[i] = value
        if not flags[i]:
            into.keys.append(text_key(texts[i]))
            into.values.append(value)
    return [int(k) for k in known if k is not None]


def _tokens(rows: pa.Table, source: OrderedRows, counted: Computed) -> pa.Array:
    """Each row's token count, cached or counted with the source's model."""
    assert source.tokenizer is not None
    tokenizer = _tokenizer(source.tokenizer)

    def count(texts: list[str]) -> list[int]:
        return [int(n) for n in tokenizer.count(texts).to_pylist()]

    return pa.array(cached_or_computed(rows, rows["text"].to_pylist(), source.token_cache, count, counted), pa.int32())


def _redacted(rows: pa.Table, redact: bool) -> tuple[pa.Table, int]:
    """The rows with flagged texts' personal data replaced, and how many were flagged."""
    if not redact:
        return rows, 0
    flags = rows[REDACT_COLUMN].to_pylist()
    flagged = sum(1 for f in flags if f)
    if flagged:
        texts = [pii.redact(t) if f else t for t, f in zip(rows["text"].to_pylist(), flags, strict=True)]
        rows = rows.set_column(rows.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    return rows, flagged


def range_batches(path: str, start: int, stop: int, batch_rows: int = 8192) -> Iterator[pa.RecordBatch]:
    """Rows ``start`` to ``stop`` of a local Parquet file, at most ``batch_rows`` at a time, reading only
    the row groups that hold them (through a read buffer: pyarrow otherwise reads ahead the whole file)."""
    parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    groups: list[int] = []
    offset = position = 0
    for index in range(parquet.metadata.num_row_groups):
        rows = parquet.metadata.row_group(index).num_rows
        if offset + rows > start and offset < stop:
            position = position if groups else offset  # the first row of the first group read
            groups.append(index)
        offset += rows
    if not groups:
        return
    for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups, use_threads=False):
        lo, hi = max(start - position, 0), min(stop - position, batch.num_rows)
        if lo < hi:
            yield batch.slice(lo, hi - lo)
        position += batch.num_rows
        if position >= stop:
            return


def _count_by_dump(rows: pa.Table, documents: Counter[str], tokens: Counter[str]) -> None:
    if "dump" not in rows.column_names:
        return
    for dump, count in zip(rows["dump"].to_pylist(), rows["tokens"].to_pylist(), strict=True):
        documents[dump] += 1
        tokens[dump] += count


@cache
def _tokenizer(model: str) -> Tokenizer:
    """One tokenizer per worker process, single-threaded: the workers are the parallelism."""
    return Tokenizer(model, threads=1)
