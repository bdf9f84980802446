"""Great Expectations suites for the stage tables, and running one on a dump partition.

GX 1.x is called directly (``dagster-ge`` pins GX below 1.0): an ephemeral context, a pandas data
source, and one batch per dump partition read from the exact table version under audit. Each suite is
built per partition, because its plausible row count and its allowed languages come from the audited
commit's lineage: the upstream partition's size and the filter configuration that wrote it.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.lineage import Lineage
from corpuslake.policies.run import CONTENT_SIGNALS
from corpuslake.schemas import DEDUPLICATED, DOCUMENTS, FILTERED, SCORED
from corpuslake.store import Lake
from corpuslake.verdicts import partition_commits

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics: this machine is offline

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.data_context.types.base import ProgressBarsConfig

SAMPLE_IDS = 10
PROVENANCE = ["dump", "url", "warc_date", "source_file", "warc_offset"]


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
    evaluated: int
    failures: list[FailedExpectation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@cache
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(name: str, table: pa.Table, expectations: list[Any]) -> SuiteOutcome:
    """Run ``expectations`` over ``table`` (one dump partition) as the GX suite ``name``."""
    context = _context()
    source = context.data_sources.add_or_update_pandas(f"corpuslake_{name}")
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
    return SuiteOutcome(name, table.num_rows, len(result.results), failures)


@dataclass(frozen=True)
class Audit:
    """What a stage check audits: the version that last wrote the dump, and its rows."""

    table: str
    version: int
    dump: str
    rows: pa.Table
    lineage: Lineage


def _upstream_rows(lake: Lake, lineage: Lineage, upstream: str, dump: str) -> int:
    version = next(u.version for u in lineage.upstream if u.table == upstream)
    return int(lake.dataset(upstream, version).count_rows(filter=pc.field("dump") == dump))


def _common(schema: pa.Schema, dump: str, required: list[str]) -> list[Any]:
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(schema.names), exact_match=True),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeInSet(column="dump", value_set=[dump]),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in required],
    ]


def _documents(lake: Lake, audit: Audit) -> list[Any]:
    version = next(u.version for u in audit.lineage.upstream if u.table == "crawl_files")
    inventory = lake.read("crawl_files", version, dumps=[audit.dump], columns=["response_records"])
    responses = int(pc.sum(inventory["response_records"]).as_py() or 0)
    return [
        *_common(DOCUMENTS, audit.dump, ["id", "text", "language", *PROVENANCE]),
        gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=responses),
        gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="text_chars", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="language_score", min_value=0, max_value=1.0001),
        gxe.ExpectColumnValuesToBeBetween(column="replaced_fraction", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="warc_offset", min_value=0),
    ]


def _kept_by_filters(lake: Lake, audit: Audit, schema: pa.Schema, upstream: str) -> list[Any]:
    language = audit.lineage.config.get("language", {}) if audit.table == "filtered" else {}
    rules = []
    if language.get("enabled") and language.get("languages"):
        rules.append(gxe.ExpectColumnValuesToBeInSet(column="language", value_set=list(language["languages"])))
        if not language.get("min_score_by_language"):
            rules.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column="language_score", min_value=language["min_score"], max_value=1.0001
                )
            )
    return [
        *_common(schema, audit.dump, ["id", "text", "language", *PROVENANCE]),
        gxe.ExpectTableRowCountToBeBetween(
            min_value=0, max_value=_upstream_rows(lake, audit.lineage, upstream, audit.dump)
        ),
        gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1),
        *rules,
    ]


def _filtered(lake: Lake, audit: Audit) -> list[Any]:
    return _kept_by_filters(lake, audit, FILTERED, "documents")


def _deduplicated(lake: Lake, audit: Audit) -> list[Any]:
    return [
        *_kept_by_filters(lake, audit, DEDUPLICATED, "filtered"),
        gxe.ExpectColumnValuesToBeBetween(column="cluster_size", min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="cluster_id"),
        gxe.ExpectColumnValuesToBeInSet(column="dup_kind", value_set=["none", "exact", "near", "exact+near"]),
    ]


def _scored(lake: Lake, audit: Audit) -> list[Any]:
    rows = _upstream_rows(lake, audit.lineage, "deduplicated", audit.dump)
    return [
        *_common(SCORED, audit.dump, ["id", "text", "quality_model", *PROVENANCE]),
        gxe.ExpectTableRowCountToBeBetween(min_value=rows, max_value=rows),  # scoring drops nothing
        gxe.ExpectColumnValuesToBeBetween(column="quality_score", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="quality_score"),
    ]


def _content_signals(lake: Lake, audit: Audit) -> list[Any]:
    rows = _upstream_rows(lake, audit.lineage, "filtered", audit.dump)
    counts = ["pii_emails", "pii_ips", "pii_phones", "pii_cards", "badword_matches", "contamination_ngrams"]
    return [
        *_common(CONTENT_SIGNALS, audit.dump, ["id", "contamination"]),
        gxe.ExpectTableRowCountToBeBetween(min_value=rows, max_value=rows),  # one row per filtered document
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in counts],
        gxe.ExpectColumnValuesToBeBetween(column="badword_rate", min_value=0, max_value=1),
    ]


SUITES: dict[str, Callable[[Lake, Audit], list[Any]]] = {
    "documents": _documents,
    "filtered": _filtered,
    "deduplicated": _deduplicated,
    "scored": _scored,
    "content_signals": _content_signals,
}


def audit_partition(lake: Lake, table: str, dump: str) -> Audit:
    """The latest version that wrote ``dump`` of ``table``, its lineage and its rows of that dump."""
    latest = lake.version(table)
    if latest is None:
        raise LookupError(f"{table} does not exist yet")
    written = partition_commits(lake, table, latest)
    if dump not in written:
        raise LookupError(f"{table} has no partition {dump!r}")
    version, lineage = written[dump]
    return Audit(table, version, dump, lake.read(table, version, dumps=[dump]), lineage)


def run_suite(lake: Lake, table: str, dump: str) -> tuple[Audit, SuiteOutcome]:
    """Validate the dump partition of ``table`` with its suite."""
    audit = audit_partition(lake, table, dump)
    return audit, validate(f"{table}_suite", audit.rows, SUITES[table](lake, audit))
