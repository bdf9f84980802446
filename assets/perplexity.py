"""The perplexity asset: each scored document's n-gram language model perplexity and CCNet bucket."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.metadata import report_metadata
from assets.signal_plots import signal_plots_metadata
from corpuslake.perplexity.stage import STAGE_VERSION, PerplexityConfig, score_perplexity
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    PerplexityStageConfig = dg.Config
else:
    PerplexityStageConfig = config_class(PerplexityConfig, "PerplexityStageConfig")


@dg.asset(
    partitions_def=dump_partitions,
    deps=["scored"],
    group_name="perplexity",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,
)
def perplexity(
    context: dg.AssetExecutionContext, config: PerplexityStageConfig, lake: LakeResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """One row per scored document of a dump: ``perplexity`` under its language's word trigram model
    (interpolated Kneser-Ney on shipped reference prose, queried with KenLM; CCNet's per-line document
    perplexity) and ``perplexity_bucket``: head / middle / tail by the 30th and 60th percentiles of the
    reference's held-out passages. Languages without a model get nulls. The model's hash, reference and
    parameters are in the table version's lineage; selections pick buckets or thresholds."""
    stage_config = to_dataclass(PerplexityConfig, config)
    report = score_perplexity(
        lake.lake(), context.partition_key, context.run.run_id, stage_config, compute.resolved_workers(), None
    )
    c = report.counters
    models = report.extra["models"]
    lines = ["| language | model | n-grams | cutoffs (p30, p60) |", "| --- | --- | --- | --- |"]
    for language, info in sorted(models.items()):
        lines.append(f"| {language} | {info['key']} | {info['ngrams']} | {info['cutoffs']} |")
    metadata = report_metadata(report, lake.root) | {
        "models": dg.MetadataValue.md("\n".join(lines)),
        "head": c.get("bucket.head", 0),
        "middle": c.get("bucket.middle", 0),
        "tail": c.get("bucket.tail", 0),
        "no_model": c.get("bucket.none", 0),
        "docs_per_second_per_worker": round(report.extra["docs_per_second_per_worker"]),
    }
    written = {"perplexity": report.version}
    metadata |= signal_plots_metadata(
        lake.lake(), context.partition_key, written, ("perplexity", "perplexity_by_domain")
    )
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.data_version))
