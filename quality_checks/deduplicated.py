"""Checks on the dedup stage: every filtered document is kept or removed, and each removal names a kept
document. They read the exact versions the stage read and wrote (lineage and its commit id)."""

import json
from typing import Any

import dagster as dg
import pyarrow.compute as pc

from corpuslake.store import Lake
from orchestration.partitions import dump_partitions
from orchestration.resources import LakeResource
from quality_checks.gates import recorded_result
from quality_checks.versions import audited_versions


def dedup_balance(store: Lake, dump: str) -> tuple[bool, dict[str, Any]]:
    """Filtered documents = kept + removed; every removal points at a document that is kept somewhere."""
    audited = audited_versions(store, "deduplicated", "filtered")
    if audited is None:
        return False, {"error": "deduplicated table does not exist"}
    version = audited.version
    source = store.read("filtered", audited.upstream.version, dumps=[dump], columns=["id"])["id"]
    kept = store.read("deduplicated", version, dumps=[dump], columns=["id"])["id"]
    removed = store.read(
        "rejections",
        audited.rejections_version,
        dumps=[dump],
        columns=["id", "signals"],
        filters={"stage": "deduplicated"},
    )
    in_both = kept.filter(pc.is_in(kept, value_set=removed["id"]))
    unaccounted = len(source) - len(kept) - len(removed) + len(in_both)
    kept_anywhere = store.read("deduplicated", version, columns=["id"])["id"]
    pointed = {json.loads(s).get("duplicate_of") for s in removed["signals"].to_pylist()} - {None}
    dangling = sorted(pointed - set(kept_anywhere.to_pylist()))
    passed = unaccounted == 0 and len(in_both) == 0 and not dangling
    return passed, {
        "filtered": len(source),
        "kept": len(kept),
        "removed": len(removed),
        "kept_and_removed": len(in_both),
        "unaccounted": unaccounted,
        "removals_pointing_at_no_kept_document": len(dangling),
        "sample_dangling": ", ".join(dangling[:10]),
        "read_versions": audited.describe("deduplicated"),
    }


@dg.asset_check(asset="deduplicated", partitions_def=dump_partitions, blocking=True)
def deduplicated_accounts_for_every_document(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Filtered documents = kept + removed, and every removed document names a kept one."""
    store = lake.lake()
    passed, metadata = dedup_balance(store, context.partition_key)
    return recorded_result(context, store, "deduplicated", passed, metadata)
