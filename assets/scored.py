"""The ``scored`` table: every deduplicated document of a dump with its quality score."""

import dagster as dg

from assets.metadata import plots_metadata, report_metadata, samples_metadata
from corpuslake.inspect.markdown import scored_deciles_markdown
from corpuslake.pipeline import score_documents
from corpuslake.scan import head
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource


@dg.asset(
    partitions_def=dump_partitions,
    deps=["deduplicated", "quality_model"],
    group_name="quality",
    kinds={"deltalake"},
    code_version="1",
)
def scored(context: dg.AssetExecutionContext, lake: LakeResource, compute: ComputeResource) -> dg.MaterializeResult:
    """One row per deduplicated document of a dump with ``quality_score`` (the classifier's P(hq)) and
    ``quality_model`` (the model's hash). Nothing is dropped: snapshots select by threshold or top percent."""
    dump = context.partition_key
    store = lake.lake()
    report = score_documents(store, dump, context.run.run_id, compute.resolved_workers(), context.log.info)
    # the best-scored of the partition's first 1,000 rows: a preview never reads the whole partition
    preview = head(
        store.dataset("scored", report.version), {"dump": dump}, ["id", "url", "quality_score", "text"], 1_000
    )
    metadata = report_metadata(report, lake.root, preview.sort_by([("quality_score", "descending")]).slice(0, 10)) | {
        "model_hash": report.extra["model_hash"],
        "mean_quality_score": round(report.extra["mean_score"], 4),
        "docs_per_second_per_worker": round(report.extra["docs_per_second_per_worker"]),
    }
    metadata |= samples_metadata("samples_per_decile", scored_deciles_markdown(store, dump, report.version))
    metadata |= plots_metadata(store, dump, {"scored": report.version}, ("scored", "funnel", "domains"))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.data_version))
