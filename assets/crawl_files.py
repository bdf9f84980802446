"""The crawl_files asset: the inventory of one dump's WARC files."""

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.pipeline import ingest_crawl_files
from corpuslake.scan import head
from corpuslake.stages.crawl_files import STAGE_VERSION
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource, LandingZoneResource


@dg.asset(
    partitions_def=dump_partitions,
    group_name="ingest",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,  # the stage's own version: a change of its output is a new code version
)
def crawl_files(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    landing: LandingZoneResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """One row per file of a crawl dump: path, size, sha256, format and the records a full scan found.

    Files that are not WARC are kept as rows with ``format = rejected`` and the reason in ``error``.
    """
    dump = context.partition_key
    store = lake.lake()
    report = ingest_crawl_files(
        store, landing.root, dump, context.run.run_id, compute.resolved_workers(), context.log.info
    )
    for problem in report.problems:
        context.log.warning(f"rejected file: {problem}")
    preview = head(
        store.dataset("crawl_files", report.version),
        {"dump": dump},
        ["source_file", "size", "format", "records", "response_records", "error"],
        10,
    )
    return dg.MaterializeResult(
        metadata=report_metadata(report, lake.root, preview.slice(0, 10)),
        data_version=dg.DataVersion(report.data_version),
    )
