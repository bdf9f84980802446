"""Which checks gate publication, and recording a check's verdict in the lake as it is returned."""

from typing import Any

import dagster as dg

from corpuslake.store import Lake
from corpuslake.verdicts import Verdict, partition_versions, record_verdict

# A snapshot is published only when every dump it reads passed these checks, at the version it reads; a
# dump that failed one, or has not been checked yet, is left out of definitions that do not name their
# dumps (corpuslake.quarantine), and blocks a definition that names it.
REQUIRED_CHECKS: dict[str, list[str]] = {
    "documents": ["documents_expectations", "documents_account_for_every_record"],
    "filtered": ["filtered_expectations", "filtered_accounts_for_every_document"],
    "deduplicated": ["deduplicated_expectations", "deduplicated_accounts_for_every_document"],
    "scored": ["scored_expectations"],
    "content_signals": ["content_signals_expectations"],
}


def recorded_result(
    context: dg.AssetCheckExecutionContext,
    store: Lake,
    table: str,
    passed: bool,
    metadata: dict[str, Any],
    severity: str = "error",
) -> dg.AssetCheckResult:
    """Record the verdict for the version that last wrote the partition, then return it to Dagster."""
    dump = context.partition_key
    latest = store.version(table)
    version = partition_versions(store, table, latest).get(dump, -1) if latest is not None else -1
    check = context.check_specs[0].name
    plain = {k: v.value if isinstance(v, dg.MetadataValue) else v for k, v in metadata.items()}
    shown = ", ".join(f"{k}={v}" for k, v in plain.items() if k != "read_versions")
    summary = "passed" if passed else f"failed: {shown}"
    record_verdict(
        store, Verdict(table, version, dump, check, passed, summary[:500], plain, context.run.run_id, severity)
    )
    return dg.AssetCheckResult(
        passed=passed,
        metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR if severity == "error" else dg.AssetCheckSeverity.WARN,
    )
