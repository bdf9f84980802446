"""The documents asset: HTML records extracted to main-content text, tagged with a language."""

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.pipeline import extract_documents
from corpuslake.stages.documents import DocumentsConfig
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

_DEFAULTS = DocumentsConfig()


class DocumentsStageConfig(dg.Config):
    """Settings of the documents stage; their fingerprint goes into each commit's lineage."""

    max_payload_bytes: int = _DEFAULTS.max_payload_bytes
    """Response payloads larger than this are rejected as ``oversized`` without being read."""
    max_replaced_fraction: float = _DEFAULTS.max_replaced_fraction
    """Above this fraction of undecodable characters a page is rejected as ``undecodable``."""
    html_types: list[str] = list(_DEFAULTS.html_types)  # noqa: RUF012 (pydantic copies defaults)
    """HTTP Content-Types treated as HTML; other responses are rejected as ``not_html``."""
    lid_max_chars: int = _DEFAULTS.lid_max_chars
    """Characters of each text given to the language-id model."""
    batch_rows: int = _DEFAULTS.batch_rows
    """Rows a worker buffers before writing a Parquet part (the memory bound per worker)."""

    def to_stage_config(self) -> DocumentsConfig:
        return DocumentsConfig(
            max_payload_bytes=self.max_payload_bytes,
            max_replaced_fraction=self.max_replaced_fraction,
            html_types=tuple(self.html_types),
            lid_max_chars=self.lid_max_chars,
            batch_rows=self.batch_rows,
        )


@dg.asset(
    partitions_def=dump_partitions,
    deps=["crawl_files"],
    group_name="ingest",
    kinds={"deltalake"},
    code_version="1",
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
        config.to_stage_config(),
        compute.resolved_workers(),
        context.log.info,
    )
    preview = store.read(
        "documents",
        report.version,
        dumps=[dump],
        columns=["id", "url", "language", "language_score", "text_chars", "text"],
    )
    return dg.MaterializeResult(
        metadata=report_metadata(report, preview.slice(0, 10)),
        data_version=dg.DataVersion(report.data_version),
    )
