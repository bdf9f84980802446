"""Great Expectations suites for the stage tables, and running one on a dump partition in bounded memory.

A suite runs twice over the partition at the exact table version under audit, and fails if either run
fails: GX validates a bounded, deterministic sample (``ScanConfig.sample_rows`` rows, those with the
smallest ids: a uniform sample, since ids are hashes), which names failing rows in GX's own terms; and
the invariants (row count, unique ids, non-null columns, the dump, value ranges and sets, text lengths)
are evaluated exactly over every row (:mod:`quality_checks.exact`), so a defect outside the sample still
fails the suite. The sample and the exact counts come from a pass over the id column and one streamed
pass over every column, and unique ids from DuckDB (which spills), so memory is that of the sample, a few
batches and DuckDB's limit, whatever the partition's size.

Each suite is built per partition, because its plausible row count and its allowed languages come from
the audited commit's lineage: the upstream partition's size and the filter configuration that wrote it.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from corpuslake import scan
from corpuslake.lineage import Lineage
from corpuslake.policies.run import CONTENT_SIGNALS
from corpuslake.scan import DEFAULT_SCAN, ScanConfig
from corpuslake.schemas import DEDUPLICATED, DOCUMENTS, FILTERED, SCORED
from corpuslake.store import Lake
from corpuslake.verdicts import partition_commits
from quality_checks.documents import content_records
from quality_checks.exact import TABLE_LEVEL, exact_failures, key_of, row_rules
from quality_checks.validation import FailedExpectation, SuiteOutcome, expectation_key, validate

import great_expectations.expectations as gxe  # isort: skip (after validation, which switches analytics off)

PROVENANCE = ["dump", "url", "warc_date", "source_file", "warc_offset"]


@dataclass(frozen=True)
class Audit:
    """What a stage check audits: the version that last wrote the dump, and that commit's lineage."""

    table: str
    version: int
    dump: str
    lineage: Lineage


def _upstream_rows(lake: Lake, lineage: Lineage, upstream: str, dump: str) -> int:
    version = next(u.version for u in lineage.upstream if u.table == upstream)
    return scan.count(lake.dataset(upstream, version), {"dump": dump})


def _common(schema: pa.Schema, dump: str, required: list[str]) -> list[Any]:
    return [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(schema.names), exact_match=True),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeInSet(column="dump", value_set=[dump]),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in required],
    ]


def _documents(lake: Lake, audit: Audit) -> list[Any]:
    version = next(u.version for u in audit.lineage.upstream if u.table == "crawl_files")
    responses = content_records(lake, version, audit.dump, audit.version)  # responses, resources, WET texts
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
    """The latest version that wrote ``dump`` of ``table``, and its lineage."""
    latest = lake.version(table)
    if latest is None:
        raise LookupError(f"{table} does not exist yet")
    written = partition_commits(lake, table, latest)
    if dump not in written:
        raise LookupError(f"{table} has no partition {dump!r}")
    version, lineage = written[dump]
    return Audit(table, version, dump, lineage)


def run_suite(lake: Lake, table: str, dump: str, config: ScanConfig = DEFAULT_SCAN) -> tuple[Audit, SuiteOutcome]:
    """Validate the dump partition of ``table`` with its suite: GX on the sample, invariants on every row."""
    audit = audit_partition(lake, table, dump)
    expectations = SUITES[table](lake, audit)
    dataset = lake.dataset(table, audit.version)
    scanned = scan.scan_partition(dataset, dump, row_rules(expectations), config=config)
    exact, evaluated = exact_failures(
        expectations,
        scanned,
        lambda column: scan.reader(dataset, {"dump": dump}, [column], batch_rows=config.batch_rows),
        memory_limit=config.memory_limit,
    )
    on_sample = [e for e in expectations if e.expectation_type not in TABLE_LEVEL]
    sampled = validate(f"{table}_suite", scanned.sample, on_sample)
    failures = _merged(expectations, exact, sampled.failures)
    return audit, SuiteOutcome(
        sampled.suite, scanned.rows, len(expectations), failures, sampled=sampled.sampled, exact=len(evaluated)
    )


def _merged(
    expectations: list[Any], exact: dict[str, FailedExpectation], on_sample: list[FailedExpectation]
) -> list[FailedExpectation]:
    """One failure per failed expectation, in the suite's order: the exact count where there is one (with
    the sample's row ids if the exact pass named none), else the sample's; a sample failure alone fails."""
    from_sample = {expectation_key(f.expectation, f.column): f for f in on_sample}
    failures: dict[str, FailedExpectation] = {}
    for key in dict.fromkeys(key_of(e) for e in expectations):
        found, sampled = exact.get(key), from_sample.get(key)
        if found is not None and sampled is not None and not found.sample_ids:
            found = replace(found, sample_ids=sampled.sample_ids)
        if found is not None:
            failures[key] = found
        elif sampled is not None:
            failures[key] = sampled
    return list(failures.values())
