"""The deduplicated asset: one document per cluster of exact or near-duplicates."""

from typing import TYPE_CHECKING, Any

import dagster as dg

from assets.metadata import report_metadata, samples_metadata
from corpuslake.dedup.pages import largest_clusters
from corpuslake.pipeline import deduplicate
from corpuslake.runner import StageReport
from corpuslake.scan import head
from corpuslake.stages.deduplicated import STAGE_VERSION, DedupConfig
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    DedupStageConfig = dg.Config
else:
    DedupStageConfig = config_class(DedupConfig, "DedupStageConfig")


@dg.asset(
    partitions_def=dump_partitions,
    deps=["filtered"],
    group_name="dedup",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,
)
def deduplicated(
    context: dg.AssetExecutionContext,
    config: DedupStageConfig,
    lake: LakeResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    """One row per kept document of a dump after exact and MinHash dedup (word 5-grams, 14 bands x 8
    rows by default, per dump as FineWeb, or incremental against earlier dumps), with ``cluster_id``
    (the kept document's id), ``cluster_size`` and ``dup_kind`` (what it absorbed).

    Removed duplicates are rows of ``rejections`` (stage ``deduplicated``) naming the document they
    duplicate; the kept documents' band keys are rows of ``minhash_index`` for later dumps.
    """
    dump = context.partition_key
    store = lake.lake()
    stage_config = to_dataclass(DedupConfig, config)
    workers = compute.resolved_workers()
    report = deduplicate(store, dump, context.run.run_id, stage_config, workers, context.log.info)
    preview = head(
        store.dataset("deduplicated", report.version),
        {"dump": dump},
        ["id", "url", "cluster_size", "dup_kind", "text"],
        10,
    )
    clusters = largest_clusters(store, dump, report.version, workers, report.counters.get("kept", 0))
    return dg.MaterializeResult(
        metadata={
            **report_metadata(report, lake.root, preview.slice(0, 10)),
            **dedup_metadata(report, stage_config),
            **samples_metadata("largest_clusters", clusters),
        },
        data_version=dg.DataVersion(report.data_version),
    )


def dedup_metadata(report: StageReport, config: DedupConfig) -> dict[str, Any]:
    """Duplicates removed per kind, the cluster-size histogram as a table, the paragraph filter's size."""
    c = report.counters
    sizes = sorted((int(k.split(".")[1]), n) for k, n in c.items() if k.startswith("clusters_of_size."))
    rows = [dg.TableRecord({"cluster_size": size, "clusters": n}) for size, n in sizes]
    schema = dg.TableSchema(columns=[dg.TableColumn("cluster_size", "int"), dg.TableColumn("clusters", "int")])
    extra: dict[str, Any] = {}
    if "paragraph_bloom_bits" in c:
        extra["paragraph_bloom_bits_per_item"] = round(c["paragraph_bloom_bits"] / config.paragraph_capacity, 2)
        extra["paragraphs_removed"] = c.get("paragraphs_removed", 0)
    return extra | {
        "removed_exact": c.get("removed.exact", 0),
        "removed_near": c.get("removed.near", 0),
        "removed_paragraph_only": c.get("removed.paragraphs", 0),
        "earlier_documents_matched": c.get("earlier_documents_matched", 0),
        "cluster_sizes": dg.MetadataValue.table(rows, schema),
    }
