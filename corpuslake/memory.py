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
"""

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from functools import cache

import pyarrow as pa


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None  # glibc only


def release_memory() -> None:
    """Collect garbage, then return the free memory of Arrow's pool and of malloc to the system."""
    gc.collect()
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
    block, not for the end of the process. Objects made inside the block are collected as before.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
