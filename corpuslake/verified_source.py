"""A pinned snapshot read by row group in bounded memory, each file checked against its manifest first.

The client (:class:`corpuslake.client.Snapshot`) maps a whole file, hashes it and decodes it batch by
batch: a file of 32,768 long texts stays resident while it is read, and the next one is mapped ahead.
A mixture reads its sources three times (draw columns, shuffle keys, drawn rows), mostly a few narrow
columns or a few rows. Here each file is checked once per source (its size and BLAKE3 against the
manifest, read through a buffer: never more than one chunk held), then only the columns asked for of
the row groups asked for are decoded, 1,024 rows at a time. The Delta version is compared with the
manifest once, as the client does, so the bytes decoded are the pinned ones.
"""

from collections.abc import Iterator, Sequence

import blake3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.catalog import ManifestFile
from corpuslake.client import Snapshot
from corpuslake.pins import DamagedSnapshotError

_CHUNK = 8 << 20
_BATCH_ROWS = 1024


class VerifiedSource:
    """One pinned snapshot's rows in published order, by row group, verified file by file."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._verified: set[str] = set()
        self._version_checked = False

    @property
    def schema(self) -> pa.Schema:
        return self.snapshot.schema

    def batches(self, columns: Sequence[str], rows: np.ndarray | None = None) -> Iterator[tuple[int, pa.RecordBatch]]:
        """``(first row, batch)`` of every row group in published order, the ``columns`` it has of those
        asked; with ``rows`` (sorted row numbers), only the row groups that hold one of them."""
        if not self._version_checked:
            self.snapshot.check_files()
            self._version_checked = True
        offset = 0
        for file in self.snapshot.entry.manifest:
            first, offset = offset, offset + file.rows
            if rows is not None and not _holds(rows, first, offset):
                continue
            yield from self._file_batches(file, first, columns, rows)

    def _file_batches(
        self, file: ManifestFile, first: int, columns: Sequence[str], rows: np.ndarray | None
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        lake, table = self.snapshot.lake, self.snapshot.entry.table
        try:
            handle = lake.open_data_file(table, file.path)
        except FileNotFoundError as error:
            raise DamagedSnapshotError(self.snapshot.uri, [f"{table}/{file.path} is missing"]) from error
        with handle:
            if file.path not in self._verified:
                self._verify(file, handle)
            handle.seek(0)
            parquet = pq.ParquetFile(handle, buffer_size=1 << 20, pre_buffer=False)
            names = [c for c in columns if c in parquet.schema_arrow.names]
            position = first
            for index in range(parquet.metadata.num_row_groups):
                count = parquet.metadata.row_group(index).num_rows
                if rows is None or _holds(rows, position, position + count):
                    # a row group of long texts is tens of MB decoded: a batch at a time holds one slice
                    for batch in parquet.iter_batches(
                        _BATCH_ROWS, row_groups=[index], columns=names, use_threads=False
                    ):
                        yield position, batch
                        position += batch.num_rows
                    continue
                position += count

    def _verify(self, file: ManifestFile, handle: pa.NativeFile) -> None:
        where = f"{self.snapshot.entry.table}/{file.path}"
        size = handle.size()
        if size != file.size:
            raise DamagedSnapshotError(self.snapshot.uri, [f"{where} has {size} bytes, the manifest says {file.size}"])
        digest = blake3.blake3()
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        if digest.hexdigest() != file.blake3:
            raise DamagedSnapshotError(
                self.snapshot.uri, [f"{where} was altered: its BLAKE3 differs from the manifest"]
            )
        self._verified.add(file.path)


def _holds(rows: np.ndarray, start: int, stop: int) -> bool:
    low, high = np.searchsorted(rows, [start, stop])
    return bool(high > low)
