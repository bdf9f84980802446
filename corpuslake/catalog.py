"""The catalog: every published snapshot and mixture under an immutable number, and pins that resolve to it.

A publication is one version of the Delta table ``snapshots/<name>``. The catalog is a Delta table of its
own with one row per publication:

- what it is: ``name``, ``number``, ``kind``, and the table and Delta version that hold its rows;
- how big it is: ``documents``, ``tokens``, and the ``tokenizer`` that counted them;
- how to check it: a ``manifest`` (every data file with its size, SHA-256 and BLAKE3, in row order), the
  ``manifest_sha256`` over that list, and a ``content_sha256`` over the rows themselves;
- where it came from: the ``lineage`` (upstream table versions, the definition, the run), the
  ``checks`` it passed, and a ``report`` (selection counts, or realized against requested proportions).

Each publication replaces the catalog in one commit that is conditional on the version that was read
(compare-and-swap on the Delta log), so two publishers can never hand out the same number: the loser
re-reads and takes the next one. Numbers start at 1, are never reused and never change meaning, and
publishing content identical to a name's latest publication mints no new number.

A pin is ``corpuslake://<name>@<number>``. ``@latest`` exists only for writing lock files.

Exports of a pin to token shards are recorded beside the catalog, in the table ``exports`` (one row per
export, keyed by its ``export_id``: :mod:`corpuslake.export.registry`).
"""

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import blake3
import pyarrow as pa

from corpuslake.lineage import Lineage
from corpuslake.names import check_name
from corpuslake.pins import Pin, PinError, parse_pin
from corpuslake.store import ConcurrentUpdateError, Lake

CATALOG_TABLE = "catalog"
EXPORTS_TABLE = "exports"
SNAPSHOTS_PREFIX = "snapshots"
# Time travel to a published version needs its log entries: keep them (and say so in the table's own
# properties, so any Delta tool cleaning the log honours it).
PUBLISHED_TABLE_PROPERTIES = {
    "delta.logRetentionDuration": "interval 36500 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}
_MAX_ATTEMPTS = 20

CATALOG = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("number", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # snapshot or mixture
        pa.field("table", pa.string(), nullable=False),
        pa.field("delta_version", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("tokens", pa.int64(), nullable=False),
        pa.field("tokenizer", pa.string(), nullable=False),
        pa.field("order_by", pa.string(), nullable=False),  # the column the rows are sorted by
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("manifest_sha256", pa.string(), nullable=False),
        pa.field("manifest", pa.string(), nullable=False),  # JSON [{path, size, sha256, blake3, rows}], row order
        pa.field("lineage", pa.string(), nullable=False),  # JSON: upstream versions, definition, run
        pa.field("checks", pa.string(), nullable=False),  # JSON {check: {passed, detail}}
        pa.field("report", pa.string(), nullable=False),  # JSON: selection counts or mixture proportions
        pa.field("published_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class ManifestFile:
    path: str  # relative to the snapshot's table folder
    size: int
    sha256: str  # for anyone's tools (sha256sum)
    blake3: str  # what readers check as they stream: about four times faster than SHA-256 here
    rows: int


def file_digests(data: pa.Buffer) -> tuple[str, str]:
    """SHA-256 and BLAKE3 of one file's bytes, as a manifest records them."""
    view = memoryview(data)
    return hashlib.sha256(view).hexdigest(), blake3.blake3(view).hexdigest()


def stream_digests(handle: pa.NativeFile, chunk_bytes: int = 8 << 20) -> tuple[str, str]:
    """:func:`file_digests` of an open file, read ``chunk_bytes`` at a time from its start."""
    sha, blake = hashlib.sha256(), blake3.blake3()
    handle.seek(0)
    while chunk := handle.read(chunk_bytes):
        sha.update(chunk)
        blake.update(chunk)
    return sha.hexdigest(), blake.hexdigest()


def manifest_sha256(files: Sequence[ManifestFile]) -> str:
    """The hash of a manifest: over every file's path, size, rows and digests, in row order."""
    canonical = json.dumps([asdict(f) for f in files], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CatalogEntry:
    """One publication: a name, its number, and exactly which bytes it is."""

    name: str
    number: int
    kind: str
    table: str
    delta_version: int
    documents: int
    tokens: int
    tokenizer: str
    order_by: str
    content_sha256: str
    manifest_sha256: str
    manifest: tuple[ManifestFile, ...]
    lineage: Mapping[str, Any]
    checks: Mapping[str, Any]
    report: Mapping[str, Any]
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def uri(self) -> str:
        return str(Pin(self.name, self.number))

    def to_row(self) -> dict[str, Any]:
        return {
            **{k: getattr(self, k) for k in CATALOG.names if k not in ("manifest", "lineage", "checks", "report")},
            "manifest": json.dumps([asdict(f) for f in self.manifest], separators=(",", ":")),
            "lineage": json.dumps(self.lineage, sort_keys=True, default=str),
            "checks": json.dumps(self.checks, sort_keys=True, default=str),
            "report": json.dumps(self.report, sort_keys=True, default=str),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "CatalogEntry":
        return cls(
            **{k: row[k] for k in CATALOG.names if k not in ("manifest", "lineage", "checks", "report")},
            manifest=tuple(ManifestFile(**f) for f in json.loads(row["manifest"])),
            lineage=json.loads(row["lineage"]),
            checks=json.loads(row["checks"]),
            report=json.loads(row["report"]),
        )


class Catalog:
    """The published snapshots of one lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def _read(self) -> tuple[int | None, list[CatalogEntry]]:
        version = self.lake.version(CATALOG_TABLE)
        if version is None:
            return None, []
        rows = self.lake.read(CATALOG_TABLE, version).to_pylist()
        entries = sorted((CatalogEntry.from_row(r) for r in rows), key=lambda e: (e.name, e.number))
        return version, entries

    def entries(self, name: str | None = None) -> list[CatalogEntry]:
        """Every publication (of ``name``), ordered by name and number."""
        return [e for e in self._read()[1] if name is None or e.name == name]

    def latest(self, name: str) -> CatalogEntry | None:
        entries = self.entries(name)
        return entries[-1] if entries else None

    def resolve(self, pin: Pin | str) -> CatalogEntry:
        """The publication a pin names; an error that says what is wrong when there is none."""
        if isinstance(pin, str):
            pin = parse_pin(pin, allow_latest=True)
        entries = self.entries()
        mine = [e for e in entries if e.name == pin.name]
        if not mine:
            known = sorted({e.name for e in entries})
            listing = ", ".join(known) if known else "none yet"
            near = difflib.get_close_matches(pin.name, known, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise PinError(
                f"{pin}: no snapshot named {pin.name!r} in the catalog of {self.lake.root}{hint} (published: {listing})"
            )
        if pin.number is None:
            return mine[-1]
        for entry in mine:
            if entry.number == pin.number:
                return entry
        numbers = ", ".join(str(e.number) for e in mine)
        raise PinError(f"{pin}: {pin.name} has no number {pin.number} (published numbers: {numbers})")

    def record(self, entry: CatalogEntry, lineage: Lineage) -> tuple[CatalogEntry, bool]:
        """Publish ``entry`` under the next number of its name; return it and whether it is new.

        The ``number`` of ``entry`` is ignored. When the name's latest publication has the same content
        hash, that publication is returned and nothing is written.
        """
        check_name(entry.name, "snapshot name")
        for _ in range(_MAX_ATTEMPTS):
            version, entries = self._read()
            if version is None:
                version = self.lake.ensure_table(CATALOG_TABLE, CATALOG, {})
                continue
            mine = [e for e in entries if e.name == entry.name]
            if mine and mine[-1].content_sha256 == entry.content_sha256:
                return mine[-1], False
            numbered = replace(entry, number=(mine[-1].number + 1) if mine else 1)
            rows = [e.to_row() for e in [*entries, numbered]]
            try:
                self.lake.replace_if_unchanged(
                    CATALOG_TABLE, pa.Table.from_pylist(rows, schema=CATALOG), lineage, version
                )
            except ConcurrentUpdateError:
                continue  # another publication landed first: read again, take the next number
            return numbered, True
        raise ConcurrentUpdateError(
            f"the catalog kept changing: {entry.name} was not published after {_MAX_ATTEMPTS} tries"
        )


def snapshot_table(name: str) -> str:
    return f"{SNAPSHOTS_PREFIX}/{check_name(name, 'snapshot name')}"
