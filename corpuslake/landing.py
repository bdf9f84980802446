"""What the landing zone holds: dump folders, and whether each has finished arriving.

A dump is complete when its folder holds the marker file (``_SUCCESS`` by default, as Hadoop-style
writers leave) or, without one, when nothing in it has changed for the quiet period. The landing zone
is a local directory or an object-store URL (``s3://bucket/landing``) read through Arrow's filesystems,
the same S3 client the lake uses. Stages read a remote file from a local copy.
"""

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from corpuslake.errors import InputError, LandingZoneError
from corpuslake.names import InvalidNameError, check_name

log = logging.getLogger(__name__)
_IGNORED_PREFIXES = (".", "_")


@dataclass(frozen=True)
class DumpFolder:
    name: str
    files: int
    newest: float  # modification time of the newest file (seconds since the epoch), 0 when unknown
    has_marker: bool
    fingerprint: str = ""
    """A digest of the names and sizes of the files a run reads: equal when the dump's files are unchanged
    (touching a file or writing the marker does not change it; a new, removed or regrown file does)."""


@dataclass(frozen=True)
class Readiness:
    """Whether one dump folder is complete, and why (or why not), in words for the console."""

    folder: DumpFolder
    complete: bool
    why: str


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def _filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    """Arrow's filesystem for a landing zone: local, or ``s3://`` (credentials and endpoint from the
    standard AWS environment), ``gs://``, ``hdfs://``."""
    if not is_remote(root):
        return pafs.LocalFileSystem(), str(Path(root.removeprefix("file://")).resolve())
    filesystem, path = pafs.FileSystem.from_uri(root)
    return filesystem, path.rstrip("/")


def _join(root: str, relative: str) -> str:
    return f"{root.rstrip('/')}/{relative}"


def _dump_folders(filesystem: pafs.FileSystem, base: str, root: str) -> list[tuple[str, str]]:
    try:
        entries = filesystem.get_file_info(pafs.FileSelector(base, recursive=False))
    except FileNotFoundError as error:
        raise LandingZoneError(f"landing zone {root} does not exist") from error
    folders = []
    for entry in sorted(entries, key=lambda e: e.path):
        if entry.type != pafs.FileType.Directory or entry.base_name.startswith(_IGNORED_PREFIXES):
            continue
        try:
            folders.append((check_name(entry.base_name, "dump"), entry.path))
        except InvalidNameError as exc:
            log.warning("skipping landing folder %s: %s", entry.path, exc)
    return folders


def list_dumps(root: str) -> list[str]:
    """Names of the dump folders of a landing zone; folders whose name is unsafe are skipped with a warning."""
    filesystem, base = _filesystem(root)
    if not is_remote(root) and not Path(base).is_dir():
        raise LandingZoneError(f"landing zone {root} is not a directory")
    return [name for name, _ in _dump_folders(filesystem, base, root)]


def list_dump_files(root: str, dump: str) -> list[tuple[str, str]]:
    """Every regular file of one dump folder (recursively), sorted, markers and hidden files aside, as
    (location, path relative to the dump folder)."""
    filesystem, base = _filesystem(root)
    folder = f"{base}/{check_name(dump, 'dump')}"
    info = filesystem.get_file_info(folder)
    if info.type != pafs.FileType.Directory:
        raise LandingZoneError(f"dump {dump!r} has no folder in the landing zone {root}")
    files = []
    for entry in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True)):
        relative = entry.path[len(folder) + 1 :]
        if entry.type == pafs.FileType.File and not any(
            part.startswith(_IGNORED_PREFIXES) for part in relative.split("/")
        ):
            location = entry.path if not is_remote(root) else _join(root, f"{dump}/{relative}")
            files.append((location, relative))
    return sorted(files, key=lambda f: f[1])


@contextmanager
def local_copy(location: str) -> Iterator[Path]:
    """A local path for one landing-zone file: the file itself, or a copy of a remote one in the temporary
    folder, removed afterwards (the WARC reader maps files into memory to recover from damage)."""
    if not is_remote(location):
        yield Path(location.removeprefix("file://"))
        return
    filesystem, path = pafs.FileSystem.from_uri(location)
    handle, name = tempfile.mkstemp(prefix="corpuslake-landing-", suffix="-" + path.rsplit("/", 1)[-1])
    copy = Path(name)
    try:
        with filesystem.open_input_stream(path, compression=None) as source, open(handle, "wb") as sink:  # noqa: PTH123
            shutil.copyfileobj(source, sink, 1 << 22)
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def scan_landing(root: str, marker: str = "_SUCCESS") -> list[DumpFolder]:
    """Every dump folder under ``root`` (names that are not valid dump names are skipped)."""
    filesystem, base = _filesystem(root)
    found = []
    for name, folder in _dump_folders(filesystem, base, root):
        files = [
            f
            for f in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True))
            if f.type == pafs.FileType.File
        ]
        newest = max((f.mtime.timestamp() for f in files if f.mtime is not None), default=0.0)
        has_marker = any(f.path == f"{folder}/{marker}" for f in files)
        data = [f for f in files if f.base_name != marker]
        found.append(DumpFolder(name, len(data), newest, has_marker, _fingerprint(folder, files)))
    return found


def _fingerprint(folder: str, files: list[pafs.FileInfo]) -> str:
    """Names and sizes of the files a run reads (markers and hidden files aside), as in list_dump_files."""
    digest = hashlib.sha256()
    for info in sorted(files, key=lambda f: f.path):
        relative = info.path[len(folder) + 1 :]
        if not any(part.startswith(_IGNORED_PREFIXES) for part in relative.split("/")):
            digest.update(f"{relative}\t{info.size}\n".encode())
    return digest.hexdigest()[:16]


def complete_dumps(
    root: str, marker: str = "_SUCCESS", quiet_seconds: float = 300, now: float | None = None
) -> list[str]:
    """Dump folders ready to process: with the marker file, or untouched for ``quiet_seconds``."""
    return [r.folder.name for r in readiness(root, marker, quiet_seconds, now) if r.complete]


def readiness(
    root: str, marker: str = "_SUCCESS", quiet_seconds: float = 300, now: float | None = None
) -> list[Readiness]:
    """Every dump folder with the completeness rule's verdict: the marker, or ``quiet_seconds`` without a
    change (negative: the marker only). A folder with no file is never complete."""
    current = time.time() if now is None else now
    verdicts = []
    for folder in scan_landing(root, marker):
        quiet = current - folder.newest if folder.newest else 0.0
        if folder.files == 0:
            verdicts.append(Readiness(folder, False, "its folder holds no file"))
        elif folder.has_marker:
            verdicts.append(Readiness(folder, True, f"{marker} is there"))
        elif quiet_seconds >= 0 and folder.newest and quiet >= quiet_seconds:
            verdicts.append(Readiness(folder, True, f"unchanged for {quiet:.0f} s"))
        else:
            wait = f"; or once unchanged for {quiet_seconds:.0f} s" if quiet_seconds >= 0 else ""
            why = f"still arriving: no {marker} (write it when the copy is complete{wait})"
            verdicts.append(Readiness(folder, False, why))
    return verdicts


def choose_dumps(
    root: str,
    names: list[str] | None = None,
    *,
    marker: str = "_SUCCESS",
    quiet_seconds: float = 300,
    force: bool = False,
) -> tuple[list[Readiness], list[Readiness]]:
    """The complete dumps to run (``names``, or all) and the incomplete ones left aside; ``force`` takes
    every folder that holds a file, complete or not.

    Clear errors, in one line each: a landing zone with no valid dump folder, a named dump it does not
    hold, and no complete dump at all (naming why each is incomplete)."""
    verdicts = readiness(root, marker, quiet_seconds)
    if not verdicts:
        raise LandingZoneError(
            f"landing zone {root} holds no dump folder (one folder per dump, named like CC-MAIN-2024-10: "
            "letters, digits, '.', '_', '-'; names starting with '.' or '_' are not read)"
        )
    found = {v.folder.name: v for v in verdicts}
    missing = sorted(set(names or []) - set(found))
    if missing:
        raise InputError(f"no such dump in {root}: {', '.join(missing)} (found: {', '.join(found)})")
    chosen = [found[n] for n in dict.fromkeys(names)] if names else verdicts
    ready = [v for v in chosen if v.complete or (force and v.folder.files > 0)]
    if not ready:
        reasons = "; ".join(f"{v.folder.name}: {v.why}" for v in chosen)
        raise LandingZoneError(f"no complete dump folder in {root}: {reasons}")
    return ready, [v for v in chosen if v not in ready]
