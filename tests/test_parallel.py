"""The local process pool kept across a run's stages: results, a changed environment, and clean exits.

Touches: corpuslake.parallel.run_jobs with the spawned pool it keeps between calls.
"""

import multiprocessing
import os

import pytest

from corpuslake import parallel


def _square(value: int) -> int:
    return value * value


def _environment(name: str) -> str:
    return os.environ.get(name, "")


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
