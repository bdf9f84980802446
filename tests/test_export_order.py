"""Exports write batches in published order whatever order the pool finishes them in.

Touches: corpuslake.export.splits.in_order with a pool of two spawned workers and a job function (here)
that holds the first batch back while the others finish, so that more results wait than the gate allows
and the pool's round ends early at least once.
"""

import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from corpuslake.export.splits import TokenizeJob, in_order
from corpuslake.export.tokenizer import TokenPolicy


def _slow_first(job: TokenizeJob) -> tuple[int, npt.NDArray[Any], npt.NDArray[np.int32]]:
    if job.index == 0:
        time.sleep(1.0)  # the other worker finishes many later batches meanwhile
    return job.index, np.array([job.index], np.uint16), np.array([1], np.int32)


@pytest.mark.slow
def test_results_come_back_in_job_order() -> None:
    jobs = (TokenizeJob(i, [f"text {i}"], "unused", "unused", TokenPolicy()) for i in range(30))
    assert [index for index, _, _ in in_order(_slow_first, jobs, 2)] == list(range(30))


def test_in_process_jobs_keep_their_order() -> None:
    jobs = (TokenizeJob(i, [], "unused", "unused", TokenPolicy()) for i in range(5))
    assert [index for index, _, _ in in_order(_slow_first, jobs, 1)] == list(range(5))
