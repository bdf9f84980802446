"""Garbage collection that never breaks a pin: vacuum old files, keep every published version readable.

Vacuum deletes data files that no version newer than the retention window still uses; Delta itself
knows nothing of our pins. ``collect_garbage`` therefore passes every version a pin can reach to
``vacuum(keep_versions=...)``: each published version of a snapshot table, and every stage-table
version in the lineage of a published snapshot (so an auditor can still trace it), plus each table's
latest version. Published tables are created with a log retention of 100 years, so time travel to
their versions keeps working after Delta cleans its log.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable

from corpuslake.catalog import CATALOG_TABLE, SNAPSHOTS_PREFIX, Catalog
from corpuslake.lineage import TableVersion
from corpuslake.schemas import PARTITIONS
from corpuslake.store import Lake

log = logging.getLogger(__name__)
COMPACTED = ("check_results", "publication_log")


@dataclass(frozen=True)
class TableGc:
    table: str
    kept_versions: tuple[int, ...]
    removed_files: int


def pinned_versions(lake: Lake) -> dict[str, set[int]]:
    """Every table version that a published pin reads or descends from."""
    keep: dict[str, set[int]] = {}
    stack: list[TableVersion] = []
    for entry in Catalog(lake).entries():
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
    names = [t for t in dict.fromkeys([*PARTITIONS, CATALOG_TABLE]) if (root / t / "_delta_log").is_dir()]
    snapshots = root / SNAPSHOTS_PREFIX
    if snapshots.is_dir():
        names += [f"{SNAPSHOTS_PREFIX}/{p.name}" for p in sorted(snapshots.iterdir()) if (p / "_delta_log").is_dir()]
    return names


def collect_garbage(
    lake: Lake, retention_hours: int = 168, dry_run: bool = False, tables: Iterable[str] | None = None
) -> list[TableGc]:
    """Vacuum every table of the lake, keeping pinned versions and each table's latest; compact the
    append-only registries first."""
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
    keep = pinned_versions(lake)
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
        results.append(TableGc(table, tuple(versions), len(removed)))
    return results
