"""Selecting documents by quality score: a fixed threshold, or the top X percent of the global score
distribution over the chosen dumps (DCLM keeps about the top 10%). Reproducible: the order is by score,
then by id, so ties at the cut are decided the same way every time."""

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.store import Lake


def top_percent_threshold(scores: np.ndarray, ids: Sequence[str], percent: float) -> tuple[float, set[str]]:
    """The score at the cut and the ids of the top ``percent`` (0-100) of documents, ties broken by id."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    count = int(np.ceil(len(scores) * percent / 100))
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), ids[i]))[:count]
    return (float(scores[order[-1]]) if order else float("inf")), {ids[i] for i in order}


def select(
    lake: Lake,
    dumps: Sequence[str],
    version: int | None = None,
    threshold: float | None = None,
    top_percent: float | None = None,
) -> pa.Table:
    """Scored rows of ``dumps`` at ``version`` kept by a threshold or by a global top percent."""
    if (threshold is None) == (top_percent is None):
        raise ValueError("give exactly one of threshold and top_percent")
    table = lake.read("scored", version, dumps=list(dumps))
    if threshold is not None:
        return table.filter(pc.greater_equal(table["quality_score"], threshold))
    assert top_percent is not None
    _, keep = top_percent_threshold(table["quality_score"].to_numpy(), table["id"].to_pylist(), top_percent)
    return table.filter(pc.is_in(table["id"], value_set=pa.array(sorted(keep), pa.string())))
