"""Which documents a training range consumed: an export's token range traced through its sidecar.

An export's split is one token stream; its sidecar (``PREFIX.docs.parquet``, :mod:`corpuslake.export.sidecar`)
has one row per document in the stream's order with the document's ``token_offset`` and ``token_count``.
The documents a range ``[begin, end)`` of tokens touches are those with ``offset < end`` and
``offset + count > begin``: found with a binary search over the offsets of each row group of the sidecar
that can hold them (row-group statistics skip the others), so memory holds one row group whatever the
export's size.

A range of samples is a range of tokens under Megatron's packing without shuffling (GPTDataset, one
epoch, ``add_extra_token_to_sequence``): documents back to back in the shard's order, sample ``i`` reads
the ``seq_length + 1`` tokens from ``i * seq_length`` (its last token is the last label, and the next
sample's first input), so samples ``[a, b)`` read the tokens ``[a * L, b * L + 1)``, and the split holds
``(tokens - 1) // L`` samples.

Each document also gets a quality bucket: the decile of its ``quality`` among the split's scored
documents, ``1 + floor(10 * share of scored documents with a lower score)`` (1: the lowest tenth, 10: the
highest), or ``none`` without a score. The shares come from a 65,536-bin histogram of the split's scores
between their minimum and maximum (scores in one bin count as equal): two passes over one column.
"""

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.errors import InputError
from corpuslake.export.manifest import file_sha256, read_manifest

Split = Literal["train", "validation"]
GroupBy = Literal["dump", "source", "quality"]
GROUPS: tuple[GroupBy, ...] = ("dump", "source", "quality")
_BINS = 65_536
NO_SCORE = "none"


class TraceError(InputError):
    """A range that is malformed or outside the export, or an export without the sidecar it needs."""


def parse_range(text: str, unit: str = "tokens") -> tuple[int, int]:
    """``A:B`` as the half-open range ``[A, B)`` of whole numbers with ``0 <= A < B``."""
    begin, sep, end = text.partition(":")
    if not sep or not begin.strip().isdigit() or not end.strip().isdigit() or int(begin) >= int(end):
        raise TraceError(f"--{unit} {text!r} is not a range: write A:B with whole numbers 0 <= A < B, e.g. 0:4096")
    return int(begin), int(end)


def sample_tokens(begin: int, end: int, seq_length: int) -> tuple[int, int]:
    """The tokens samples ``[begin, end)`` of ``seq_length`` read (the last label token included)."""
    if seq_length < 1:
        raise TraceError(f"--seq-length must be at least 1, not {seq_length}")
    return begin * seq_length, end * seq_length + 1


@dataclass(frozen=True)
class ExportSplit:
    """One split of an export folder, its sidecar checked against ``export.json``."""

    folder: Path
    """The export folder."""
    manifest: dict[str, Any]
    """Its ``export.json``."""
    split: Split
    """Which split's stream."""
    tokens: int
    """Tokens in the split's stream."""
    sidecar: Path
    """``PREFIX.docs.parquet``."""

    def samples(self, seq_length: int) -> int:
        """Whole samples of ``seq_length`` in the stream, as Megatron counts them (one extra token each)."""
        return max(self.tokens - 1, 0) // seq_length


def open_split(folder: str | Path, split: Split = "train") -> ExportSplit:
    """The split of the export in ``folder``; its sidecar must be there with the digest the manifest lists."""
    where = Path(folder)
    manifest = read_manifest(where)
    splits: dict[str, Any] = manifest.get("splits", {})
    if split not in splits:
        raise TraceError(f"{where} has no {split} split (it has: {', '.join(sorted(splits)) or 'none'})")
    name = f"{splits[split]['prefix']}.docs.parquet"
    sidecar = where / name
    if not sidecar.is_file():
        raise TraceError(f"{sidecar} is missing: the export has no sidecar for its {split} split")
    if manifest["files"].get(name) != file_sha256(sidecar):
        raise TraceError(f"{sidecar} was altered: its SHA-256 differs from export.json")
    return ExportSplit(where, manifest, split, int(splits[split]["tokens"]), sidecar)


def check_range(split: ExportSplit, begin: int, end: int, unit: str = "tokens", limit: int | None = None) -> None:
    """Refuse a range past the end of the split (``limit``: its size in ``unit``, tokens by default)."""
    size = split.tokens if limit is None else limit
    if end > size:
        raise TraceError(
            f"{unit} {begin}:{end} is outside the export: its {split.split} split holds {size} {unit} ({split.folder})"
        )


def _first_offsets(parquet: pq.ParquetFile) -> list[int]:
    """Each row group's first ``token_offset``: its statistics' minimum, else read from the column."""
    meta, column = parquet.metadata, parquet.schema_arrow.get_field_index("token_offset")
    firsts = []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if stats is not None and stats.has_min_max:
            firsts.append(int(stats.min))
        else:
            offsets = parquet.read_row_group(group, columns=["token_offset"]).column(0)
            firsts.append(int(offsets[0].as_py()) if len(offsets) else 2**62)
    return firsts


def overlapping(split: ExportSplit, begin: int, end: int) -> Iterator[pa.Table]:
    """The sidecar rows of the documents with tokens in ``[begin, end)``, a row group at a time, with
    ``tokens_in_range``. Offsets are sorted and documents follow one another, so a group whose successor
    starts at or before ``begin`` ends before it, and none from a group starting at ``end`` are in it."""
    parquet = pq.ParquetFile(split.sidecar)
    firsts = _first_offsets(parquet)
    for group, first in enumerate(firsts):
        if first >= end:
            return
        if group + 1 < len(firsts) and firsts[group + 1] <= begin:
            continue
        table = parquet.read_row_group(group)
        offsets = table.column("token_offset").to_numpy()
        ends = offsets + table.column("token_count").to_numpy()
        low, high = int(np.searchsorted(ends, begin, "right")), int(np.searchsorted(offsets, end, "left"))
        if high <= low:
            continue
        rows = table.slice(low, high - low)
        inside = np.minimum(ends[low:high], end) - np.maximum(offsets[low:high], begin)
        keep = inside > 0  # a document of no tokens touches nothing
        yield rows.append_column("tokens_in_range", pa.array(inside)).filter(pa.array(keep))


class QualityDeciles:
    """Deciles of the split's quality scores (see the module's docstring), from a histogram."""

    def __init__(self, sidecar: Path) -> None:
        parquet = pq.ParquetFile(sidecar)
        groups = range(parquet.metadata.num_row_groups)
        self.low, self.high = math.inf, -math.inf
        for group in groups:  # one row group of one column in memory at a time, read twice
            scores = self._scores(parquet, group)
            if len(scores):
                self.low, self.high = min(self.low, float(scores.min())), max(self.high, float(scores.max()))
        if self.low > self.high:
            self.low = self.high = 0.0
        counts = np.zeros(_BINS, np.int64)
        for group in groups:
            counts += np.bincount(self._bins(self._scores(parquet, group)), minlength=_BINS)
        self.scored = int(counts.sum())
        self.below: npt.NDArray[np.int64] = np.concatenate([[0], np.cumsum(counts)[:-1]])

    @staticmethod
    def _scores(parquet: pq.ParquetFile, group: int) -> npt.NDArray[np.float64]:
        column = parquet.read_row_group(group, columns=["quality"]).column(0).drop_null()
        scores = np.asarray(column.to_numpy(), dtype=np.float64)
        kept: npt.NDArray[np.float64] = scores[~np.isnan(scores)]
        return kept

    def _bins(self, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        width = self.high - self.low
        if width <= 0:
            return np.zeros(len(scores), np.int64)
        return np.minimum(((scores - self.low) / width * _BINS).astype(np.int64), _BINS - 1)

    def buckets(self, scores: list[float | None]) -> list[str]:
        """Each score's decile (``"1"`` to ``"10"``), or ``"none"`` for a missing score."""
        present = np.array([s for s in scores if s is not None and not math.isnan(s)], np.float64)
        deciles = iter((1 + 10 * self.below[self._bins(present)] // max(self.scored, 1)).tolist())
        return [NO_SCORE if s is None or math.isnan(s) else str(next(deciles)) for s in scores]


@dataclass
class Totals:
    """Documents and tokens inside the range, in all and per dump, source and quality bucket."""

    documents: int = 0
    tokens: int = 0
    per: dict[GroupBy, dict[str, Counter[str]]] = field(
        default_factory=lambda: {g: {"documents": Counter(), "tokens": Counter()} for g in GROUPS}
    )

    def add(self, document: dict[str, Any]) -> None:
        self.documents += 1
        self.tokens += document["tokens_in_range"]
        for group in GROUPS:
            key = str(document[group if group != "quality" else "quality_bucket"])
            self.per[group]["documents"][key] += 1
            self.per[group]["tokens"][key] += document["tokens_in_range"]

    def as_json(self) -> dict[str, Any]:
        groups: dict[str, Any] = {
            g: {k: {"documents": c["documents"][k], "tokens": c["tokens"][k]} for k in _ordered(g, c["documents"])}
            for g, c in self.per.items()
        }
        return {"documents": self.documents, "tokens": self.tokens, **groups}


def _ordered(group: GroupBy, keys: Counter[str]) -> list[str]:
    """Dumps and sources by name; deciles 1 to 10, then ``none``."""
    if group != "quality":
        return sorted(keys)
    return sorted(keys, key=lambda k: (k == NO_SCORE, int(k) if k != NO_SCORE else 0))


def trace_documents(split: ExportSplit, begin: int, end: int) -> Iterator[dict[str, Any]]:
    """Every document with tokens in ``[begin, end)``, in the stream's order: its sidecar row, the tokens
    of it inside the range (``tokens_in_range``) and its ``quality_bucket``."""
    check_range(split, begin, end)
    deciles = QualityDeciles(split.sidecar)
    for rows in overlapping(split, begin, end):
        buckets = deciles.buckets(rows.column("quality").to_pylist())
        for row, bucket in zip(rows.to_pylist(), buckets, strict=True):
            yield {**row, "quality_bucket": bucket}
