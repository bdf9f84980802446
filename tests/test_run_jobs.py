"""How ``corpuslake run`` runs each Dagster job in its own process: the process's state is set aside from
the garbage collector for the job, and the checks' imports happen before any stage starts a worker pool."""

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from orchestration import run

ROOT = Path(__file__).resolve().parent.parent


def test_each_job_runs_with_the_state_alive_before_it_set_aside(tmp_path: Path) -> None:
    seen: list[int] = []

    @dg.op
    def count_frozen() -> None:
        seen.append(gc.get_freeze_count())

    @dg.job
    def tiny() -> None:
        count_frozen()

    gc.unfreeze()
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            outcome = run._run_job(tiny, instance, str(tmp_path), None)
        after = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert seen and seen[0] > 0
    assert after == 0  # collectable again once the job is over
    assert (outcome.job, outcome.dump, outcome.success, outcome.failed_steps) == ("tiny", "", True, ())


def test_a_partitioned_job_is_reported_under_its_dump(tmp_path: Path) -> None:
    partitions = dg.StaticPartitionsDefinition(["CC-1"])

    @dg.asset(partitions_def=partitions)
    def part() -> None:
        return None

    job = dg.define_asset_job("parts", selection=[part])
    defs = dg.Definitions(assets=[part], jobs=[job])
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            outcome = run._run_job(defs.resolve_job_def("parts"), instance, str(tmp_path), None, partition="CC-1")
    finally:
        gc.unfreeze()
    assert (outcome.job, outcome.dump, outcome.success) == ("parts", "CC-1", True)


# Every module the ingest job's checks import on first use; the environment a pool's workers inherit must not
# change when a check runs after the run imported what it imports up front.
_CHECKS_IMPORTED_LATER = """
import importlib, os, pkgutil
import orchestration.run as run
import quality_checks
run._import_checks()
before = dict(os.environ)
for module in pkgutil.iter_modules(quality_checks.__path__):
    importlib.import_module(f"quality_checks.{module.name}")
changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
print(",".join(changed))
"""


def test_the_checks_imports_leave_the_environment_the_run_started_its_pool_with() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHECKS_IMPORTED_LATER], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == ""


def test_publishing_after_an_ingest_starts_from_a_fresh_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from corpuslake import parallel
    from corpuslake.settings import load_settings

    environ = {"DAGSTER_HOME": str(tmp_path / "home"), "CORPUSLAKE_CACHE": str(tmp_path / "cache")}
    settings = load_settings(lake=str(tmp_path / "lake"), environ=environ)
    pools_when_publishing: list[list[int]] = []

    def ingest(definitions: Any, instance: Any, settings: Any, todo: list[Any], interrupts: Any) -> list[run.DumpRun]:
        parallel._pool(1)  # what a stage leaves for the stages after it (spawned on the first job only)
        assert parallel._POOLS
        return [run.DumpRun(folder.name, "ingest", True, ()) for folder in todo]

    def execute(definitions: Any, job_name: str, instance: Any, lake: str, interrupts: Any = None) -> run.DumpRun:
        pools_when_publishing.append(list(parallel._POOLS))
        return run.DumpRun("", "publish", True, (), job_name)

    monkeypatch.setattr(run, "_ingest", ingest)
    monkeypatch.setattr(run, "_execute", execute)
    outcome = run.run_landing(settings)
    assert [r.run_id for r in outcome.runs] == ["ingest", "ingest", "publish"]  # the sample crawl's two dumps
    assert pools_when_publishing == [[]]  # the ingest's workers were stopped before publishing
