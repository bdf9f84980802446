"""Garbage collection that never breaks a pin: vacuum old files, keep every published version readable.

Vacuum deletes data files that no version newer than the retention window still uses; Delta itself
knows nothing of our pins. ``collect_garbage`` therefore passes every version a pin can reach to
``vacuum(keep_versions=...)``: each published version of a snapshot table, and every stage-table
version in the lineage of a published snapshot (so an auditor can still trace it), plus each table's
latest version. Published tables are created with a log retention of 100 years, so time travel to
their versions keeps working after Delta cleans its log.

The registered consumers (:mod:`corpuslake.consumers`) say who reads which pin: the report names, for
each table, the versions kept because a consumer holds them. With ``release_unheld`` the published
versions that no active consumer holds (other than each name's latest number) are released: their
files go once they are past the retention, and their pins can no longer be opened.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable

from corpuslake.catalog import CATALOG_TABLE, EXPORTS_TABLE, SNAPSHOTS_PREFIX, Catalog, CatalogEntry
from corpuslake.consumers import CONSUMERS_TABLE, held_pins
from corpuslake.lineage import TableVersion
from corpuslake.schemas import PARTITIONS
from corpuslake.store import Lake

log = logging.getLogger(__name__)
COMPACTED = ("check_results", "publication_log", CONSUMERS_TABLE, EXPORTS_TABLE)
REGISTRIES = (EXPORTS_TABLE, CONSUMERS_TABLE)


@dataclass(frozen=True)
class TableGc:
    table: str
    kept_versions: tuple[int, ...]
    removed_files: int
    held: tuple[str, ...] = ()
    """The versions kept because a registered consumer reads them: ``v3 (corpuslake://web@1) for train-a``."""
    released: tuple[str, ...] = ()
    """The pins of this table whose versions are no longer kept (``release_unheld``: no consumer holds them)."""


def pinned_versions(lake: Lake, entries: Iterable[CatalogEntry] | None = None) -> dict[str, set[int]]:
    """Every table version that a published pin (of ``entries``, default all) reads or descends from."""
    keep: dict[str, set[int]] = {}
    stack: list[TableVersion] = []
    for entry in Catalog(lake).entries() if entries is None else entries:
        stack.append(TableVersion(entry.table, entry.delta_version))
    seen: set[TableVersion] = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        keep.setdefault(node.table, set()).add(node.version)
        try:
            stack.extend(lake.lineage(node.table, node.version).upstream)
        except LookupError:
            log.warning("%s has no lineage to follow; its upstream versions are not protected", node)
    return keep


def lake_tables(lake: Lake) -> list[str]:
    """The Delta tables of a local lake: the stage tables, the catalog, and every snapshot table."""
    root = Path(lake.root.removeprefix("file://"))
    candidates = dict.fromkeys([*PARTITIONS, CATALOG_TABLE, *REGISTRIES])
    names = [t for t in candidates if (root / t / "_delta_log").is_dir()]
    snapshots = root / SNAPSHOTS_PREFIX
    if snapshots.is_dir():
        names += [f"{SNAPSHOTS_PREFIX}/{p.name}" for p in sorted(snapshots.iterdir()) if (p / "_delta_log").is_dir()]
    return names


def protected(lake: Lake, release_unheld: bool) -> tuple[list[CatalogEntry], list[CatalogEntry]]:
    """The publications whose versions gc keeps, and those it releases: none unless ``release_unheld``,
    then those no active consumer reads and that are not their name's latest number."""
    entries = Catalog(lake).entries()
    if not release_unheld:
        return entries, []
    held = held_pins(lake)
    latest = {e.name: e.number for e in entries}  # ordered by name and number: the last one wins
    kept = [e for e in entries if e.uri in held or e.number == latest[e.name]]
    return kept, [e for e in entries if e not in kept]


def _held_by_table(lake: Lake, entries: Iterable[CatalogEntry]) -> dict[str, list[str]]:
    held = held_pins(lake)
    by_table: dict[str, list[str]] = {}
    for e in entries:
        if e.uri in held:
            names = ", ".join(sorted({c.name for c in held[e.uri]}))
            by_table.setdefault(e.table, []).append(f"v{e.delta_version} ({e.uri}) for {names}")
    return by_table


def collect_garbage(
    lake: Lake,
    retention_hours: int = 168,
    dry_run: bool = False,
    tables: Iterable[str] | None = None,
    *,
    release_unheld: bool = False,
) -> list[TableGc]:
    """Vacuum every table of the lake, keeping pinned versions (those consumers hold, and each name's
    latest, with ``release_unheld``) and each table's latest; compact the append-only registries first."""
    if lake.is_lakefs:
        # A vacuum on lakeFS deletes files from main's next commit only: every earlier commit (and each
        # publication tag) still holds them, so nothing is reclaimed, and main would change outside a run.
        raise ValueError(
            f"{lake.root} is on lakeFS: its storage is reclaimed by lakeFS's own garbage collection (the "
            "repository's retention rules), which keeps whatever a tag or a retained commit reaches; "
            "corpuslake gc does not vacuum a lakeFS lake"
        )
    if not lake.is_local and tables is None:
        raise ValueError("name the tables to collect on an object-store lake (listing them needs a local root)")
    kept, released = protected(lake, release_unheld)
    keep = pinned_versions(lake, kept)
    held = _held_by_table(lake, kept)
    results = []
    for table in tables if tables is not None else lake_tables(lake):
        latest = lake.version(table)
        if latest is None:
            continue
        versions = sorted(keep.get(table, set()) | {latest})
        delta = DeltaTable(lake.table_uri(table), storage_options=lake.options)
        if table in COMPACTED and not dry_run and len(delta.file_uris()) > 1:
            # append-only registries grow by one small file per verdict or attempt: rewrite them as one
            delta.optimize.compact()
            versions = sorted(set(versions) | {delta.version()})
        removed = delta.vacuum(
            retention_hours=retention_hours,
            dry_run=dry_run,
            enforce_retention_duration=False,
            keep_versions=versions,
            # Also the files no commit ever added (a stage killed before its commit leaves the files its
            # workers wrote into the table's folder), once they are older than the retention.
            full=True,
        )
        gone = tuple(e.uri for e in released if e.table == table and e.delta_version not in versions)
        results.append(TableGc(table, tuple(versions), len(removed), tuple(held.get(table, ())), gone))
    return results


def gc_lines(results: Iterable[TableGc], dry_run: bool = False) -> list[str]:
    """What ``corpuslake gc`` prints: per table the files removed and versions kept, the versions kept
    for registered consumers, and the pins released."""
    lines = []
    verb = "would remove" if dry_run else "removed"
    for table in results:
        kept = ", ".join(f"v{v}" for v in table.kept_versions)
        lines.append(f"{table.table:<28} {verb} {table.removed_files} file(s); kept {kept}")
        lines += [f"    kept {held}: a registered consumer reads it" for held in table.held]
        lines += [f"    released {pin}: no registered consumer reads it" for pin in table.released]
    return lines
