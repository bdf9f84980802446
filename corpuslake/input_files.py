"""What became of the input files of each dump: read, rejected (no archive or document file format) or empty.

The crawl_files inventory has a row for every file of a dump folder. A rejected file has ``format =
rejected`` and the reason in ``error``; a 0-byte file has ``format = empty`` and is not read. An empty
``.warc.gz`` is most often an upload that failed part-way, so it is said as a warning rather than counted
silently among the files.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from corpuslake.store import Lake

INVENTORY = "crawl_files"
SHOWN_PER_KIND = 10
"""Files named per dump and kind; a folder of thousands of stray files gets a count, not a flood."""


@dataclass(frozen=True)
class DumpInputs:
    """The input files of one dump, as the latest inventory of that dump lists them."""

    dump: str
    files: int
    rejected: tuple[str, ...]
    """The reason of each rejected file (it names the file)."""
    empty: tuple[str, ...]
    """The path of each 0-byte file, relative to the dump folder."""

    @property
    def read(self) -> int:
        return self.files - len(self.rejected) - len(self.empty)


def dump_inputs(lake: Lake, dumps: Sequence[str] | None = None) -> list[DumpInputs]:
    """Every dump's input files (of ``dumps`` only, if given), in dump order; none before any inventory."""
    version = lake.version(INVENTORY)
    if version is None:
        return []
    columns = ["dump", "source_file", "format", "error"]
    rows = lake.read(INVENTORY, version, dumps=list(dumps) if dumps else None, columns=columns).to_pylist()
    result = []
    for dump in sorted({r["dump"] for r in rows}):
        mine = sorted((r for r in rows if r["dump"] == dump), key=lambda r: r["source_file"])
        rejected = tuple(r["error"] or r["source_file"] for r in mine if r["format"] == "rejected")
        empty = tuple(r["source_file"] for r in mine if r["format"] == "empty")
        result.append(DumpInputs(dump, len(mine), rejected, empty))
    return result


def input_lines(inputs: Sequence[DumpInputs]) -> list[str]:
    """A count per dump, then each rejected file and a warning for each empty one."""
    if not inputs:
        return []
    lines = ["input files per dump (read / rejected / empty):"]
    for d in inputs:
        lines.append(f"  {d.dump}: {d.files} file(s): {d.read} read, {len(d.rejected)} rejected, {len(d.empty)} empty")
        lines += [f"    REJECTED  {reason}" for reason in d.rejected[:SHOWN_PER_KIND]]
        if len(d.rejected) > SHOWN_PER_KIND:
            lines.append(f"    REJECTED  ... and {len(d.rejected) - SHOWN_PER_KIND} more")
        lines += [
            f"WARNING  {d.dump}/{path} is empty (0 bytes), usually a failed upload: nothing was read from it"
            for path in d.empty[:SHOWN_PER_KIND]
        ]
        if len(d.empty) > SHOWN_PER_KIND:
            lines.append(f"WARNING  {d.dump}: {len(d.empty) - SHOWN_PER_KIND} more empty file(s)")
    return lines
