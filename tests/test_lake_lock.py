"""One writer per lake: a second run waits or fails naming the holder, and a killed holder frees the lake.

Touches a local lake folder in tmp_path and one child process that takes the lock.
"""

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from corpuslake.lake_lock import LakeBusyError, lake_lock
from corpuslake.settings import Settings
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions
from orchestration.requests import LAKE_TAG

HOLD = """
import sys, time
from corpuslake.lake_lock import lake_lock
with lake_lock(sys.argv[1], command="corpuslake run"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(lake: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(lake)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def _stop(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def test_a_second_writer_is_told_who_holds_the_lake_and_gets_it_when_the_holder_dies(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    child = _holder(lake)
    try:
        with (
            pytest.raises(LakeBusyError, match=rf"corpuslake run \(pid {child.pid} on "),
            lake_lock(str(lake), command="corpuslake publish", wait=False),
        ):
            pass
        said: list[str] = []
        acquired = threading.Event()

        def second() -> None:
            with lake_lock(str(lake), command="corpuslake publish", on_wait=said.append):
                acquired.set()

        waiting = threading.Thread(target=second)
        waiting.start()
        assert not acquired.wait(1.0)  # it waits while the holder lives
        child.send_signal(signal.SIGKILL)  # a holder that dies without cleaning up
        waiting.join(timeout=20)
        assert acquired.is_set() and len(said) == 1 and f"pid {child.pid}" in said[0]
    finally:
        _stop(child)
    with lake_lock(str(lake), command="again", wait=False):  # nothing stale is left
        assert "again (pid" in (lake / "_locks" / "writer.lock").read_text()


def test_a_lake_on_object_storage_is_not_locked_here() -> None:
    with lake_lock("s3://bucket/lake", command="x", wait=False), lake_lock("s3://bucket/lake", command="y"):
        pass


def test_the_publish_command_refuses_a_busy_lake_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestration.cli import main

    lake = tmp_path / "lake"
    child = _holder(lake)
    try:
        code = main(["publish", "--lake", str(lake), "--no-wait"])
    finally:
        _stop(child)
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and f"is being written by corpuslake run (pid {child.pid}" in err


def test_every_run_is_tagged_with_its_lake(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    definitions = build_definitions(Settings(lake=lake, landing=lake, dagster_home="unused", cache=lake), workers=1)
    for name in (INGEST_JOB, TRAIN_JOB, PUBLISH_JOB):
        assert definitions.resolve_job_def(name).tags[LAKE_TAG] == lake
