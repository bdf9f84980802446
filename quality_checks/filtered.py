"""Checks on the filtered stage: every document of the dump is either kept or rejected, never both.

They re-read the exact versions the stage read and wrote: the documents version named in the
filtered commit's lineage, and the rejections commit made by the same run (same lineage commit id).
"""

from typing import Any

import dagster as dg
import pyarrow.compute as pc

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
    doc_ids = store.read("documents", audited.upstream.version, dumps=[dump], columns=["id"])["id"]
    kept = store.read("filtered", audited.version, dumps=[dump], columns=["id"])["id"]
    rejected = store.read(
        "rejections", audited.rejections_version, dumps=[dump], columns=["id"], filters={"stage": "filtered"}
    )["id"]
    in_both = kept.filter(pc.is_in(kept, value_set=rejected))
    unaccounted = len(doc_ids) - len(kept) - len(rejected) + len(in_both)
    return unaccounted == 0 and len(in_both) == 0, {
        "documents": len(doc_ids),
        "kept": len(kept),
        "rejected": len(rejected),
        "kept_and_rejected": len(in_both),
        "sample_kept_and_rejected": ", ".join(in_both[:10].to_pylist()),
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
