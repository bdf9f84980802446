"""The filtered asset: documents that pass the heuristic filters, with every signal stored."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.metadata import funnel_metadata, plots_metadata, report_metadata, samples_metadata
from corpuslake.filters.chain import ORDER, FilterConfig
from corpuslake.inspect.markdown import filtered_samples_markdown
from corpuslake.pipeline import filter_documents
from corpuslake.scan import head
from corpuslake.stages.filtered import STAGE_VERSION
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    FilterStageConfig = dg.Config
else:
    FilterStageConfig = config_class(FilterConfig, "FilterStageConfig")


@dg.asset(
    partitions_def=dump_partitions,
    deps=["documents"],
    group_name="filter",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,
)
def filtered(
    context: dg.AssetExecutionContext,
    config: FilterStageConfig,
    lake: LakeResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """One row per document of a dump that passes the heuristic filters (URL, language, Gopher
    repetition and quality, C4, FineWeb; RefinedWeb's word-removal guard when switched on), in FineWeb's
    order and with FineWeb's thresholds by default.

    The text is the text after C4's line edits; every signal the filters computed is a column, and
    ``flags`` lists every rule the document fails in units that are switched off. Dropped documents
    are rows of ``rejections`` with ``stage = filtered``, the first failing filter and its reason code,
    and all signals as JSON.
    """
    dump = context.partition_key
    store = lake.lake()
    stage_config = to_dataclass(FilterConfig, config)
    report = filter_documents(
        store, dump, context.run.run_id, stage_config, compute.resolved_workers(), context.log.info
    )
    preview = head(
        store.dataset("filtered", report.version),
        {"dump": dump},
        ["id", "url", "language", "gopher_words", "fineweb_line_punct_ratio", "text"],
        10,
    )
    samples = filtered_samples_markdown(store, dump, report.extra_versions["rejections"])
    return dg.MaterializeResult(
        metadata={
            **report_metadata(report, lake.root, preview.slice(0, 10)),
            **funnel_metadata(report, ORDER),
            **samples_metadata("samples", samples),
            **plots_metadata(store, dump, {"filtered": report.version}, ("filtered",)),
        },
        data_version=dg.DataVersion(report.data_version),
    )
