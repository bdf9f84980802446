"""Handing memory a finished step freed back to the operating system.

A run's steps share one long-lived process (Dagster's in-process executor, as ``corpuslake run`` uses).
Memory a step frees stays with the allocators that held it: Arrow's pool (mimalloc) keeps its segments,
and glibc's malloc keeps freed pages in its arenas, so the process's resident size after a step is the
largest of every earlier step plus its own. Releasing both after each step makes each step's peak its own.
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
