"""Checks on the documents stage: every response record is accounted for, and ids are unique.

Both re-read the exact table versions the stage committed (the rejections commit is found by the
lineage commit id it shares with the documents commit), so they audit the data, not the stage's counters.
"""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.store import Lake
from orchestration.partitions import dump_partitions
from orchestration.resources import LakeResource
from quality_checks.gates import recorded_result
from quality_checks.versions import audited_versions

# Damage reasons describe unreadable bytes, not response records; they are outside the balance.
_DAMAGE_REASONS = ["corrupt_member", "truncated_tail"]


def documents_balance(store: Lake, dump: str) -> tuple[bool, dict[str, Any]]:
    """Whether the latest documents commit accounts for every response record of ``dump``, and the counts."""
    audited = audited_versions(store, "documents", "crawl_files")
    if audited is None:
        return False, {"error": "documents table does not exist"}
    inventory = store.read("crawl_files", audited.upstream.version, dumps=[dump], columns=["response_records"])
    expected = int(pc.sum(inventory["response_records"]).as_py() or 0)
    docs = store.read("documents", audited.version, dumps=[dump], columns=["id"]).num_rows
    rejected = store.read(
        "rejections", audited.rejections_version, dumps=[dump], columns=["reason"], filters={"stage": "documents"}
    )
    record_rejections = int(pc.sum(pc.invert(pc.is_in(rejected["reason"], pa.array(_DAMAGE_REASONS)))).as_py() or 0)
    return expected == docs + record_rejections, {
        "response_records": expected,
        "documents": docs,
        "rejected_records": record_rejections,
        "unaccounted": expected - docs - record_rejections,
        "read_versions": audited.describe("documents"),
    }


@dg.asset_check(asset="documents", partitions_def=dump_partitions, blocking=True)
def documents_account_for_every_record(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Response records in crawl_files = documents + records rejected by the documents stage."""
    store = lake.lake()
    passed, metadata = documents_balance(store, context.partition_key)
    return recorded_result(context, store, "documents", passed, metadata)


@dg.asset_check(asset="documents", partitions_def=dump_partitions, blocking=True)
def documents_ids_unique(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    """No two documents of a dump share an id (ids hash the dump and the WARC-Record-ID)."""
    dump = context.partition_key
    ids = lake.lake().read("documents", dumps=[dump], columns=["id"])["id"]
    counts = pc.value_counts(ids)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    sample = [str(v) for v in repeated.field("values")[:10].to_pylist()]
    return dg.AssetCheckResult(
        passed=len(repeated) == 0,
        metadata={
            "documents": len(ids),
            "repeated_ids": len(repeated),
            "sample_repeated_ids": ", ".join(sample),
        },
    )
