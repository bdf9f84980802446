"""The main job, in-process: register the dumps as partitions and run the ingest job for each.

The CLI's ``corpuslake run`` calls :func:`run_dumps`; the run goes into the same Dagster instance the UI
reads (``DAGSTER_HOME``), so it shows in the UI's run list and asset history afterwards.
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from corpuslake.settings import Settings
from corpuslake.stages.crawl_files import list_dumps
from corpuslake.store import Lake
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions
from orchestration.lakefs import Settlement, settle_run
from orchestration.partitions import DUMP_PARTITIONS_NAME

# The console shows progress and results; the step-by-step engine events stay in the run's event log.
_QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
_INSTANCE_TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "dagster.yaml"


@dataclass(frozen=True)
class DumpRun:
    dump: str  # empty for the training and publishing runs
    run_id: str
    success: bool
    failed_steps: tuple[str, ...]
    job: str = INGEST_JOB
    settled: Settlement | None = None
    """On a lakeFS lake: whether the run's branch was merged into main, and the tags it created."""

    @property
    def landed(self) -> bool:
        """The run succeeded and, on lakeFS, its branch was merged into main."""
        return self.success and (self.settled is None or self.settled.merged)


def run_dumps(settings: Settings, dumps: list[str] | None = None, workers: int = 0) -> list[DumpRun]:
    """Materialize every asset for each dump (all dumps of the landing zone by default)."""
    available = list_dumps(settings.landing)
    chosen = dumps or available
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise ValueError(f"no such dump in {settings.landing}: {', '.join(missing)} (found: {', '.join(available)})")
    instance = _instance(settings)
    known = set(instance.get_dynamic_partitions(DUMP_PARTITIONS_NAME))
    instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, [d for d in chosen if d not in known])
    definitions = build_definitions(settings, workers)
    results = []
    if Lake(settings.lake).version("quality_models") is None:
        # scored needs a trained model: train one from the configured examples first
        trained = definitions.resolve_job_def(TRAIN_JOB).execute_in_process(
            instance=instance, raise_on_error=False, run_config=_QUIET_CONSOLE
        )
        failed = tuple(e.step_key or "" for e in trained.all_events if e.is_step_failure)
        settled = settle_run(instance, trained.run_id, settings.lake)
        results.append(DumpRun("", trained.run_id, trained.success, failed, TRAIN_JOB, settled))
    job = definitions.resolve_job_def(INGEST_JOB)
    for dump in chosen:
        result = job.execute_in_process(
            partition_key=dump, instance=instance, raise_on_error=False, run_config=_QUIET_CONSOLE
        )
        failed = tuple(e.step_key or "" for e in result.all_events if e.is_step_failure)
        # On lakeFS the run wrote its own branch: merged into main now if it passed, as the sensor would.
        results.append(
            DumpRun(
                dump, result.run_id, result.success, failed, settled=settle_run(instance, result.run_id, settings.lake)
            )
        )
    if all(r.landed for r in results):
        results.append(_execute(definitions, PUBLISH_JOB, instance, settings.lake))
    return results


def run_publish(settings: Settings) -> DumpRun:
    """Publish every snapshot definition and mixture recipe (the ``publish_datasets`` job)."""
    return _execute(build_definitions(settings), PUBLISH_JOB, _instance(settings), settings.lake)


def _execute(definitions: dg.Definitions, job_name: str, instance: dg.DagsterInstance, lake: str) -> DumpRun:
    result = definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance, raise_on_error=False, run_config=_QUIET_CONSOLE
    )
    failed = tuple(e.step_key or "" for e in result.all_events if e.is_step_failure)
    return DumpRun("", result.run_id, result.success, failed, job_name, settle_run(instance, result.run_id, lake))


def _instance(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance under ``settings.dagster_home`` (created on first use)."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and _INSTANCE_TEMPLATE.exists():
        shutil.copyfile(_INSTANCE_TEMPLATE, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)  # DagsterInstance.get() reads only this variable
    return dg.DagsterInstance.get()
