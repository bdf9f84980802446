"""Checks on the dedup stage: every filtered document is kept or removed, and each removal names a kept
document. They read the exact versions the stage read and wrote (lineage and its commit id).

Exact and in bounded memory: counts come from the files' metadata, and the id sets (kept and removed,
removals naming no kept document) from DuckDB joins over streamed columns, which spill to disk."""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pyarrow as pa

from corpuslake import scan
from corpuslake.idsets import missing_ids, shared_ids
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
    source = scan.count(store.dataset("filtered", audited.upstream.version), {"dump": dump})
    kept = store.dataset("deduplicated", audited.version)
    rejections = store.dataset("rejections", audited.rejections_version)
    partition, removals = {"dump": dump}, {"dump": dump, "stage": "deduplicated"}
    kept_rows, removed_rows = scan.count(kept, partition), scan.count(rejections, removals)
    in_both = shared_ids(scan.reader(kept, partition, ["id"]), scan.reader(rejections, removals, ["id"]))
    unaccounted = source - kept_rows - removed_rows + in_both.rows
    signals = scan.batches(rejections, removals, ["signals"])
    dangling = missing_ids(_duplicate_of(signals), scan.reader(kept, {}, ["id"]))  # kept in any dump
    passed = unaccounted == 0 and in_both.rows == 0 and dangling.ids == 0
    return passed, {
        "filtered": source,
        "kept": kept_rows,
        "removed": removed_rows,
        "kept_and_removed": in_both.rows,
        "unaccounted": unaccounted,
        "removals_pointing_at_no_kept_document": dangling.ids,
        "sample_dangling": ", ".join(dangling.sample),
        "read_versions": audited.describe("deduplicated"),
    }


def _duplicate_of(signals: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    """The ``duplicate_of`` id each removal's signals name (null where none), batch by batch."""
    schema = pa.schema([pa.field("id", pa.string())])

    def named() -> Iterator[pa.RecordBatch]:
        for batch in signals:
            pointed = [json.loads(s).get("duplicate_of") if s else None for s in batch["signals"].to_pylist()]
            yield pa.record_batch([pa.array(pointed, pa.string())], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, named())


@dg.asset_check(asset="deduplicated", partitions_def=dump_partitions, blocking=True)
def deduplicated_accounts_for_every_document(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Filtered documents = kept + removed, and every removed document names a kept one."""
    store = lake.lake()
    passed, metadata = dedup_balance(store, context.partition_key)
    return recorded_result(context, store, "deduplicated", passed, metadata)
