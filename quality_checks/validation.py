"""Running a Great Expectations suite on a table in memory (a partition's bounded sample), and the outcome
of a suite: which expectations failed, how many rows broke them, and the ids of a few of those rows.

GX 1.x is called directly (``dagster-ge`` pins GX below 1.0): an ephemeral context and a pandas data
source. GX validates a pandas frame, about 7 bytes per character of text, which is why it is only ever
given a sample (:mod:`quality_checks.expectations` says how the sample is chosen and what is exact).
"""

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
import pyarrow as pa

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics: this machine is offline

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig

SAMPLE_IDS = 10


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected: int | None
    observed: Any
    sample_ids: list[str]


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    rows: int
    """Rows of the partition (every row, counted exactly)."""
    evaluated: int
    failures: list[FailedExpectation] = field(default_factory=list)
    sampled: int = 0
    """Rows Great Expectations validated (the sample)."""
    exact: int = 0
    """Expectations also evaluated over every row (the invariants)."""

    @property
    def passed(self) -> bool:
        return not self.failures


def expectation_key(kind: str, column: str | None) -> str:
    """How an expectation is named in a suite's outcome: its type, and its column if it has one."""
    return f"{kind}:{column}" if column else kind


@cache
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(name: str, table: pa.Table, expectations: list[Any]) -> SuiteOutcome:
    """Run ``expectations`` over ``table`` (held in memory: a sample, or a small table) as the GX suite ``name``.

    The data source is deleted once the suite has run: the context lives as long as the process, and a source
    keeps its last batch's frame, so each suite's sample (tens of MiB of text on a large dump) would stay
    resident for the rest of a run (bench/step_memory.py, the run's process across steps)."""
    context = _context()
    source_name = f"corpuslake_{name}"
    source = context.data_sources.add_or_update_pandas(source_name)
    try:
        return _validated(source, name, table, expectations)
    finally:
        context.data_sources.delete(source_name)


def _validated(source: Any, name: str, table: pa.Table, expectations: list[Any]) -> SuiteOutcome:
    """:func:`validate` on the data source it made for this run of the suite."""
    asset = source.add_dataframe_asset(f"{name}_partition")
    batch_definition = asset.add_batch_definition_whole_dataframe("whole_partition")
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    index = ["id"] if "id" in table.column_names else []
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": index})
    failures = []
    for outcome in result.results:
        if outcome.success:
            continue
        details = outcome.result or {}
        ids = [
            str(i.get("id")) for i in (details.get("unexpected_index_list") or [])[:SAMPLE_IDS] if isinstance(i, dict)
        ]
        failures.append(
            FailedExpectation(
                expectation=outcome.expectation_config.type,
                column=outcome.expectation_config.kwargs.get("column"),
                unexpected=details.get("unexpected_count"),
                observed=details.get("observed_value"),
                sample_ids=ids,
            )
        )
    return SuiteOutcome(name, table.num_rows, len(result.results), failures, sampled=table.num_rows)
