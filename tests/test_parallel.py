"""The local process pool kept across a run's stages: results, a changed environment, clean exits, and
workers that stop with their caller.

Touches: corpuslake.parallel.run_jobs with the spawned pool it keeps between calls, child processes, tmp_path.
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpuslake import parallel


def _square(value: int) -> int:
    return value * value


def _environment(name: str) -> str:
    return os.environ.get(name, "")


def _sets_aside(_: int) -> bool:
    from corpuslake import memory

    return memory._BETWEEN.enabled


def _invert(value: int) -> float:
    return 1 / value


def _use_the_pool() -> None:
    assert sorted(parallel.run_jobs(_square, range(6), 2)) == [0, 1, 4, 9, 16, 25]


@pytest.mark.slow
def test_the_pool_is_kept_between_calls_and_renewed_when_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sorted(parallel.run_jobs(_square, range(10), 2)) == [i * i for i in range(10)]
    first = parallel._POOLS[2][1]
    assert sorted(parallel.run_jobs(_square, range(3), 2)) == [0, 1, 4]
    assert parallel._POOLS[2][1] is first  # no new processes for the next stage
    assert all(parallel.run_jobs(_sets_aside, range(4), 2))  # a worker sets aside what survives its jobs
    monkeypatch.setenv("CORPUSLAKE_TEST_MARKER", "changed")
    assert list(parallel.run_jobs(_environment, ["CORPUSLAKE_TEST_MARKER"], 2)) == ["changed"]
    assert parallel._POOLS[2][1] is not first  # the workers see the environment of their caller
    with pytest.raises(ZeroDivisionError):
        list(parallel.run_jobs(_invert, [0], 2))
    assert 2 not in parallel._POOLS  # a failed call drops its pool: the next stage starts clean
    parallel.shutdown_pools()


@pytest.mark.slow
def test_a_process_using_the_pool_exits(tmp_path: object) -> None:
    """A Dagster step runs in a process started by multiprocessing, which joins its children on exit."""
    child = multiprocessing.get_context("spawn").Process(target=_use_the_pool)
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0  # None would mean it hangs on its pool's workers


def _write_after_the_failure(job: tuple[str, str]) -> str:
    """The failing job marks that it has started, then fails; the other writes 2 s after that mark, so on a
    loaded machine it cannot finish before the failure (a slow start of the second worker)."""
    path, failed = job
    if not path:
        Path(failed).touch()
        raise ValueError("this job fails at once")
    deadline = time.monotonic() + 60
    while not Path(failed).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)
    Path(path).write_text("written after the caller gave up")
    return path


@pytest.mark.slow
def test_a_failed_call_stops_the_jobs_in_flight(tmp_path: Path) -> None:
    """The stage runner removes a failed stage's files once run_jobs raises: no job may write after that."""
    late, failed = tmp_path / "late.txt", str(tmp_path / "failed")
    with pytest.raises(ValueError, match="fails at once"):
        list(parallel.run_jobs(_write_after_the_failure, [(str(late), failed), ("", failed)], 2))
    # What the stage runner's clean-up does once run_jobs raises. A worker may take its grace period to
    # stop (a library it imported in an earlier job can handle SIGTERM): anything written before the raise
    # is removed here, and nothing may be written after it.
    late.unlink(missing_ok=True)
    time.sleep(5)  # longer than the other job would have needed
    assert Path(failed).exists() and not late.exists()


POOL_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from corpuslake import parallel

    def wait_forever(_: int) -> int:
        print(os.getpid(), flush=True)
        time.sleep(3600)
        return 0

    if __name__ == "__main__":
        for _ in parallel.run_jobs(wait_forever, range(2), 2):
            pass
    """
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has finished: its parent is gone, only its entry waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("thread", ["main", "other"])
def test_workers_die_with_a_killed_parent(tmp_path: Path, thread: str) -> None:
    script = tmp_path / "parent.py"
    source = POOL_PARENT
    if thread == "other":  # a pool started from another thread: the parent watch alone stops the workers
        source = source.replace(
            "    for _ in parallel.run_jobs(wait_forever, range(2), 2):\n        pass\n",
            "    import threading\n"
            "    t = threading.Thread(target=lambda: list(parallel.run_jobs(wait_forever, range(2), 2)))\n"
            "    t.start(); t.join()\n",
        )
    script.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    parent = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    workers = [int(parent.stdout.readline()) for _ in range(2)]
    assert all(_alive(pid) for pid in workers)
    parent.send_signal(signal.SIGKILL)  # no handler, no atexit, no pool shutdown runs
    parent.wait()
    parent.stdout.close()  # the workers hold the pipe too: never wait for its end
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left
