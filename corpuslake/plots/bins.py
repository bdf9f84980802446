"""Fixed-bin histograms, filled a batch at a time: memory is the bins', whatever the size of the dump.

Bins are fixed before any row is read, so every batch adds to the same counts and two dumps' plots of
one signal compare bin for bin. Fractions and scores get 50 equal bins on [0, 1]; counts get bins that
grow geometrically from 1 to a million (0 has a bin of its own); a value outside the edges is counted as
under- or overflow, never dropped, so a histogram's counts always add up to the rows it read.
Bins are ``[e_i, e_i+1)``, the last one closed (numpy's convention).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Scale = Literal["linear", "log"]
Keep = Literal["above", "below"]
"""Which side of a threshold a document must be on to be kept (``above``: a minimum)."""

_FRACTION_EDGES = tuple(float(x) for x in np.linspace(0.0, 1.0, 51))
_COUNT_EDGES = (0.0, *(float(x) for x in np.unique(np.round(np.geomspace(1, 1_000_000, 60)))))
_SPECIAL_EDGES: dict[str, tuple[float, ...]] = {
    # mean word lengths of natural text sit between 3 and 10 characters
    "gopher_mean_word_length": tuple(float(x) for x in np.linspace(0.0, 20.0, 41)),
    # bad words per word: a few percent at most in any text a corpus keeps
    "badword_rate": tuple(float(x) for x in np.linspace(0.0, 0.1, 51)),
}


def edges_for(column: str, type_: pa.DataType) -> tuple[tuple[float, ...], Scale]:
    """The fixed bin edges of a signal column, and the axis scale that shows them evenly."""
    if column in _SPECIAL_EDGES:
        return _SPECIAL_EDGES[column], "linear"
    if pa.types.is_integer(type_):
        return _COUNT_EDGES, "log"
    return _FRACTION_EDGES, "linear"


@dataclass(frozen=True)
class Threshold:
    """A line drawn on a histogram: where a filter or a snapshot's cut decides."""

    value: float
    """The threshold's value on the signal's axis."""
    label: str
    """What applies it, e.g. ``gopher_quality.min_doc_words`` or ``web-en-hq@2 cut``."""
    keep: Keep
    """``above``: documents below are dropped (a minimum); ``below``: documents above are dropped."""
    enabled: bool = True
    """False when the unit that owns it is switched off (its line is drawn faint)."""


@dataclass
class Histogram:
    """The counts of one signal per series (``kept``/``dropped``, or ``documents``), with fixed edges."""

    column: str
    source: str
    """The table versions read, e.g. ``filtered@v3 + rejections@v4``."""
    edges: tuple[float, ...]
    scale: Scale
    thresholds: list[Threshold] = field(default_factory=list)
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    underflow: dict[str, int] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)

    def add(self, series: str, values: pa.Array | pa.ChunkedArray) -> None:
        """Count one batch's values of ``series``."""
        if series not in self.counts:
            self.counts[series] = np.zeros(len(self.edges) - 1, dtype=np.int64)
            self.underflow[series] = self.overflow[series] = self.nulls[series] = 0
        as_float = pc.cast(values, pa.float64())
        array = as_float.to_numpy(zero_copy_only=False) if as_float.null_count == 0 else None
        if array is None:
            array = pc.fill_null(as_float, np.nan).to_numpy(zero_copy_only=False)
        missing = np.isnan(array)
        present = array[~missing]
        low, high = self.edges[0], self.edges[-1]
        self.nulls[series] += int(missing.sum())
        self.underflow[series] += int((present < low).sum())
        self.overflow[series] += int((present > high).sum())
        self.counts[series] += np.histogram(present, bins=np.asarray(self.edges))[0]

    def total(self, series: str) -> int:
        parts = (self.underflow, self.overflow, self.nulls)
        return int(self.counts[series].sum()) + sum(p[series] for p in parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "source": self.source,
            "edges": list(self.edges),
            "scale": self.scale,
            "bin_rule": "[e_i, e_i+1), the last bin closed; outside the edges: underflow / overflow",
            "counts": {s: [int(c) for c in counts] for s, counts in sorted(self.counts.items())},
            "underflow": dict(sorted(self.underflow.items())),
            "overflow": dict(sorted(self.overflow.items())),
            "nulls": dict(sorted(self.nulls.items())),
            "totals": {s: self.total(s) for s in sorted(self.counts)},
            "thresholds": [
                {"value": t.value, "label": t.label, "keep": t.keep, "enabled": t.enabled} for t in self.thresholds
            ],
        }


def new_histograms(
    schema: pa.Schema, columns: list[str], source: str, thresholds: Mapping[str, list[Threshold]]
) -> dict[str, Histogram]:
    """Empty histograms of ``columns`` (typed by ``schema``), with their thresholds."""
    out = {}
    for column in columns:
        edges, scale = edges_for(column, schema.field(column).type)
        out[column] = Histogram(column, source, edges, scale, list(thresholds.get(column, [])))
    return out


def numeric_columns(schema: pa.Schema, exclude: tuple[str, ...] = ()) -> list[str]:
    """The integer and floating-point columns of ``schema`` (the stored numeric signals)."""
    return [
        f.name
        for f in schema
        if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)) and f.name not in exclude
    ]
