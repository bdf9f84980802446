"""Checks on the filtered stage: every document of the dump is either kept or rejected, never both.

They re-read the exact versions the stage read and wrote: the documents version named in the
filtered commit's lineage, and the rejections commit made by the same run (same lineage commit id).
Counts come from the files' metadata; ids both kept and rejected from DuckDB over the two streamed id
columns (a join that spills to disk), so memory does not grow with the dump.
"""

from typing import Any

import dagster as dg

from corpuslake import scan
from corpuslake.idsets import shared_ids
from corpuslake.store import Lake
from orchestration.partitions import dump_partitions
from orchestration.resources import LakeResource
from quality_checks.gates import recorded_result
from quality_checks.versions import audited_versions


def filtered_balance(store: Lake, dump: str) -> tuple[bool, dict[str, Any]]:
    """Whether the latest filtered commit accounts for every document of ``dump``, and the counts."""
    audited = audited_versions(store, "filtered", "documents")
    if audited is None:
        return False, {"error": "filtered table does not exist"}
    partition, rejected = {"dump": dump}, {"dump": dump, "stage": "filtered"}
    documents = scan.count(store.dataset("documents", audited.upstream.version), partition)
    kept = store.dataset("filtered", audited.version)
    rejections = store.dataset("rejections", audited.rejections_version)
    kept_rows, rejected_rows = scan.count(kept, partition), scan.count(rejections, rejected)
    in_both = shared_ids(scan.reader(kept, partition, ["id"]), scan.reader(rejections, rejected, ["id"]))
    unaccounted = documents - kept_rows - rejected_rows + in_both.rows
    return unaccounted == 0 and in_both.rows == 0, {
        "documents": documents,
        "kept": kept_rows,
        "rejected": rejected_rows,
        "kept_and_rejected": in_both.rows,
        "sample_kept_and_rejected": ", ".join(in_both.sample),
        "unaccounted": unaccounted,
        "read_versions": audited.describe("filtered"),
    }


@dg.asset_check(asset="filtered", partitions_def=dump_partitions, blocking=True)
def filtered_accounts_for_every_document(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Documents of the dump = kept documents + documents rejected by the filters, with no id in both."""
    store = lake.lake()
    passed, metadata = filtered_balance(store, context.partition_key)
    return recorded_result(context, store, "filtered", passed, metadata)
