"""Running a per-file function over many files: in-process, or in a pool of spawned processes.

Spawn, not fork: deltalake's Rust runtime and fastText's threads do not survive a fork, and a spawned
worker starts clean. Results come back as they finish; a callback reports progress.
"""

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity masks
        return max(1, os.cpu_count() or 1)


def run_jobs(
    fn: Callable[[Job], Result],
    jobs: Iterable[Job],
    workers: int,
    on_result: Callable[[int, Result], None] | None = None,
) -> Iterator[Result]:
    """Yield ``fn(job)`` for every job, in completion order.

    ``workers <= 1`` runs in this process (tests, debugging, one-file dumps). Otherwise at most
    ``2 * workers`` jobs are in flight, so a dump of many files never queues every job's arguments at once.
    ``on_result(done_count, result)`` is called as each result arrives.
    """
    done = 0
    if workers <= 1:
        for job in jobs:
            result = fn(job)
            done += 1
            if on_result:
                on_result(done, result)
            yield result
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: set[Future[Result]] = set()
        job_iter = iter(jobs)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < 2 * workers:
                try:
                    pending.add(pool.submit(fn, next(job_iter)))
                except StopIteration:
                    exhausted = True
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                result = future.result()
                done += 1
                if on_result:
                    on_result(done, result)
                yield result
