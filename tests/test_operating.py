"""An operator's session: ``corpuslake run`` on a scratch landing zone, stopped with Ctrl-C (SIGINT) in the
middle of the second dump, run again, then the landing-zone sensor evaluated against the same Dagster
instance. Touches: a landing zone, a lake and a Dagster home under tmp_path, a child process."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.errors import DagsterExecutionInterruptedError

from corpuslake.settings import Settings
from corpuslake.store import Lake
from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.interrupts import console_without_interrupts
from orchestration.sensors import NEW_DUMPS_SENSOR
from tests.conftest import LANDING, with_model

DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"
TABLES = ("crawl_files", "documents", "filtered", "content_signals", "deduplicated", "scored")


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    for dump in ("FIXTURE-A", "FIXTURE-B"):
        shutil.copytree(LANDING / dump, landing / dump)
        (landing / dump / "_SUCCESS").touch()
    return landing


def _interrupted_run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """``corpuslake run`` in a child process, sent SIGINT once FIXTURE-B's first stage reports progress:
    its exit code, stdout, and what it wrote to stderr from the interrupt on."""
    child = subprocess.Popen(
        [sys.executable, "-c", "from orchestration.cli import main; raise SystemExit(main())", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    for line in child.stderr:
        if "crawl_files [FIXTURE-B]" in line:
            child.send_signal(signal.SIGINT)
            break
    out, err = child.communicate(timeout=600)
    return child.returncode, out, err


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_the_rerun_and_the_sensor_do_only_what_is_left(
    tmp_path: Path,
    blocklist_cache: Path,
    trained_lake: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    landing, lake, home = _landing(tmp_path), str(tmp_path / "lake"), tmp_path / "home"
    with_model(trained_lake, tmp_path / "lake")  # the session's trained model: the runs go straight to the dumps
    argv = ["run", "--landing", str(landing), "--lake", lake, "--workers", "2", "--datasets", str(DATASETS)]
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root, "DAGSTER_HOME": str(home), "CORPUSLAKE_CACHE": str(blocklist_cache)}

    code, out, err = _interrupted_run(argv, env)
    assert code == 130, out
    # The console says the interrupt in the project's words; Dagster's stack traces stay in the run's log.
    assert "corpuslake: interrupt: stopping the current run" in err, err
    assert "Traceback" not in err and "Stack Trace" not in err and "InterruptedError" not in err, err
    assert "interrupted: finished FIXTURE-A; not finished FIXTURE-B" in out
    assert "publish_datasets" not in out  # nothing started after the interrupt
    # Nothing of FIXTURE-B is visible, and no file of it is left beside the committed ones.
    store = Lake(lake)
    for table in TABLES:
        assert store.has_written(table, "FIXTURE-A"), table
        assert not store.has_written(table, "FIXTURE-B"), table
        assert not list((Path(store.table_uri(table)) / "dump=FIXTURE-B").glob("*.parquet")), table

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CORPUSLAKE_CACHE", str(blocklist_cache))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "skipped dump FIXTURE-A: already ingested from these files" in out
    assert "dump FIXTURE-B: ok" in out and "publish_datasets: ok" in out

    with dg.DagsterInstance.get() as instance:
        cancelled = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.CANCELED]))
        assert [r.tags.get("dagster/partition") for r in cancelled] == ["FIXTURE-B"]
        # The UI's sensor, on the same instance and lake, requests none of what the CLI ingested.
        definitions = build_definitions(Settings(lake=lake, landing=str(landing), dagster_home=str(home)))
        sensor = definitions.resolve_sensor_def(NEW_DUMPS_SENSOR)
        result = sensor(dg.build_sensor_context(instance=instance, resources=definitions.resources))
        assert isinstance(result, dg.SensorResult)
        assert not result.run_requests, result.run_requests
        # New files in a dump are new input: both the sensor and the CLI take the dump again.
        shutil.copy(landing / "FIXTURE-B" / "part-00000.warc.gz", landing / "FIXTURE-B" / "part-00001.warc.gz")
        result = sensor(dg.build_sensor_context(instance=instance, resources=definitions.resources))
        assert isinstance(result, dg.SensorResult)
        assert [r.partition_key for r in result.run_requests or []] == ["FIXTURE-B"]


def _fails(message: str, interrupted: bool) -> None:
    if interrupted:
        raise DagsterExecutionInterruptedError()
    raise ValueError(message)


@pytest.mark.parametrize("interrupted", [False, True], ids=["real error", "interrupt"])
def test_the_console_hides_only_an_interrupts_stack_trace(interrupted: bool, capfd: pytest.CaptureFixture[str]) -> None:
    @dg.op
    def stage() -> None:
        _fails("the stage's own failure", interrupted)

    @dg.job(logger_defs={"console": console_without_interrupts})
    def one_step() -> None:
        stage()

    console = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # as `corpuslake run` configures it
    assert not one_step.execute_in_process(run_config=console, raise_on_error=False).success
    err = capfd.readouterr().err
    if interrupted:
        assert "STEP_FAILURE" not in err and "RUN_FAILURE" not in err and "Stack Trace" not in err, err
    else:  # a real error keeps Dagster's whole report: the step, the message and the stack trace
        assert "STEP_FAILURE" in err and "ValueError: the stage's own failure" in err and "Stack Trace" in err, err
