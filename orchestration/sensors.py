"""The landing-zone sensor: a new, complete dump folder becomes a partition and one run of its chain."""

import json

import dagster as dg

from corpuslake.landing import complete_dumps
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
