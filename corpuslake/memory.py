"""Handing memory a finished step freed back to the operating system.

A run's steps share one long-lived process (Dagster's in-process executor, as ``corpuslake run`` uses).
Memory a step frees stays with the allocators that held it: Arrow's pool (mimalloc) keeps its segments,
and glibc's malloc keeps freed pages in its arenas, so the process's resident size after a step is the
largest of every earlier step plus its own. Releasing both after each step makes each step's peak its own.

The garbage collection that comes first walks every object the collector tracks. The process's own state
(Dagster, Great Expectations, pandas and the rest: about half a million objects once imported) is alive for
the whole process, so walking it after every step finds nothing and costs about 0.3 CPU s each time.
:func:`keep_long_lived` sets that state aside between jobs, so a step's collection walks only what was made
since.
"""

import ctypes
import ctypes.util
import gc
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


def keep_long_lived() -> None:
    """Collect garbage, then exempt every object still alive from later collections (``gc.freeze``).

    Meant for the moments when what is alive is the process's own state (modules, definitions, the Dagster
    instance, caches): before each job of a run. An exempt object is still freed as soon as nothing refers
    to it; only a reference cycle through an exempt object would stay, and the process's own state does not
    become such garbage while the process lives. Objects made later are collected as before.
    """
    gc.collect()
    gc.freeze()
