"""Token shard writers: the formats trainers read, written document by document as tokens arrive.

``megatron``: Megatron-LM's indexed dataset (megatron-core ``megatron/core/datasets/indexed_dataset.py``,
the files its ``preprocess_data.py`` writes). ``PREFIX.bin`` is every token back to back; ``PREFIX.idx``
is the header ``MMIDIDX\\x00\\x00``, version 1 (uint64), the dtype code (uint8: 8 = uint16, 4 = int32),
the sequence count and the document-index count (uint64 each), then the sequence lengths (int32), the
sequence byte pointers (int64) and the document indices (int64, ``0, 1, ..., n``: one sequence per
document, as preprocess_data writes without sentence splitting).

``datatrove``: datatrove's tokenized files, which nanotron reads (``DatatroveFileDataset``): ``PREFIX.ds``
is every token back to back (uint16, or uint32 past 65,500 ids), ``PREFIX.ds.index`` each document's end
as a uint64 token offset, ``PREFIX.ds.metadata`` the tokenizer name with the token size, and the count.

Memory is bounded whatever the export's size: tokens go straight to the data file, and the Megatron
lengths wait in a scratch file (4 bytes a document) until the index is written at the end.
"""

import struct
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import numpy as np
import numpy.typing as npt

Format = Literal["megatron", "datatrove"]
FORMATS: tuple[Format, ...] = ("megatron", "datatrove")

_MEGATRON_HEADER = b"MMIDIDX\x00\x00"
_MEGATRON_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
_CHUNK = 1 << 20  # index entries handled at once when writing the Megatron index


class ShardWriter(Protocol):
    def add(self, tokens: npt.NDArray[np.integer[Any]], lengths: npt.NDArray[np.int32]) -> None:
        """Append documents: their tokens back to back, and each one's length (none is empty)."""

    def close(self) -> list[str]:
        """Finish the files; return their names, relative to the export folder."""

    def abort(self) -> None:
        """Close the files unfinished (the export failed: its folder is removed)."""


def shard_dtype(fmt: Format, tokens: np.dtype[Any]) -> str:
    """The token type a format's files hold, as ``export.json`` records it."""
    if fmt == "datatrove" and tokens == np.dtype(np.int32):
        return "uint32"  # datatrove reads 4-byte tokens as unsigned; ids are never negative, same bytes
    return str(tokens)


def open_writer(fmt: Format, folder: Path, prefix: str, dtype: np.dtype[Any], tokenizer_name: str) -> ShardWriter:
    if fmt == "megatron":
        return MegatronWriter(folder, prefix, dtype)
    return DatatroveWriter(folder, prefix, dtype, tokenizer_name)


class MegatronWriter:
    def __init__(self, folder: Path, prefix: str, dtype: np.dtype[Any]) -> None:
        self.folder, self.prefix, self.dtype = folder, prefix, dtype
        self._bin: BinaryIO = (folder / f"{prefix}.bin").open("wb")
        self._scratch = folder / f".{prefix}.lengths"
        self._lengths: BinaryIO = self._scratch.open("wb")
        self._count = 0

    def add(self, tokens: npt.NDArray[np.integer[Any]], lengths: npt.NDArray[np.int32]) -> None:
        self._bin.write(tokens.astype(self.dtype, copy=False).tobytes())
        self._lengths.write(lengths.astype("<i4", copy=False).tobytes())
        self._count += len(lengths)

    def abort(self) -> None:
        self._bin.close()
        self._lengths.close()

    def close(self) -> list[str]:
        self.abort()
        itemsize, count = self.dtype.itemsize, self._count
        with (self.folder / f"{self.prefix}.idx").open("wb") as idx, self._scratch.open("rb") as lengths:
            idx.write(_MEGATRON_HEADER)
            idx.write(struct.pack("<Q", 1))
            idx.write(struct.pack("<B", _MEGATRON_CODES[self.dtype]))
            idx.write(struct.pack("<Q", count))
            idx.write(struct.pack("<Q", count + 1))
            for chunk in _chunks(lengths):
                idx.write(chunk.tobytes())
            lengths.seek(0)
            pointer = 0
            for chunk in _chunks(lengths):
                ends = np.cumsum(chunk, dtype=np.int64) * itemsize + pointer
                idx.write(np.concatenate(([pointer], ends[:-1])).astype("<i8").tobytes())
                pointer = int(ends[-1])
            for start in range(0, count + 1, _CHUNK):
                idx.write(np.arange(start, min(start + _CHUNK, count + 1), dtype="<i8").tobytes())
        self._scratch.unlink()
        return [f"{self.prefix}.bin", f"{self.prefix}.idx"]


def _chunks(handle: BinaryIO) -> Any:
    while data := handle.read(_CHUNK * 4):
        yield np.frombuffer(data, dtype="<i4")


class DatatroveWriter:
    def __init__(self, folder: Path, prefix: str, dtype: np.dtype[Any], tokenizer_name: str) -> None:
        self.folder, self.prefix, self.tokenizer_name = folder, prefix, tokenizer_name
        self.dtype = np.dtype("<u2") if dtype.itemsize == 2 else np.dtype("<u4")
        self._data: BinaryIO = (folder / f"{prefix}.ds").open("wb")
        self._index: BinaryIO = (folder / f"{prefix}.ds.index").open("wb")
        self._tokens = 0

    def add(self, tokens: npt.NDArray[np.integer[Any]], lengths: npt.NDArray[np.int32]) -> None:
        self._data.write(tokens.astype(self.dtype, copy=False).tobytes())
        ends = np.cumsum(lengths, dtype=np.uint64) + np.uint64(self._tokens)
        self._index.write(ends.astype("<u8").tobytes())
        self._tokens += int(lengths.sum())

    def abort(self) -> None:
        self._data.close()
        self._index.close()

    def close(self) -> list[str]:
        self.abort()
        metadata = f"{self.tokenizer_name}|{self.dtype.itemsize}\n{self._tokens}\n"
        (self.folder / f"{self.prefix}.ds.metadata").write_text(metadata, encoding="utf-8")
        return [f"{self.prefix}.ds", f"{self.prefix}.ds.index", f"{self.prefix}.ds.metadata"]
