"""Running one job in a process of its own that exits when the job is done.

Two steps need a working memory that grows with their input for a short while: dedup's cluster step
(DuckDB's buffer pool, up to ``cluster_memory``, for a few seconds per dump) and a snapshot's selection
(DuckDB staging the selected texts and sorting them by id, up to the spill limit, and the bucket sort's
buffers). Run in the driver, that memory, and the heap fragments the allocator keeps after it is freed,
would grow the long-lived driver with the dump or the snapshot for the rest of the run; run in a kept
pool worker, they would stay in that worker for every later stage. A fresh process returns all of it to
the system when it exits, so the driver's memory does not depend on the input and the step's own peak
is its imports plus the configured limits.

Spawn, not fork, for the same reasons as the worker pool (:mod:`corpuslake.parallel`): a forked child of
a driver holding deltalake's runtime is not safe, and a spawned one starts clean. The child dies with its
parent (:mod:`corpuslake.lifetime`).
"""

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from corpuslake.lifetime import init_worker, stop_workers

Job = TypeVar("Job")
Result = TypeVar("Result")


def in_fresh_process(fn: Callable[[Job], Result], job: Job) -> Result:
    """``fn(job)`` in a newly spawned process, which is stopped once the result is back (or on failure)."""
    main_thread = threading.current_thread() is threading.main_thread()
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(os.getpid(), main_thread),
    )
    try:
        result = pool.submit(fn, job).result()
    except BaseException:
        # an interrupt or a failure: stop the child before the caller removes the files it writes
        processes = list((pool._processes or {}).values())  # the executor exposes no public handle
        pool.shutdown(wait=False, cancel_futures=True)
        stop_workers(processes)
        raise
    pool.shutdown(wait=True)
    return result


def run_apart(fn: Callable[[Job], Result], job: Job, workers: object) -> Result:
    """``fn(job)`` in a fresh process, or in this one when ``workers`` is a number up to 1 (tests,
    debugging), as :func:`corpuslake.parallel.run_jobs` decides for its jobs."""
    if isinstance(workers, int) and workers <= 1:
        return fn(job)
    return in_fresh_process(fn, job)


def peak_rss() -> int:
    """This process's peak resident set in bytes (VmHWM; 0 where /proc is missing)."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
