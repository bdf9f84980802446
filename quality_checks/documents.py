"""Checks on the documents stage: every content record is accounted for, and ids are unique.

Content records are responses, resources, conversions (WET), revisits and the records of document files
(JSONL, Parquet): each is a document or a named rejection. A documents commit made before the stage
accounted for the other kinds (stage version 1 in its lineage's code version) is held to its own rule:
response records only.

Both re-read the exact table versions the stage committed (the rejections commit is found by the
lineage commit id it shares with the documents commit), so they audit the data, not the stage's counters.
Both are exact and in bounded memory: counts come from the files' metadata or a streamed column, and
repeated ids from DuckDB over the streamed id column (it spills to disk rather than hold every id).
"""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake import scan
from corpuslake.idsets import repeated_ids
from corpuslake.store import Lake
from orchestration.partitions import dump_partitions
from orchestration.resources import LakeResource
from quality_checks.gates import recorded_result
from quality_checks.versions import audited_versions

# Damage reasons describe unreadable bytes, not records; they are outside the balance.
_DAMAGE_REASONS = ["corrupt_member", "truncated_tail"]
# The crawl_files counts of content records (the last three are null in rows written before they existed).
_CONTENT_COLUMNS = [
    "response_records",
    "revisit_records",
    "resource_records",
    "conversion_records",
    "document_records",
]


def documents_balance(store: Lake, dump: str) -> tuple[bool, dict[str, Any]]:
    """Whether the latest documents commit accounts for every content record of ``dump``, and the counts."""
    audited = audited_versions(store, "documents", "crawl_files")
    if audited is None:
        return False, {"error": "documents table does not exist"}
    expected = content_records(store, audited.upstream.version, dump, audited.version)
    docs = scan.count(store.dataset("documents", audited.version), {"dump": dump})
    reasons = scan.batches(
        store.dataset("rejections", audited.rejections_version), {"dump": dump, "stage": "documents"}, ["reason"]
    )
    damage = pa.array(_DAMAGE_REASONS)
    record_rejections = sum(int(pc.sum(pc.invert(pc.is_in(b["reason"], damage))).as_py() or 0) for b in reasons)
    return expected == docs + record_rejections, {
        "content_records": expected,
        "documents": docs,
        "rejected_records": record_rejections,
        "unaccounted": expected - docs - record_rejections,
        "read_versions": audited.describe("documents"),
    }


def content_records(store: Lake, crawl_files_version: int, dump: str, documents_version: int) -> int:
    """Records of ``dump`` in crawl_files that the documents commit at ``documents_version`` must account
    for, each as a document or a rejection: also the most documents it can hold."""
    crawl_files = store.dataset("crawl_files", crawl_files_version)
    columns = [c for c in _content_columns(store, documents_version) if c in crawl_files.schema.names]
    inventory = scan.batches(crawl_files, {"dump": dump}, columns)
    return sum(int(pc.sum(b[c]).as_py() or 0) for b in inventory for c in columns)


def _content_columns(store: Lake, version: int) -> list[str]:
    """The crawl_files counts the documents commit at ``version`` must account for."""
    if store.lineage("documents", version).code_version.endswith("/stage-1"):
        return _CONTENT_COLUMNS[:1]
    return _CONTENT_COLUMNS


@dg.asset_check(asset="documents", partitions_def=dump_partitions, blocking=True)
def documents_account_for_every_record(
    context: dg.AssetCheckExecutionContext, lake: LakeResource
) -> dg.AssetCheckResult:
    """Content records in crawl_files (responses, resources, conversions, revisits, document-file records) =
    documents + records rejected by the documents stage."""
    store = lake.lake()
    passed, metadata = documents_balance(store, context.partition_key)
    return recorded_result(context, store, "documents", passed, metadata)


@dg.asset_check(asset="documents", partitions_def=dump_partitions, blocking=True)
def documents_ids_unique(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    """No two documents of a dump share an id (ids hash the dump and the WARC-Record-ID)."""
    passed, metadata = ids_unique(lake.lake(), context.partition_key)
    return dg.AssetCheckResult(passed=passed, metadata=metadata)


def ids_unique(store: Lake, dump: str) -> tuple[bool, dict[str, Any]]:
    """Whether the latest documents of ``dump`` have unique ids, with the counts and a few repeated ids."""
    dataset = store.dataset("documents")
    repeated = repeated_ids(scan.reader(dataset, {"dump": dump}, ["id"]))
    return repeated.ids == 0, {
        "documents": scan.count(dataset, {"dump": dump}),
        "repeated_ids": repeated.ids,
        "sample_repeated_ids": ", ".join(repeated.sample),
    }
