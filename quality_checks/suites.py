"""Great Expectations suites as blocking asset checks, one per stage table and dump partition.

Each check validates the dump partition at the version that last wrote it (GX on a bounded sample, the
invariants exactly over every row: :mod:`quality_checks.expectations`), records its verdict in the lake
(``check_results``: what the publication gate reads), and shows which expectations failed with sample
document ids. The sample's size and the memory of exact id sets are run config of each check.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg

from corpuslake.scan import ScanConfig
from corpuslake.verdicts import Verdict, record_verdict
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import LakeResource

if TYPE_CHECKING:
    from quality_checks.validation import SuiteOutcome

    SuiteScanConfig = dg.Config
else:
    SuiteScanConfig = config_class(ScanConfig, "SuiteScanConfig")

# Great Expectations takes about 2 s to import: the checks import it when they first run, so loading the
# code location (which every step of a multi-process run does) does not pay for it.
SUITE_TABLES = ("documents", "filtered", "deduplicated", "scored", "content_signals")


def outcome_metadata(outcome: "SuiteOutcome", read_version: str) -> dict[str, Any]:
    lines = ["| expectation | column | unexpected | observed | sample ids |", "| --- | --- | ---: | --- | --- |"]
    for f in outcome.failures:
        observed = "" if f.observed is None else str(f.observed)[:80]
        unexpected = "" if f.unexpected is None else str(f.unexpected)
        ids = ", ".join(f.sample_ids)
        lines.append(f"| {f.expectation} | {f.column or ''} | {unexpected} | {observed} | {ids} |")
    return {
        "suite": outcome.suite,
        "read_version": read_version,
        "rows": outcome.rows,
        "sampled_rows": outcome.sampled,
        "expectations_exact_on_every_row": outcome.exact,
        "expectations_evaluated": outcome.evaluated,
        "expectations_failed": len(outcome.failures),
        "failed_expectations": dg.MetadataValue.md("\n".join(lines) if outcome.failures else "none"),
    }


def suite_check(table: str) -> dg.AssetChecksDefinition:
    """The blocking GX check of one stage table."""

    @dg.asset_check(
        asset=table,
        name=f"{table}_expectations",
        partitions_def=dump_partitions,
        blocking=True,
        description=f"The Great Expectations suite of {table}: schema, non-null ids, text and provenance, "
        "unique ids, the dump, value ranges, allowed languages and a plausible row count; GX on a bounded "
        "sample, the invariants exactly over every row.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, config: SuiteScanConfig, lake: LakeResource
    ) -> dg.AssetCheckResult:
        from quality_checks.expectations import run_suite

        store = lake.lake()
        audit, outcome = run_suite(store, table, context.partition_key, to_dataclass(ScanConfig, config))
        summary = (
            f"{len(outcome.failures)} of {outcome.evaluated} expectations failed on {outcome.rows} rows "
            f"({outcome.sampled} sampled for GX, {outcome.exact} expectations exact on every row)"
        )
        record_verdict(
            store,
            Verdict(
                table,
                audit.version,
                audit.dump,
                f"{table}_expectations",
                outcome.passed,
                summary,
                {"failures": [vars(f) for f in outcome.failures]},
                context.run.run_id,
            ),
        )
        return dg.AssetCheckResult(
            passed=outcome.passed, metadata=outcome_metadata(outcome, f"{table}@v{audit.version}")
        )

    return check


SUITE_CHECKS = [suite_check(table) for table in SUITE_TABLES]
