"""Handing memory a finished step freed back to the operating system.

A run's steps share one long-lived process (Dagster's in-process executor, as ``corpuslake run`` uses).
Memory a step frees stays with the allocators that held it: Arrow's pool (mimalloc) keeps its segments,
and glibc's malloc keeps freed pages in its arenas, so the process's resident size after a step is the
largest of every earlier step plus its own. Releasing both after each step makes each step's peak its own.

The garbage collection that comes first walks every object the collector tracks. The process's own state
(Dagster, Great Expectations, pandas and the rest: about half a million objects once imported) is alive for
the whole process, so walking it after every step finds nothing and costs about 0.3 CPU s each time.
:func:`long_lived_set_aside` sets that state aside for a job, so a step's collection walks only what the job
made.

A pool worker is the same case job after job: what survives a job is its imports, models and caches, and
walking them at every job's end was most of the cost of a job's release (tens of thousands of objects per
model or table of words). :func:`set_aside_between_jobs` makes :func:`release_after_job` exempt what survives
each job from the next one's collection, with a full collection every :data:`FULL_COLLECTION_JOBS` jobs so
that garbage in a cycle through exempt objects (a cache entry replaced) is still freed.
"""

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pyarrow as pa


@dataclass
class _Aside:
    """How many :func:`long_lived_set_aside` blocks this process is inside."""

    depth: int = 0


_ASIDE = _Aside()


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # glibc only


def release_memory() -> None:
    """Collect garbage, then return the free memory of Arrow's pool and of malloc to the system. Inside
    :func:`long_lived_set_aside`, what is still alive after the collection is set aside too, until the block
    ends: the next release in the block walks only what was made since (a step's hook, after each step)."""
    gc.collect()
    if _ASIDE.depth:
        gc.freeze()
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@contextlib.contextmanager
def long_lived_set_aside() -> Iterator[None]:
    """Collect garbage, then exempt every object still alive from the collections made inside the block
    (``gc.freeze``); on leaving, every exempt object is collectable again (``gc.unfreeze``).

    Meant for a block that starts when what is alive is the process's own state (modules, definitions, the
    Dagster instance, caches): one job of a run. An exempt object is still freed as soon as nothing refers to
    it; garbage in a reference cycle through an exempt object waits for the first collection after the
    block, not for the end of the process. Objects made inside the block are collected as before, and what
    survives a :func:`release_memory` inside the block is exempt from then on, on the same terms.
    """
    gc.collect()
    gc.freeze()
    _ASIDE.depth += 1
    try:
        yield
    finally:
        _ASIDE.depth -= 1
        gc.unfreeze()


FULL_COLLECTION_JOBS = 16
"""In a process that sets its state aside between jobs: every this many jobs, the release after a job walks
everything (exempt objects included) instead of only what the job made."""


@dataclass
class _Between:
    """Whether this process sets aside what survives each job, and the jobs since its last full walk."""

    enabled: bool = False
    jobs: int = 0


_BETWEEN = _Between()


def set_aside_between_jobs() -> None:
    """From now on, :func:`release_after_job` exempts what survives each job of this process from the
    collections that follow: for a process that runs jobs and nothing else (a pool worker)."""
    _BETWEEN.enabled, _BETWEEN.jobs = True, 0


def release_after_job() -> None:
    """:func:`release_memory` after one job; with :func:`set_aside_between_jobs`, what is still alive after it
    is then exempt from the next job's collection (and every :data:`FULL_COLLECTION_JOBS` jobs nothing is)."""
    if not _BETWEEN.enabled:
        release_memory()
        return
    _BETWEEN.jobs += 1
    if _BETWEEN.jobs % FULL_COLLECTION_JOBS == 0:
        gc.unfreeze()
    release_memory()
    gc.freeze()
