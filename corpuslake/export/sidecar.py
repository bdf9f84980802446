"""The sidecar of a shard (``PREFIX.docs.parquet``), and the held-out validation split.

The sidecar has one row per token document, in the shard's order: where its tokens are in the split's
token stream (``token_offset``, ``token_count``, special tokens included) and where it came from (pin,
id, dump, url, source, quality). ``corpuslake trace`` reads it to say which documents a training range
consumed.

A document is held out for validation when a keyed hash of its id falls below the fraction: the same id
is held out in every export with the same seed, whatever the pin (a mixture and its sources agree, and a
snapshot's next version keeps its validation documents out of training).
"""

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

DOCS = pa.schema(
    [
        pa.field("document_index", pa.int64(), nullable=False),  # 0..n-1 within the split
        pa.field("token_offset", pa.int64(), nullable=False),  # first token within the split's stream
        pa.field("token_count", pa.int64(), nullable=False),  # tokens written, BOS/EOS included
        pa.field("pin", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string(), nullable=False),  # name@N of the snapshot the row came from
        pa.field("quality", pa.float64()),  # the row's quality score, when the pin has one
    ]
)
_ROW_GROUP = 65_536
DEFAULT_VALIDATION_FRACTION = 0.005
"""Half a percent of documents held out: about 100k tokens of validation per 20M exported."""
DEFAULT_VALIDATION_SEED = "corpuslake-validation-v1"


def held_out(ids: list[str], fraction: float, seed: str) -> npt.NDArray[np.bool_]:
    """Which ids belong to the validation split: BLAKE2b-64 of (seed, id) below ``fraction`` of 2**64."""
    if fraction <= 0:
        return np.zeros(len(ids), np.bool_)
    key = seed.encode()
    digests = b"".join(hashlib.blake2b(i.encode(), digest_size=8, key=key).digest() for i in ids)
    values = np.frombuffer(digests, dtype="<u8")
    threshold = min(int(fraction * 2**64), 2**64 - 1)  # as an integer: a float near 2**64 overflows uint64
    return values < np.uint64(threshold)


class DocsWriter:
    """Writes one split's sidecar a batch at a time (row groups of 65,536 documents)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # No statistics-free defaults or timestamps: the same rows give the same bytes.
        self._writer = pq.ParquetWriter(str(path), DOCS, compression="zstd")
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.documents = 0
        self.tokens = 0

    def add(self, meta: pa.Table, lengths: npt.NDArray[np.int32]) -> None:
        """Rows for documents whose tokens were just written (``meta``: pin, id, dump, url, source, quality)."""
        count = len(lengths)
        offsets = np.cumsum(lengths, dtype=np.int64) - lengths + self.tokens
        columns: dict[str, Any] = {
            "document_index": pa.array(np.arange(self.documents, self.documents + count, dtype=np.int64)),
            "token_offset": pa.array(offsets),
            "token_count": pa.array(lengths.astype(np.int64)),
        }
        columns |= {name: meta.column(name) for name in DOCS.names[3:]}
        self._pending.extend(pa.table(columns, schema=DOCS).to_batches())
        self._pending_rows += count
        self.documents += count
        self.tokens += int(lengths.sum())
        if self._pending_rows >= _ROW_GROUP:
            self._flush()

    def _flush(self, final: bool = False) -> None:
        """Write whole row groups of 65,536 rows (and the rest at the end), so the file's bytes do not
        depend on the batches the documents arrived in."""
        table = pa.Table.from_batches(self._pending, DOCS)
        whole = table.num_rows if final else table.num_rows - table.num_rows % _ROW_GROUP
        if whole:
            self._writer.write_table(table.slice(0, whole), row_group_size=_ROW_GROUP)
        rest = table.slice(whole)
        self._pending, self._pending_rows = rest.combine_chunks().to_batches(), rest.num_rows

    def abort(self) -> None:
        self._writer.close()

    def close(self) -> str:
        self._flush(final=True)
        self._writer.close()
        return self.path.name
