"""Measuring a command as a process tree: CPU seconds, peak RSS per process and role, wall time.

Linux only: it reads ``/proc`` and uses prctl. The measuring process makes itself a child subreaper, so
every descendant of the command, orphans included, is finally reaped by it or by a process of the tree,
and the total CPU is exact: ``getrusage(RUSAGE_CHILDREN)`` around the run (user+sys of every process of
the tree, pool workers and forkservers included). While the command runs, every ``interval`` seconds it
walks the tree and records, per pid, the kernel's own peak resident set (``VmHWM``, so a spike between
two polls is not missed as long as the process is alive at the next poll) and its command line, and a
timeline of the tree's CPU so far (live processes' ``utime+stime+cutime+cstime`` plus what was reaped
here). The timeline lets a caller attribute CPU to intervals (stages) it learns from the command's log.

After reading a process's ``VmHWM`` the poll resets it to the current resident size (``clear_refs`` 5), so
the next poll's ``VmHWM`` is that process's peak since this poll: an interval's peak per role (driver,
pool worker...) is exact, spikes between polls included, where the current size alone would miss them.
"""

import bisect
import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

_TICK = os.sysconf("SC_CLK_TCK")
_Point = TypeVar("_Point", bound=tuple[Any, ...])
_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class ProcessPeak:
    """The largest resident set seen for one process of the tree."""

    pid: int
    role: str
    """What the process is: driver, pool worker, forkserver, resource tracker, a fork of one of these..."""
    command: str
    """Its command line, shortened."""
    peak_rss: int = 0
    """Bytes: the kernel's high-water mark (VmHWM) at the last poll it was alive."""


@dataclass
class Measurement:
    """What one measured command cost."""

    command: list[str]
    returncode: int | None
    wall_seconds: float
    cpu_seconds: float
    """user+sys of the whole tree, from getrusage(RUSAGE_CHILDREN) after wait."""
    polled_cpu_seconds: float
    """The same from the last /proc poll (a cross-check; misses the last interval)."""
    processes: list[ProcessPeak] = field(default_factory=list)
    timeline: list[tuple[float, float]] = field(default_factory=list)
    """(unix time, tree CPU seconds so far), one point per poll."""
    rss_timeline: list[tuple[float, int, str]] = field(default_factory=list)
    """(unix time, largest RSS in the tree since the previous poll, its role), one point per poll."""
    role_timeline: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    """(unix time, the largest RSS since the previous poll of each role's processes), one point per poll."""
    interrupted: bool = False
    """The command was stopped from outside before it finished: the figures cover what it did so far."""

    @property
    def largest(self) -> ProcessPeak:
        return max(self.processes, key=lambda p: p.peak_rss)

    def cpu_between(self, start: float, end: float) -> float:
        """Tree CPU seconds spent between two unix times, interpolated on the timeline."""
        return max(0.0, _cpu_at(self.timeline, end) - _cpu_at(self.timeline, start))

    def rss_between(self, start: float, end: float) -> tuple[int, str]:
        """The largest RSS of the tree between two unix times, and the role of that process (the poll after
        ``end`` counts: its peak covers the interval that ends it)."""
        inside = [(rss, role) for t, rss, role in _window(self.rss_timeline, start, end)]
        return max(inside, default=(0, ""))

    def roles_between(self, start: float, end: float) -> dict[str, int]:
        """The largest RSS of each role's processes between two unix times."""
        peaks: dict[str, int] = {}
        for _, by_role in _window(self.role_timeline, start, end):
            for role, rss in by_role.items():
                peaks[role] = max(peaks.get(role, 0), rss)
        return peaks

    def peak_by_role(self) -> dict[str, int]:
        """The largest peak RSS among the processes of each role."""
        peaks: dict[str, int] = {}
        for proc in self.processes:
            peaks[proc.role] = max(peaks.get(proc.role, 0), proc.peak_rss)
        return peaks


@dataclass(frozen=True)
class ChildRun:
    """One child process run to its end, measured by ``wait4`` (no descendants: see :func:`run_measured`)."""

    seconds: float
    cpu_seconds: float
    """user+sys of the child itself."""
    peak_rss_kb: int
    """The child's ``ru_maxrss``."""
    stdout: bytes


def run_child(command: Sequence[str], what: str) -> ChildRun:
    """Run ``command`` with its output captured; exit with ``what`` named if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{what} failed with exit status {process.returncode}")
    return ChildRun(time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, output)


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    log: Path | None = None,
    interval: float = 0.2,
    linger: float = 60.0,
) -> Measurement:
    """Run ``command`` to completion, its output into ``log`` (or discarded), and measure its tree.

    This process becomes a child subreaper first: a descendant orphaned by its parent (a forkserver its
    driver never waits for, a daemon) is re-parented here instead of to init, and reaped here, so its CPU
    reaches ``RUSAGE_CHILDREN`` too. After the command exits, its orphans get ``linger`` seconds to finish,
    then are killed (by pid). Call it from one thread, with no other child process running.

    A KeyboardInterrupt (the caller may turn SIGTERM into one) terminates the command (killed 15 s later if
    still there), and the figures so far are returned with ``interrupted`` set; a second one kills what is
    left of the tree at once.
    """
    _become_subreaper()
    before = _children_cpu()
    sink = log.open("wb") if log else subprocess.DEVNULL
    started = time.perf_counter()
    peaks: dict[int, ProcessPeak] = {}
    timeline: list[tuple[float, float]] = []
    rss_timeline: list[tuple[float, int, str]] = []
    role_timeline: list[tuple[float, dict[str, int]]] = []
    try:
        proc = subprocess.Popen(list(command), env=dict(env) if env else None, cwd=cwd, stdout=sink, stderr=sink)
        returncode: int | None = None
        wall, interrupted, kill_at = 0.0, False, 0.0
        while True:
            try:
                for pid, status in _reap():
                    if pid == proc.pid:
                        returncode, wall = os.waitstatus_to_exitcode(status), time.perf_counter() - started
                live, by_role = _poll_tree(os.getpid(), proc.pid, peaks)
                now = time.time()
                timeline.append((now, live + _children_cpu() - before))
                rss_timeline.append((now, *max(((rss, role) for role, rss in by_role.items()), default=(0, ""))))
                role_timeline.append((now, by_role))
                if returncode is not None and not _children(os.getpid()):
                    break
                if returncode is not None and time.perf_counter() - started - wall > linger:
                    _kill_children(signal.SIGKILL)
                if returncode is None and interrupted and time.perf_counter() > kill_at:
                    _kill_children(signal.SIGKILL)  # Dagster finishes its step before it heeds SIGTERM
                time.sleep(interval)
            except KeyboardInterrupt:
                _kill_children(signal.SIGKILL) if interrupted else proc.terminate()
                interrupted, linger, kill_at = True, min(linger, 10.0), time.perf_counter() + 15
        proc.returncode = returncode  # reaped here, not by Popen
    finally:
        if log and not isinstance(sink, int):
            sink.close()
    cpu = _children_cpu() - before
    polled = timeline[-2][1] if len(timeline) > 1 else 0.0
    timeline.append((time.time(), cpu))  # the exact total closes the timeline
    measured = Measurement(
        list(command), returncode, wall, cpu, polled, list(peaks.values()), timeline, rss_timeline, role_timeline
    )
    measured.interrupted = interrupted
    return measured


def _kill_children(sig: signal.Signals) -> None:
    for pid in _children(os.getpid()):
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, sig)


def _become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap() -> list[tuple[int, int]]:
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, status))


def _children(parent: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    except OSError:
        return []


def _window(timeline: list[_Point], start: float, end: float) -> list[_Point]:
    """The points of a timeline inside [start, end], and the first one after ``end``."""
    inside = [point for point in timeline if start <= point[0] <= end]
    after = next((point for point in timeline if point[0] > end), None)
    return inside + ([after] if after is not None else [])


def _cpu_at(timeline: list[tuple[float, float]], when: float) -> float:
    if not timeline:
        return 0.0
    times = [t for t, _ in timeline]
    i = bisect.bisect_left(times, when)
    if i == 0:
        return timeline[0][1]
    if i >= len(timeline):
        return timeline[-1][1]
    (t0, c0), (t1, c1) = timeline[i - 1], timeline[i]
    return c0 + (c1 - c0) * (when - t0) / (t1 - t0) if t1 > t0 else c1


def _poll_tree(harness: int, root: int, peaks: dict[int, ProcessPeak]) -> tuple[float, dict[str, int]]:
    """Update ``peaks`` for every live process under ``harness`` (the command ``root`` and any orphan of it
    re-parented here); return their CPU seconds so far (what they reaped included), and the largest RSS
    since the previous poll among each role's processes."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            parents[int(entry.name)] = int(fields[1])
            stats[int(entry.name)] = fields
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree: list[int] = []
    frontier = [harness]
    while frontier:
        kids = [k for p in frontier for k in children.get(p, [])]
        tree += kids
        frontier = kids
    cpu = 0.0
    by_role: dict[str, int] = {}
    for pid in tree:
        fields = stats.get(pid)
        if fields is None:
            continue
        # fields after the command name: [0]=state, [1]=ppid, ... [11..14]=utime, stime, cutime, cstime
        cpu += sum(int(x) for x in fields[11:15]) / _TICK
        hwm, current = _rss(pid)
        if pid not in peaks:
            command = _command(pid)
            peaks[pid] = ProcessPeak(pid, _role(pid, root, command, parents, peaks), command[:160])
        peaks[pid].peak_rss = max(peaks[pid].peak_rss, hwm)
        role = peaks[pid].role
        by_role[role] = max(by_role.get(role, 0), hwm if _reset_peak(pid) else current)
    return cpu, by_role


def _reset_peak(pid: int) -> bool:
    """Set a process's VmHWM back to its current RSS, so the next poll reads its peak since this one; False
    where the kernel refuses (then this poll's VmHWM is a peak since start, and the current RSS is used)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses


def _rss(pid: int) -> tuple[int, int]:
    """(peak, current) resident bytes of a process; zeros for a zombie, which has no memory lines."""
    found = {"VmHWM:": 0, "VmRSS:": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line[:6]
            if key in found:
                found[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found["VmHWM:"], found["VmRSS:"]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _role(pid: int, root: int, command: str, parents: dict[int, int], seen: dict[int, ProcessPeak]) -> str:
    """Name a process by what it runs; a fork (same command line as its parent) is named after the parent."""
    if pid == root:
        return "driver"
    parent = seen.get(parents.get(pid, -1))
    if parent is not None and command[:160] == parent.command:
        if parent.role == "forkserver":
            return "pool worker (forkserver)"
        return parent.role if parent.role.startswith("fork of ") else f"fork of {parent.role}"
    if "resource_tracker" in command:
        return "resource tracker"
    if "spawn_main" in command:
        return "pool worker (spawned)"
    if "forkserver" in command:
        return "forkserver"
    program = Path(command.split()[0]).name if command else "unknown"
    if program.startswith("ray") or "raylet" in command or "default_worker.py" in command:
        return f"ray: {program}"
    if "dagster" in command and "execute_step" in command:
        return "dagster step process"
    return program
