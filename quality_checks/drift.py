"""Drift checks: a new dump's filter drop rates, duplicate rate and mean quality score against earlier dumps.

Out-of-band values warn by default; with ``DriftResource(severity="error")`` they fail the check, which
stops downstream steps and, being a failed error verdict, blocks publication of that dump.
"""

import dagster as dg

from corpuslake.drift import STAGES, DriftConfig, drift
from orchestration.partitions import dump_partitions
from orchestration.resources import DriftResource, LakeResource
from quality_checks.gates import recorded_result


def drift_check(stage: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=stage,
        name=f"{stage}_drift",
        partitions_def=dump_partitions,
        blocking=True,
        description=f"{stage}'s metrics for this dump against the mean of earlier dumps; out of band warns "
        "(or fails, by DriftResource.severity).",
    )
    def check(
        context: dg.AssetCheckExecutionContext, lake: LakeResource, drift_config: DriftResource
    ) -> dg.AssetCheckResult:
        store = lake.lake()
        config = DriftConfig(abs_tolerance=drift_config.abs_tolerance, rel_tolerance=drift_config.rel_tolerance)
        dump = context.partition_key
        # the earlier dumps from the table's add actions: reading its dump column would hold a value per
        # row of every dump in this process
        earlier = [d for d in store.dumps(stage) if d < dump]
        results = drift(store, stage, dump, config, earlier)
        out = [r for r in results if r.out_of_band]
        lines = [
            "| metric | this dump | earlier dumps | allowed difference | out of band |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for r in results:
            baseline = "" if r.baseline is None else f"{r.baseline:.4f}"
            lines.append(
                f"| {r.metric} | {r.value:.4f} | {baseline} | {r.allowed:.4f} | {'yes' if r.out_of_band else ''} |"
            )
        metadata = {
            "metrics": dg.MetadataValue.md("\n".join(lines)),
            "out_of_band": ", ".join(r.metric for r in out) or "none",
            "compared_with_earlier_dumps": any(r.baseline is not None for r in results),
        }
        return recorded_result(context, store, stage, not out, metadata, severity=drift_config.severity)

    return check


DRIFT_CHECKS = [drift_check(stage) for stage in STAGES]
