"""Reading document files (JSONL, gzip JSONL, Parquet) record by record, naming bad records instead of dying.

A dump folder may hold documents already extracted (books, code, papers, a Wikipedia dump): one record per
JSONL line or Parquet row, with a string ``id``, a string ``text`` and optionally a string ``url``; other
fields are metadata this reader ignores. The format follows the file name (``.jsonl``, ``.jsonl.gz``,
``.parquet``); the first bytes must agree with it or the file is not one (:class:`NotADocumentFileError`).

Memory stays bounded: JSONL is read line by line (one line, i.e. one record, at a time) and Parquet one
batch of a row group at a time through a read buffer, whatever the file size. A record's place is its
line number (1-based, blank lines counted but not records) or its row index (0-based). A gzip file cut
short or corrupt ends in a :class:`~corpuslake.warc.WarcDamage` at the line where reading stopped, as a
damaged WARC file does; so does a Parquet batch that fails to decode.
"""

import gzip
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from corpuslake.warc import WarcDamage

RecordFormat = Literal["jsonl", "jsonl.gz", "parquet"]
_SUFFIXES: tuple[tuple[str, RecordFormat], ...] = (
    (".jsonl.gz", "jsonl.gz"),
    (".jsonl", "jsonl"),
    (".parquet", "parquet"),
)
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
# Rows per Parquet batch: a bound on the texts held at once (a row group is read a batch at a time).
_PARQUET_BATCH_ROWS = 256
_READ_BUFFER = 1 << 20


class NotADocumentFileError(ValueError):
    """A file named as a document file whose bytes are not of that format."""


class SourceRecord(NamedTuple):
    """One record of a document file, as read: the stage decides what a missing field means."""

    offset: int
    """Line number (JSONL, from 1) or row index (Parquet, from 0) of the record in its file."""
    record_id: str | None
    """The record's own ``id``; None when missing, empty or not a string."""
    text: str | None
    """The record's ``text`` as given; None when missing or not a string."""
    url: str | None
    """The record's ``url`` when it is a non-empty string."""
    invalid: str | None = None
    """Why the line is not a JSON object (then the other fields are None)."""


def record_format(name: str) -> RecordFormat | None:
    """The document-file format a file name says, or None for any other file."""
    lowered = name.lower()
    return next((fmt for suffix, fmt in _SUFFIXES if lowered.endswith(suffix)), None)


def check_format(path: Path, fmt: RecordFormat) -> RecordFormat | Literal["empty"]:
    """``fmt`` when the bytes of ``path`` agree with it, ``empty`` for a 0-byte file; raise otherwise."""
    size = path.stat().st_size
    if size == 0:
        return "empty"
    with path.open("rb") as fh:
        head = fh.read(4)
        if fmt == "parquet":
            fh.seek(max(size - 4, 0))
            tail = fh.read(4)
    if fmt == "parquet" and not (head == _PARQUET_MAGIC and tail == _PARQUET_MAGIC):
        raise NotADocumentFileError(f"{path}: named .parquet but not a Parquet file (no PAR1 at both ends)")
    if fmt == "jsonl" and head.startswith(_GZIP_MAGIC):  # else every line would be an invalid_json rejection
        raise NotADocumentFileError(f"{path}: named .jsonl but gzip data (name it .jsonl.gz)")
    if fmt == "jsonl.gz" and not head.startswith(_GZIP_MAGIC):
        raise NotADocumentFileError(f"{path}: named .jsonl.gz but not gzip data (it starts with {head!r})")
    return fmt


def landed_at(location: str) -> datetime:
    """When the file at ``location`` (a local path or an object-store URL) was last written, in UTC to the
    second: the date of a document file's records, which have no capture date of their own. Read from the
    landing zone, not from a local copy, so every run gives the same date."""
    filesystem, path = pafs.FileSystem.from_uri(location)
    mtime = filesystem.get_file_info(path).mtime
    if not isinstance(mtime, datetime):
        raise FileNotFoundError(f"{location}: no modification time (the file is gone?)")
    return mtime.replace(microsecond=0)


def iter_records(path: Path, fmt: RecordFormat) -> Iterator[SourceRecord | WarcDamage]:
    """Yield every record of ``path`` in file order, then a :class:`WarcDamage` if reading stopped early."""
    if fmt == "parquet":
        yield from _parquet_records(path)
    else:
        yield from _jsonl_records(path, gz=fmt == "jsonl.gz")


def _jsonl_records(path: Path, *, gz: bool) -> Iterator[SourceRecord | WarcDamage]:
    number = 0
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():  # blank lines (a trailing newline, a separator) are no records
                    yield _parse_line(number, line)
    except EOFError as exc:  # a gzip stream cut short: the lines before it are whole
        yield WarcDamage(number + 1, "truncated_tail", f"the file ends inside its gzip stream: {exc}")
    except (OSError, zlib.error) as exc:  # BadGzipFile is an OSError
        yield WarcDamage(number + 1, "corrupt_member", f"{type(exc).__name__}: {exc} (the rest is unread)")


def _parse_line(number: int, line: bytes) -> SourceRecord:
    try:
        # orjson refuses invalid UTF-8 and lone surrogates, which no Arrow string column could hold.
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return SourceRecord(number, None, None, None, invalid=str(exc))
    if not isinstance(value, dict):
        return SourceRecord(number, None, None, None, invalid=f"a JSON {type(value).__name__}, not an object")
    return SourceRecord(number, _string(value.get("id")), _text(value.get("text")), _string(value.get("url")))


def _parquet_records(path: Path) -> Iterator[SourceRecord | WarcDamage]:
    row = 0
    try:
        parquet = pq.ParquetFile(path, buffer_size=_READ_BUFFER, pre_buffer=False)
        schema = parquet.schema_arrow
        # A column of another type than string reads as missing for every row: the stage names why.
        columns = [c for c in ("id", "text", "url") if c in schema.names and _is_string(schema.field(c).type)]
        if not columns:  # still walk the rows, so each becomes a named rejection
            columns = schema.names[:1]
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=columns):
            values = {name: batch.column(name).to_pylist() for name in columns}
            for i in range(batch.num_rows):
                yield SourceRecord(
                    row + i,
                    _string(values["id"][i]) if "id" in values else None,
                    _text(values["text"][i]) if "text" in values else None,
                    _string(values["url"][i]) if "url" in values else None,
                )
            row += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        yield WarcDamage(row, "corrupt_member", f"{type(exc).__name__}: {exc} (the rest of the file is unread)")


def _is_string(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
