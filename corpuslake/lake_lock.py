"""One writer per lake: a second ``corpuslake run`` on the same lake waits, and says who holds it.

Two runs on one lake would both train a model and both ingest the same dumps, each committing new
versions over the other's. On a lake on the local filesystem (or one shared over NFS with working
``flock``), the writer lock is an exclusive ``flock`` on ``<lake>/_locks/writer.lock``, which also holds
who took it (host, process, command, time). The kernel drops the lock when its holder exits, however it
exits, so a killed run never leaves a stale lock. A lake on object storage has no such lock: runs there
are serialized by the orchestrator instead (one run at a time per lakeFS repository, see the deploy
folder), so this lock is a no-op for them.
"""

import fcntl
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from corpuslake.errors import CorpuslakeError
from corpuslake.locations import is_local


class LakeBusyError(CorpuslakeError):
    """Another process holds the lake's writer lock and the caller chose not to wait."""


@contextmanager
def lake_lock(
    root: str, *, command: str, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the writer lock of the lake at ``root`` for the block (see the module's docstring)."""
    if not is_local(root):
        yield
        return
    lake = Path(root.removeprefix("file://"))
    created = not lake.exists()
    folder = lake / "_locks"
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / "writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 4096, 0).decode(errors="replace").strip() or "another process"
            if not wait:
                raise LakeBusyError(f"lake {root} is being written by {holder}") from None
            if on_wait is not None:
                on_wait(f"lake {root} is being written by {holder}: waiting for it to finish")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{command} (pid {os.getpid()} on {socket.gethostname()}, since {stamp})".encode(), 0)
        yield
    finally:
        if created and [p.name for p in lake.iterdir()] == ["_locks"]:
            shutil.rmtree(lake, ignore_errors=True)  # a refused run leaves no lake behind it
        os.close(descriptor)  # closing the only descriptor releases the lock
