"""What the landing zone holds: dump folders, and whether each has finished arriving.

A dump is complete when its folder holds the marker file (``_SUCCESS`` by default, as Hadoop-style
writers leave) or, without one, when nothing in it has changed for the quiet period. The landing zone
is a local directory or any fsspec URL (``s3://bucket/landing``).
"""

import time
from dataclasses import dataclass

import fsspec

from corpuslake.names import InvalidNameError, check_name


@dataclass(frozen=True)
class DumpFolder:
    name: str
    files: int
    newest: float  # modification time of the newest file (seconds since the epoch), 0 when unknown
    has_marker: bool


def scan_landing(root: str, marker: str = "_SUCCESS") -> list[DumpFolder]:
    """Every dump folder under ``root`` (names that are not valid dump names are skipped)."""
    fs, path = fsspec.core.url_to_fs(root)
    found = []
    for entry in sorted(fs.ls(path, detail=True), key=lambda e: e["name"]):
        if entry["type"] != "directory":
            continue
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        try:
            check_name(name, "dump")
        except InvalidNameError:
            continue
        files = [f for f in fs.ls(entry["name"], detail=True) if f["type"] == "file"]
        newest = max((_mtime(f) for f in files), default=0.0)
        has_marker = any(f["name"].rsplit("/", 1)[-1] == marker for f in files)
        found.append(DumpFolder(name, len(files), newest, has_marker))
    return found


def complete_dumps(
    root: str, marker: str = "_SUCCESS", quiet_seconds: float = 300, now: float | None = None
) -> list[str]:
    """Dump folders ready to process: with the marker file, or untouched for ``quiet_seconds``."""
    current = time.time() if now is None else now
    ready = []
    for folder in scan_landing(root, marker):
        if folder.files == 0:
            continue
        if folder.has_marker or (quiet_seconds >= 0 and folder.newest and current - folder.newest >= quiet_seconds):
            ready.append(folder.name)
    return ready


def _mtime(info: dict[str, object]) -> float:
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
    return 0.0
