"""The landing-zone sensor: a new, complete dump folder becomes a partition and one run of its chain."""

import json
from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from corpuslake.landing import complete_dumps
from orchestration.lakefs import settle_run
from orchestration.partitions import dump_partitions
from orchestration.resources import LandingZoneResource

NEW_DUMPS_SENSOR = "new_crawl_dumps"


def build_sensor(job_name: str) -> dg.SensorDefinition:
    """The sensor, requesting runs of the job that materializes a dump's chain."""

    @dg.sensor(
        name=NEW_DUMPS_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds each complete dump folder of the landing zone as a partition and runs its chain once.",
    )
    def new_crawl_dumps(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
        seen = set(json.loads(context.cursor)) if context.cursor else set()
        ready = complete_dumps(landing.root, landing.marker, landing.quiet_seconds)
        new = [dump for dump in ready if dump not in seen]
        if not new:
            return dg.SensorResult(skip_reason=f"no new complete dump ({len(ready)} complete, all seen)")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=dump, run_key=f"dump:{dump}") for dump in new],
            dynamic_partitions_requests=[dump_partitions.build_add_request(new)],
            cursor=json.dumps(sorted(seen | set(new))),
        )

    return new_crawl_dumps


LAKEFS_MERGE_SENSOR = "lakefs_merge_passed_runs"
LAKEFS_KEEP_SENSOR = "lakefs_keep_failed_runs"


def build_lakefs_sensors(
    root: str, jobs: Sequence[dg.JobDefinition | UnresolvedAssetJobDefinition]
) -> list[dg.SensorDefinition]:
    """On a lakeFS lake: merge each finished run's branch into main when the run and its checks passed,
    and tag its publications; a failed run's branch is kept and main is left as it was."""

    def settle(context: dg.RunStatusSensorContext) -> dg.SkipReason:
        settled = settle_run(context.instance, context.dagster_run.run_id, root)
        if settled is None:  # the lake root is not on lakeFS (the sensors are only built when it is)
            return dg.SkipReason(f"{root} is not a lakeFS lake")
        if settled.merged:
            context.log.info(
                f"run {settled.run_id}: {settled.branch} merged into main as {settled.commit}; "
                f"tags: {', '.join(settled.tags) or 'none'}; warnings: {', '.join(settled.warnings) or 'none'}"
            )
            return dg.SkipReason(f"merged {settled.branch} as {settled.commit}")
        context.log.warning(f"run {settled.run_id}: {settled.branch} kept, not merged: {'; '.join(settled.reasons)}")
        return dg.SkipReason(f"kept {settled.branch}: {'; '.join(settled.reasons)}")

    roles = [
        (
            dg.DagsterRunStatus.SUCCESS,
            LAKEFS_MERGE_SENSOR,
            "Merges a successful run's lakeFS branch into main unless a check failed; tags its publications.",
        ),
        (
            dg.DagsterRunStatus.FAILURE,
            LAKEFS_KEEP_SENSOR,
            "Records that a failed run's lakeFS branch was kept for inspection and main left unchanged.",
        ),
    ]
    return [
        dg.run_status_sensor(
            run_status=status,
            name=name,
            monitored_jobs=jobs,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description=description,
        )(settle)
        for status, name, description in roles
    ]
