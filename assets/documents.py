"""The documents asset: HTML records extracted to main-content text, tagged with a language."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.pipeline import extract_documents
from corpuslake.scan import head
from corpuslake.stages.documents import STAGE_VERSION, DocumentsConfig
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    DocumentsStageConfig = dg.Config
else:
    DocumentsStageConfig = config_class(DocumentsConfig, "DocumentsStageConfig")


@dg.asset(
    partitions_def=dump_partitions,
    deps=["crawl_files"],
    group_name="ingest",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,  # the stage's own version: a change of its output is a new code version
)
def documents(
    context: dg.AssetExecutionContext,
    config: DocumentsStageConfig,
    lake: LakeResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """One row per HTML response record of a dump: main-content text (resiliparse), language and score
    (fastText lid.176), and provenance (id, url, WARC record id and date, source file and offset).

    Records that give no document (not HTML, bad HTTP status, undecodable, empty, oversized, damaged)
    are rows of the ``rejections`` table with ``stage = documents`` and a reason code.
    """
    dump = context.partition_key
    store = lake.lake()
    report = extract_documents(
        store,
        dump,
        context.run.run_id,
        to_dataclass(DocumentsConfig, config),
        compute.resolved_workers(),
        context.log.info,
    )
    preview = head(
        store.dataset("documents", report.version),
        {"dump": dump},
        ["id", "url", "language", "language_score", "text_chars", "text"],
        10,
    )
    return dg.MaterializeResult(
        metadata=report_metadata(report, lake.root, preview.slice(0, 10)),
        data_version=dg.DataVersion(report.data_version),
    )
