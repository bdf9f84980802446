"""The landing-zone sensor: a new, complete dump folder becomes a partition and one run of its chain."""

import json
from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from corpuslake.landing import readiness
from orchestration.lakefs import settle_run
from orchestration.partitions import dump_partitions
from orchestration.requests import dump_tags, earlier_run
from orchestration.resources import LakeResource, LandingZoneResource

NEW_DUMPS_SENSOR = "new_crawl_dumps"
_ANY_FILES = "*"


def build_sensor(job_name: str) -> dg.SensorDefinition:
    """The sensor, requesting runs of the job that materializes a dump's chain."""

    @dg.sensor(
        name=NEW_DUMPS_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds each complete dump folder of the landing zone as a partition and runs its chain once "
        "per set of files; dumps `corpuslake run` already ingested from the same files are not requested again.",
    )
    def new_crawl_dumps(
        context: dg.SensorEvaluationContext, landing: LandingZoneResource, lake: LakeResource
    ) -> dg.SensorResult:
        seen = _requested(context.cursor)
        ready = [r.folder for r in readiness(landing.root, landing.marker, landing.quiet_seconds) if r.complete]
        new = [
            folder
            for folder in ready
            if seen.get(folder.name) not in (folder.fingerprint, _ANY_FILES)
            and earlier_run(context.instance, job_name, lake.root, folder) is None
        ]
        cursor = json.dumps({**seen, **{f.name: f.fingerprint for f in new}}, sort_keys=True)
        if not new:
            return dg.SensorResult(skip_reason=f"no new complete dump ({len(ready)} complete, all requested)")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    partition_key=f.name, run_key=f"dump:{f.name}:{f.fingerprint}", tags=dump_tags(lake.root, f)
                )
                for f in new
            ],
            dynamic_partitions_requests=[dump_partitions.build_add_request([f.name for f in new])],
            cursor=cursor,
        )

    return new_crawl_dumps


def _requested(cursor: str | None) -> dict[str, str]:
    """Dumps the sensor requested, with the fingerprint of the files it requested them for. An older
    cursor listed names only: those count as requested for whatever files their folder holds."""
    if not cursor:
        return {}
    loaded = json.loads(cursor)
    if isinstance(loaded, list):
        return {name: _ANY_FILES for name in loaded}
    return {str(k): str(v) for k, v in loaded.items()}


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
