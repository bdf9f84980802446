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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


def values_digest(table: pa.Table) -> str:
    """A digest of a table's values and schema, whatever its chunks, many times cheaper than
    :func:`content_sha256` (no JSON): for comparing rows written with the same rows read back in one
    process, never stored. Strings hash their lengths and bytes, fixed-width values their bytes, each
    column with its nulls; other types fall back to their JSON lines. Column names are hashed, types
    are not: the same values read back from Parquet may carry other field names inside a list."""
    digest = hashlib.sha256("\n".join(table.column_names).encode())  # types show in the bytes hashed
    for column_field, column in zip(table.schema, table.itercolumns(), strict=True):
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        digest.update(np.asarray(array.is_valid(), np.bool_).tobytes())
        kind = column_field.type
        if pa.types.is_string(kind) or pa.types.is_binary(kind):
            filled = pc.fill_null(array, pa.scalar("" if pa.types.is_string(kind) else b"", kind))
            offsets = np.frombuffer(filled.buffers()[1], np.int32)[filled.offset : filled.offset + len(filled) + 1]
            digest.update(np.diff(offsets).tobytes())
            if len(offsets) and offsets[-1] > offsets[0]:
                digest.update(memoryview(filled.buffers()[2])[int(offsets[0]) : int(offsets[-1])])
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
            digest.update(pc.fill_null(array, pa.scalar(0).cast(kind)).to_numpy(zero_copy_only=False).tobytes())
        else:  # a list's item field may be renamed by a Parquet round trip: its type is not hashed
            for start in range(0, len(array), _SLICE):
                values = array.slice(start, _SLICE).to_pylist()
                digest.update(_lines(values, not pa.types.is_nested(kind)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
