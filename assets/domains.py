"""The domains asset: each scored document's domain label, registered domain and TLD."""

import dagster as dg

from assets.metadata import report_metadata
from assets.signal_plots import signal_plots_metadata
from corpuslake.domains.run import STAGE_VERSION, code_version, label_dump
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource


@dg.asset(
    partitions_def=dump_partitions,
    deps=["scored", "domain_model"],
    group_name="domains",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,
)
def domains(context: dg.AssetExecutionContext, lake: LakeResource, compute: ComputeResource) -> dg.MaterializeResult:
    """One row per scored document of a dump: its domain from the latest domain model (``domain``, e.g.
    ``c07``, and ``domain_name``, the domain's top terms), the registered domain and top-level domain of
    its URL (Public Suffix List shipped with tldextract), and the model's hash. Snapshot definitions
    select by it (``where: [{table: domains, column: domain, in: [...]}]``) and can carry
    ``domains.domain`` into a pin."""
    dump = context.partition_key
    report = label_dump(
        lake.lake(), dump, context.run.run_id, compute.resolved_workers(), code_version(), context.log.info
    )
    counts = {k.removeprefix("domain."): n for k, n in report.counters.items() if k.startswith("domain.")}
    names = report.extra["names"]
    lines = ["| domain | documents | name |", "| --- | ---: | --- |"]
    lines += [f"| {d} | {counts.get(d, 0):,} | {names[d]} |" for d in sorted(names)]
    metadata = report_metadata(report, lake.root) | {
        "model_hash": report.extra["model_hash"],
        "domains": dg.MetadataValue.md("\n".join(lines)),
        "docs_per_second_per_worker": round(report.extra["docs_per_second_per_worker"]),
    }
    written = {"domains": report.version}
    metadata |= signal_plots_metadata(lake.lake(), dump, written, ("domain_labels", "perplexity_by_domain"))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.data_version))
