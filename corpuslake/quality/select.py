"""Selecting documents by quality score: a fixed threshold, or the top X percent of the global score
distribution over the chosen dumps (DCLM keeps about the top 10%). Reproducible: the order is by score,
then by id, so ties at the cut are decided the same way every time.

At scale the cut is found in two passes over the score column, never over the rows themselves
(:func:`top_percent_cut`): first the score of the last document kept (the ``count``-th highest score),
then, among the documents tied at that score, the last id kept. Selecting is then a predicate, applied
while the rows stream. :func:`top_percent_threshold` is the same rule in memory, for small inputs.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.store import Lake


def kept_count(rows: int, percent: float) -> int:
    """How many of ``rows`` documents the top ``percent`` (0-100) keeps: rounded up."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    return int(np.ceil(rows * percent / 100))


def top_percent_threshold(scores: np.ndarray, ids: Sequence[str], percent: float) -> tuple[float, set[str]]:
    """The score at the cut and the ids of the top ``percent`` (0-100) of documents, ties broken by id."""
    count = kept_count(len(scores), percent)
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), ids[i]))[:count]
    return (float(scores[order[-1]]) if order else float("inf")), {ids[i] for i in order}


@dataclass(frozen=True)
class Cut:
    """Where a top-percent selection stops: every score above ``score``, and at ``score`` the ids up to
    ``last_id``."""

    count: int
    score: float
    last_id: str


def top_percent_cut(con: duckdb.DuckDBPyConnection, view: str, percent: float) -> Cut:
    """The cut of the top ``percent`` of the rows of ``view`` (columns ``quality_score`` and ``id``).

    Reads the score column to find the cut score, then only the ids tied at that score."""
    rows = int(_one(con, f"SELECT count(*) FROM {view}", {}) or 0)
    count = kept_count(rows, percent)
    if count == 0:
        return Cut(0, math.inf, "")
    score = float(
        _one(
            con,
            f"SELECT CAST(quality_score AS DOUBLE) AS s FROM {view} ORDER BY s DESC LIMIT 1 OFFSET $k",
            {"k": count - 1},
        )
    )
    above = int(_one(con, f"SELECT count(*) FROM {view} WHERE CAST(quality_score AS DOUBLE) > $s", {"s": score}) or 0)
    last_id = str(
        _one(
            con,
            f"SELECT id FROM {view} WHERE CAST(quality_score AS DOUBLE) = $s ORDER BY id LIMIT 1 OFFSET $k",
            {"s": score, "k": count - above - 1},
        )
    )
    return Cut(count, score, last_id)


def _one(con: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, object]) -> Any:
    rows = con.execute(sql, parameters).fetchall()  # fetched to the end: the connection is free again
    if not rows:
        raise LookupError(f"no row from {sql}")
    return rows[0][0]


def select(
    lake: Lake,
    dumps: Sequence[str],
    version: int | None = None,
    threshold: float | None = None,
    top_percent: float | None = None,
) -> pa.Table:
    """Scored rows of ``dumps`` at ``version`` kept by a threshold or by a global top percent (in memory:
    for small tables and tests; snapshots select with :func:`top_percent_cut`)."""
    if (threshold is None) == (top_percent is None):
        raise ValueError("give exactly one of threshold and top_percent")
    table = lake.read("scored", version, dumps=list(dumps))
    if threshold is not None:
        return table.filter(pc.greater_equal(table["quality_score"], threshold))
    assert top_percent is not None
    _, keep = top_percent_threshold(table["quality_score"].to_numpy(), table["id"].to_pylist(), top_percent)
    return table.filter(pc.is_in(table["id"], value_set=pa.array(sorted(keep), pa.string())))
