"""The content hash of a publication: its rows and schema, whatever the files and batches that hold them.

The hash reads column after column: every value of the first column in row order, then of the second,
and so on, each value as one line of JSON. A table in memory is hashed directly; published files are
hashed one column at a time, reading only that column of each file in turn, so memory holds one column
chunk of one file whatever the size of the publication. Both give the same digest for the same rows.
"""

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_SLICE = 256  # values encoded per call: bounds the text held as JSON at once (4 bytes a character in the worst case)


def content_sha256(table: pa.Table) -> str:
    """A hash of the rows and their schema, independent of how the table is chunked."""
    digest = hashlib.sha256()
    for column_field in table.schema:
        _update(digest, column_field, iter(table.column(column_field.name).chunks))
    return digest.hexdigest()


def files_content_sha256(paths: Sequence[str | Path], schema: pa.Schema) -> str:
    """:func:`content_sha256` of the rows of local Parquet ``paths`` read in this order with ``schema``."""
    digest = hashlib.sha256()
    for column_field in schema:
        _update(digest, column_field, _column_chunks(paths, column_field))
    return digest.hexdigest()


def _column_chunks(paths: Sequence[str | Path], column_field: pa.Field) -> Iterator[pa.Array]:
    for path in paths:
        # A read buffer, not a memory map: pyarrow otherwise reads ahead through the whole file.
        parquet = pq.ParquetFile(str(path), buffer_size=1 << 20, pre_buffer=False)
        for batch in parquet.iter_batches(batch_size=_SLICE, columns=[column_field.name], use_threads=False):
            yield batch.column(0).cast(column_field.type)


def _update(digest: "hashlib._Hash", column_field: pa.Field, chunks: Iterator[pa.Array]) -> None:
    digest.update(f"{column_field.name}:{column_field.type}\n".encode())
    flat = not pa.types.is_nested(column_field.type)
    for chunk in chunks:
        for start in range(0, len(chunk), _SLICE):
            values = chunk.slice(start, _SLICE).to_pylist()
            digest.update(_lines(values, flat).encode("utf-8", "surrogatepass"))


def _lines(values: list[object], flat: bool) -> str:
    """Each value as JSON followed by a newline. For scalars one encoder call over the list gives the same
    text as one call per value (the list separator is the newline), several times faster."""
    if not values:
        return ""
    if flat:
        return json.dumps(values, default=str, ensure_ascii=False, separators=("\n", ":"))[1:-1] + "\n"
    return "".join(json.dumps(v, default=str, ensure_ascii=False) + "\n" for v in values)
