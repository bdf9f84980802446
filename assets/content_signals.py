"""The content_signals asset: PII, bad words and benchmark overlaps of every filtered document."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.pipeline import tag_content
from corpuslake.policies.run import STAGE_VERSION, PolicyConfig
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    PolicyStageConfig = dg.Config
else:
    PolicyStageConfig = config_class(PolicyConfig, "PolicyStageConfig")


@dg.asset(
    partitions_def=dump_partitions,
    deps=["filtered"],
    group_name="policies",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,
)
def content_signals(
    context: dg.AssetExecutionContext, config: PolicyStageConfig, lake: LakeResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """One row per filtered document of a dump: PII counts (e-mails, IPs, phones, card numbers), the
    bad-word matches and rate for its language (LDNOOBW lists), whether its URL is on the adult
    blocklist, and the evaluation benchmarks it shares 13-grams with. Nothing is dropped or redacted
    here: snapshot selections decide (redaction on by default, thresholds as knobs)."""
    dump = context.partition_key
    stage_config = to_dataclass(PolicyConfig, config)
    report = tag_content(
        lake.lake(), dump, context.run.run_id, stage_config, compute.resolved_workers(), context.log.info
    )
    c = report.counters
    examples = report.extra["examples"]
    lines = ["| signal | documents | example ids |", "| --- | ---: | --- |"]
    for key in sorted(k for k in c if k != "documents"):
        lines.append(f"| {key} | {c[key]:,} | {', '.join(examples.get(key, []))} |")
    metadata = report_metadata(report, lake.root) | {
        "signals": dg.MetadataValue.md("\n".join(lines)),
        "documents_with_pii": c.get("pii.any", 0),
        "documents_contaminated": sum(n for k, n in c.items() if k.startswith("contaminated.")),
        "docs_per_second_per_worker": round(report.extra["docs_per_second_per_worker"]),
    }
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.data_version))
