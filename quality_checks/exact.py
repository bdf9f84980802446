"""Exact verdicts for a suite's invariants, over every row of a partition, in bounded memory.

Great Expectations sees a sample; a defect in one row outside it would pass unseen. So every expectation
that states an invariant is also evaluated here over the whole partition: row-level rules (not null, in a
set, between bounds, text lengths) are counted batch by batch in the one streamed pass that also draws the
sample (:func:`corpuslake.scan.scan_partition`); the row count comes from the same pass; unique values go
to DuckDB (:func:`corpuslake.idsets.repeated_ids`), which spills to disk instead of holding every id.
The rules follow GX's semantics: nulls break only ``not_null``, bounds are inclusive unless strict.
"""

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.idsets import repeated_ids
from corpuslake.scan import PartitionScan, Rule
from quality_checks.validation import FailedExpectation, expectation_key

ROW_COUNT = "expect_table_row_count_to_be_between"
UNIQUE = "expect_column_values_to_be_unique"
TABLE_LEVEL = frozenset({ROW_COUNT})
"""Expectations about the whole partition: meaningless on a sample, evaluated only here."""


def key_of(expectation: Any) -> str:
    return expectation_key(expectation.expectation_type, getattr(expectation, "column", None))


def row_rules(expectations: Sequence[Any]) -> dict[str, Rule]:
    """The row-level rule of each expectation that has one, by :func:`key_of`."""
    rules = {}
    for expectation in expectations:
        rule = _row_rule(expectation)
        if rule is not None:
            rules[key_of(expectation)] = rule
    return rules


def _row_rule(e: Any) -> Rule | None:
    kind, column = e.expectation_type, getattr(e, "column", None)
    if kind == "expect_column_values_to_not_be_null":
        return lambda batch: pc.is_null(batch[column])
    if kind == "expect_column_values_to_be_in_set":
        allowed = pa.array(list(e.value_set))
        return lambda batch: pc.and_(pc.invert(pc.is_in(batch[column], value_set=allowed)), pc.is_valid(batch[column]))
    if kind == "expect_column_values_to_be_between":
        return _outside(lambda batch: batch[column], e)
    if kind == "expect_column_value_lengths_to_be_between":
        return _outside(lambda batch: pc.utf8_length(batch[column]), e)
    return None


def _outside(values: Callable[[pa.RecordBatch], pa.Array], e: Any) -> Rule:
    """True where a value lies outside ``[min_value, max_value]`` (open ends where None); null where it is null."""

    def rule(batch: pa.RecordBatch) -> pa.Array:
        v = values(batch)
        broken = pc.and_(pc.is_valid(v), pa.scalar(False))
        if e.min_value is not None:
            broken = pc.or_kleene(broken, (pc.less_equal if e.strict_min else pc.less)(v, e.min_value))
        if e.max_value is not None:
            broken = pc.or_kleene(broken, (pc.greater_equal if e.strict_max else pc.greater)(v, e.max_value))
        return broken

    return rule


def _within(rows: int, e: Any) -> bool:
    low = e.min_value is None or (rows > e.min_value if e.strict_min else rows >= e.min_value)
    high = e.max_value is None or (rows < e.max_value if e.strict_max else rows <= e.max_value)
    return bool(low and high)


def exact_failures(
    expectations: Sequence[Any],
    scan: PartitionScan,
    values: Callable[[str], pa.RecordBatchReader],
    *,
    memory_limit: str,
) -> tuple[dict[str, FailedExpectation], set[str]]:
    """The expectations that fail over every row, by :func:`key_of`, and the keys evaluated exactly.

    ``values(column)`` streams one column of the partition (for unique values); ``scan`` is the pass
    made with :func:`row_rules` of the same expectations.
    """
    failures: dict[str, FailedExpectation] = {}
    evaluated: set[str] = set()
    for e in expectations:
        key, kind, column = key_of(e), e.expectation_type, getattr(e, "column", None)
        if key in scan.tallies:
            tally = scan.tallies[key]
            if tally.unexpected:
                failures[key] = FailedExpectation(kind, column, tally.unexpected, None, list(tally.sample_ids))
        elif kind == ROW_COUNT:
            if not _within(scan.rows, e):
                failures[key] = FailedExpectation(kind, None, None, scan.rows, [])
        elif kind == UNIQUE and column is not None:
            repeated = repeated_ids(values(column), memory_limit=memory_limit)
            if repeated.rows:  # like GX: every row carrying a repeated value is unexpected
                failures[key] = FailedExpectation(kind, column, repeated.rows, None, list(repeated.sample))
        else:
            continue
        evaluated.add(key)
    return failures, evaluated
