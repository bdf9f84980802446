"""The main job, in-process: register the dumps as partitions and run the ingest job for each.

The CLI's ``corpuslake run`` calls :func:`run_landing`; the run goes into the same Dagster instance the UI
reads (``DAGSTER_HOME``), so it shows in the UI's run list and asset history afterwards.
"""

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from corpuslake.landing import DumpFolder, choose_dumps
from corpuslake.memory import long_lived_set_aside
from corpuslake.parallel import shutdown_pools
from corpuslake.quarantine import quarantined
from corpuslake.settings import Settings
from corpuslake.store import Lake
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions
from orchestration.interrupts import Interrupts, console_without_interrupts
from orchestration.lakefs import Settlement, settle_run
from orchestration.partitions import DUMP_PARTITIONS_NAME
from orchestration.requests import dump_tags, earlier_run
from orchestration.resources import LandingZoneResource

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


@dataclass(frozen=True)
class RunOutcome:
    """What ``corpuslake run`` did: its Dagster runs, the dumps it left aside and why, and an interrupt."""

    runs: list[DumpRun]
    skipped: dict[str, str] = field(default_factory=dict)
    """Dumps not run, with the reason: incomplete folders, and dumps already ingested from the same files."""
    interrupted: bool = False
    """A SIGINT stopped the run: the current Dagster run was cancelled and none was started after it."""
    unfinished: tuple[str, ...] = ()
    """With an interrupt: the dumps to ingest that did not land (the cancelled one, and those not started)."""
    quarantined: dict[str, list[str]] = field(default_factory=dict)
    """Dumps of the lake whose blocking checks failed, with the reasons: publication leaves them out."""


def run_dumps(settings: Settings, dumps: list[str] | None = None, workers: int = 0) -> list[DumpRun]:
    """Materialize every asset for each dump (all dumps of the landing zone by default), forced: complete or
    not, ingested before or not."""
    return run_landing(settings, dumps, workers, force=True).runs


def run_landing(
    settings: Settings, dumps: list[str] | None = None, workers: int = 0, *, force: bool = False
) -> RunOutcome:
    """Ingest the complete dumps of the landing zone (``dumps``, or all) not yet ingested from their current
    files, train the quality model first if the lake has none, then publish when every run landed.

    Completeness is the sensor's rule (the marker, or the quiet period) and what was ingested is read from
    the same record the sensor reads (orchestration.requests), so each starts only what the other has not.
    ``force`` runs every chosen dump that holds files. A SIGINT cancels the current run and starts no other.
    """
    definitions = build_definitions(settings, workers)
    landing = (definitions.resources or {}).get("landing")
    assert isinstance(landing, LandingZoneResource)  # one rule of completeness: the sensor's resource
    ready, aside = choose_dumps(
        settings.landing, dumps, marker=landing.marker, quiet_seconds=landing.quiet_seconds, force=force
    )
    skipped = {v.folder.name: v.why for v in aside}
    instance = _instance(settings)
    todo = []
    for verdict in ready:
        earlier = None if force else _ingested(instance, settings.lake, verdict.folder)
        if earlier is not None:
            skipped[verdict.folder.name] = f"already ingested from these files (run {earlier}); --force runs it again"
        else:
            todo.append(verdict.folder)
    if todo:
        _import_checks()
    known = set(instance.get_dynamic_partitions(DUMP_PARTITIONS_NAME))
    instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, [f.name for f in todo if f.name not in known])
    with Interrupts() as interrupts:
        results = _ingest(definitions, instance, settings, todo, interrupts)
        held = quarantined(Lake(settings.lake))
        # A dump held back by its checks does not block the others' publication; any other failure does.
        if not interrupts.requested and all(r.landed or r.dump in held for r in results):
            if results:
                # Publishing gets workers of its own: those that ingested keep what every stage loaded
                # (models, compiled kernels, caches), and on the 1.1M-page bench crawl one of them entered
                # publishing at about 750 MiB and peaked at 1,129 there, where publishing in a fresh process
                # peaked at 854 MiB in its largest one (bench/SCALING.md). A new pool costs about 2 CPU s.
                shutdown_pools()
            results.append(_execute(definitions, PUBLISH_JOB, instance, settings.lake, interrupts))
    if not interrupts.requested:
        return RunOutcome(results, skipped, quarantined=held)
    landed = {r.dump for r in results if r.landed}
    unfinished = tuple(f.name for f in todo if f.name not in landed)
    return RunOutcome(results, skipped, True, unfinished, held)


def _ingest(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    todo: list[DumpFolder],
    interrupts: Interrupts,
) -> list[DumpRun]:
    results = []
    if todo and Lake(settings.lake).version("quality_models") is None:
        # scored needs a trained model: train one from the configured examples first
        results.append(_execute(definitions, TRAIN_JOB, instance, settings.lake, interrupts))
    job = _console_job(definitions, INGEST_JOB)
    for folder in todo:
        if interrupts.requested:
            break
        tags = dump_tags(settings.lake, folder)
        results.append(_run_job(job, instance, settings.lake, interrupts, partition=folder.name, tags=tags))
    return results


def _import_checks() -> None:
    """Import what the ingest job's checks import on first use, before any stage starts its worker pool.

    Great Expectations sets ``GX_ANALYTICS_ENABLED`` in the environment when it is imported, and a changed
    environment makes the stages start a new pool (the workers see the environment they started with): the
    first run's pool would be replaced, workers' start-up paid twice, half-way through its first dump. The
    run imports these modules anyway; imported now, they are also set aside as long-lived before the first job.
    """
    import quality_checks.expectations  # noqa: F401


def _ingested(instance: dg.DagsterInstance, lake: str, folder: DumpFolder) -> str | None:
    """The run that ingested ``folder``'s current files into ``lake``, if the lake still holds its result."""
    run_id = earlier_run(instance, INGEST_JOB, lake, folder, succeeded=True)
    if run_id is None or not Lake(lake).has_written("scored", folder.name):
        return None
    return run_id


def _mark_cancelled(instance: dg.DagsterInstance, run_id: str, interrupts: Interrupts | None) -> None:
    """An interrupted run ends as failed in Dagster's eyes; the UI should show it as cancelled."""
    if interrupts is None or not interrupts.requested:
        return
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status != dg.DagsterRunStatus.SUCCESS:
        instance.report_run_canceled(run, message="corpuslake run was interrupted (SIGINT)")


def run_publish(settings: Settings) -> DumpRun:
    """Publish every snapshot definition and mixture recipe (the ``publish_datasets`` job)."""
    return _execute(build_definitions(settings), PUBLISH_JOB, _instance(settings), settings.lake)


def _execute(
    definitions: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    lake: str,
    interrupts: Interrupts | None = None,
) -> DumpRun:
    return _run_job(_console_job(definitions, job_name), instance, lake, interrupts)


def _run_job(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    lake: str,
    interrupts: Interrupts | None,
    *,
    partition: str | None = None,
    tags: dict[str, str] | None = None,
) -> DumpRun:
    """One Dagster run of ``job`` in this process; on lakeFS its branch is merged into main if it passed, as
    the sensor would."""
    # Between jobs what is alive is this process's own state: set aside, the collection after each step
    # (the release hooks) walks only what the job makes.
    with long_lived_set_aside():
        result = job.execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False, run_config=_QUIET_CONSOLE, tags=tags
        )
    _mark_cancelled(instance, result.run_id, interrupts)
    failed = tuple(e.step_key or "" for e in result.all_events if e.is_step_failure)
    settled = settle_run(instance, result.run_id, lake)
    return DumpRun(partition or "", result.run_id, result.success, failed, job.name, settled)


def _console_job(definitions: dg.Definitions, job_name: str) -> dg.JobDefinition:
    """The job as the console runs it: its console logger says nothing of a Ctrl-C beyond our own lines."""
    job = definitions.resolve_job_def(job_name)
    return job.with_logger_defs({**job.loggers, "console": console_without_interrupts})


def _instance(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance under ``settings.dagster_home`` (created on first use)."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and _INSTANCE_TEMPLATE.exists():
        shutil.copyfile(_INSTANCE_TEMPLATE, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)  # DagsterInstance.get() reads only this variable
    return dg.DagsterInstance.get()
