"""Worker processes never outlive the process that started them.

A pool worker is a separate process: when its parent is killed (SIGKILL, the OOM killer), nothing tells
it to stop, and it keeps its memory (hundreds of MB with a stage's models) with PPID 1. Each worker of
the local pool therefore asks Linux to SIGKILL it when its parent dies (``PR_SET_PDEATHSIG``), and also
watches its parent's id from a thread, which covers the platforms without ``prctl`` and the moment
between the spawn and the ``prctl`` call.

Interrupts belong to the parent: a Ctrl-C at a terminal reaches every process of the foreground group,
and a worker that died of it mid-job would break the pool before the parent decides what to do. Workers
ignore SIGINT; the parent stops them (:func:`stop_workers`) when it gives up.
"""

import ctypes
import ctypes.util
import os
import signal
import threading
import time
from collections.abc import Iterable
from multiprocessing.process import BaseProcess

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_WATCH_SECONDS = 0.2
_STOP_SECONDS = 5.0


def init_worker(parent: int, death_signal: bool) -> None:
    """The pool's initializer: tie this worker's life to ``parent``'s (its pid when it started the pool).

    ``death_signal`` is false when the pool was started from a thread other than the main one: Linux sends
    the signal when the *thread* that spawned the worker ends, which would kill a kept pool's workers.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if death_signal:
        _set_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="corpuslake-parent-watch", daemon=True).start()


def _set_death_signal() -> None:
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watch thread alone stops the worker
        return


def _watch_parent(parent: int) -> None:
    """Exit at once when the parent is gone (the worker is re-parented, so its parent id changes)."""
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


def stop_workers(processes: Iterable[BaseProcess]) -> None:
    """Stop worker processes now and wait until they are gone, so none writes another byte after its
    caller cleans up; SIGKILL those that do not stop on SIGTERM within a few seconds."""
    alive = [p for p in processes if p.is_alive()]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + _STOP_SECONDS
    for process in alive:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(_STOP_SECONDS)
