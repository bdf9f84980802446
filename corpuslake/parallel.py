"""Running a per-file or per-batch function over many jobs: in-process, in a pool of spawned processes,
or as Ray tasks.

Spawn, not fork: deltalake's Rust runtime and fastText's threads do not survive a fork, and a spawned
worker starts clean. Results come back as they finish; a callback reports progress.

Past one machine the same functions run as Ray tasks (:class:`RayExecutor`): a stage passes its
``workers`` through unchanged, an int for the local pool or an executor for Ray. The functions and their
jobs are plain picklable values, and the stages write their intermediate parts under the lake's staging
folder, which every worker must be able to reach (a local disk on one machine; shared storage on a
cluster).

A Ray driver is a Ray core worker: its threads wake on timers (object recovery every 100 ms, RPC polling,
task-event flushes, backlog reports) whether or not a task runs, so its CPU follows the run's wall time.
:data:`DRIVER_SETTINGS` turns off, in this process only, the parts that feed Ray's observability and that
corpuslake does not read; a value the user set in the environment wins.
"""

import contextlib
import functools
import multiprocessing
import multiprocessing.util
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from corpuslake.lifetime import init_worker, stop_workers
from corpuslake.memory import set_aside_between_jobs

Job = TypeVar("Job")
Result = TypeVar("Result")

DRIVER_SETTINGS: Mapping[str, str] = {
    # Task state events (the dashboard's task list and `ray list tasks`): off in the driver, whose events
    # are the states it records as its tasks' owner; the workers still report theirs. Ray documents the
    # value 0 as turning the recording and its reporting off (and the driver then has no thread for it).
    "RAY_task_events_report_interval_ms": "0",
    # Per-handler statistics of the driver's event loops, which Ray only prints to its own log files.
    "RAY_event_stats": "0",
}
"""Ray settings of the driver process (``RAY_<name>`` as Ray reads them when a core worker starts), each
applied only where the environment does not set it. A cluster's own ``_system_config`` still wins."""


@dataclass(frozen=True)
class RayExecutor:
    """Run jobs as Ray tasks on a cluster (``address``) or on a local Ray instance started on demand."""

    address: str = ""
    """A Ray cluster (``ray://host:10001`` or ``auto``); empty: ``RAY_ADDRESS``, else start a local instance."""
    num_cpus: int = 0
    """CPUs of a local instance started here (0: all of this machine's)."""
    task_cpus: float = 1.0
    """CPUs each task reserves."""

    def connect(self) -> Any:
        import ray

        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS") or None
            cpus = None if address else (self.num_cpus or default_workers())  # a cluster knows its own
            with driver_environment(DRIVER_SETTINGS):
                ray.init(address=address, num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        return ray

    def slots(self) -> int:
        """Tasks that can run at once: the cluster's CPUs over each task's share."""
        cpus = float(self.connect().cluster_resources().get("CPU", 1))
        return max(1, int(cpus / self.task_cpus))

    def run(
        self, fn: Callable[[Job], Result], jobs: Iterable[Job], on_result: Callable[[int, Result], None] | None
    ) -> Iterator[Result]:
        ray = self.connect()
        remote = _remote(fn, self.task_cpus)
        limit = 2 * self.slots()  # bounded in flight, as the local pool
        pending: list[Any] = []
        job_iter, exhausted, done = iter(jobs), False, 0
        while pending or not exhausted:
            while not exhausted and len(pending) < limit:
                try:
                    pending.append(remote.remote(next(job_iter)))
                except StopIteration:
                    exhausted = True
            if not pending:
                break
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    raise error.as_instanceof_cause() from None  # the stage's own exception, not Ray's wrapper
                done += 1
                if on_result:
                    on_result(done, result)
                yield result


@contextlib.contextmanager
def driver_environment(settings: Mapping[str, str]) -> Iterator[None]:
    """Set each of ``settings`` the environment lacks while Ray connects, then remove them again: Ray reads
    them when the driver's core worker starts, and the processes this one starts later (the local pool's
    workers) keep the environment they would have had."""
    added = {name: value for name, value in settings.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@functools.cache
def _remote(fn: Callable[[Job], Result], task_cpus: float) -> Any:
    """One Ray remote function per function and CPU share: Ray exports a remote function to the cluster
    once, not again at every stage that maps it."""
    import ray

    return ray.remote(num_cpus=task_cpus, max_retries=2)(fn)


Workers = int | RayExecutor
"""How a stage runs its jobs: a number of local worker processes, or a Ray executor."""


def describe(workers: Workers) -> str:
    return f"ray {workers.address or 'local'}" if isinstance(workers, RayExecutor) else f"{workers} local workers"


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity masks
        return max(1, os.cpu_count() or 1)


def run_jobs(
    fn: Callable[[Job], Result],
    jobs: Iterable[Job],
    workers: Workers,
    on_result: Callable[[int, Result], None] | None = None,
) -> Iterator[Result]:
    """Yield ``fn(job)`` for every job, in completion order.

    ``workers <= 1`` runs in this process (tests, debugging, one-file dumps). Otherwise at most
    ``2 * workers`` jobs are in flight, so a dump of many files never queues every job's arguments at once.
    A :class:`RayExecutor` runs every job as a Ray task instead.
    ``on_result(done_count, result)`` is called as each result arrives.
    """
    if isinstance(workers, RayExecutor):
        yield from workers.run(fn, jobs, on_result)
        return
    done = 0
    if workers <= 1:
        for job in jobs:
            result = fn(job)
            done += 1
            if on_result:
                on_result(done, result)
            yield result
        return
    pool = _pool(workers)
    try:
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
    except BaseException:
        # A failed job, a dead worker, or the caller giving up (an interrupt): drop the pool and its queued
        # jobs, so the next stage starts from clean workers, and stop the jobs in flight before the caller
        # removes what they wrote, so that none writes a file after the clean-up.
        if _POOLS.get(workers, (0, None))[1] is pool:
            del _POOLS[workers]
        processes = list((pool._processes or {}).values())  # the executor exposes no public handle
        pool.shutdown(wait=False, cancel_futures=True)
        stop_workers(processes)
        raise


_POOLS: dict[int, tuple[int, ProcessPoolExecutor]] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, kept for the stages that follow in this process.

    Starting a spawned worker costs about a second (interpreter, imports, the models a stage loads on
    first use); a dump's five stages in one run would pay it five times per worker. Workers keep only
    caches between jobs; every job's inputs travel with it. Workers inherit the environment when they
    start, so a changed environment (another lake's credentials, another cache) gets a new pool.

    Workers die with this process (:mod:`corpuslake.lifetime`). Linux ties that to the spawning *thread*,
    so a pool used from the main thread is never shared with other threads, and vice versa.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    environment = hash((frozenset(os.environ.items()), main_thread))
    kept = _POOLS.get(workers)
    if kept is not None and kept[0] == environment:
        return kept[1]
    if kept is not None:
        kept[1].shutdown(wait=False, cancel_futures=True)
    if not _POOLS:
        # A process started by multiprocessing joins its children when it exits, before the interpreter's
        # own exit hooks would stop the pool: stop the pools first, or such a process never exits.
        multiprocessing.util.Finalize(None, shutdown_pools, exitpriority=100)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_pool_worker,
        initargs=(os.getpid(), main_thread),
    )
    _POOLS[workers] = (environment, pool)
    return pool


def _init_pool_worker(parent: int, death_signal: bool) -> None:
    """A pool worker's start: its life tied to the parent's, and what survives each of its jobs (imports,
    models, caches) set aside from the collection after the next job."""
    init_worker(parent, death_signal)
    set_aside_between_jobs()


def shutdown_pools() -> None:
    """Stop every kept pool and its worker processes."""
    while _POOLS:
        _, (_, pool) = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)
