"""Publishing: write a selection as one version of ``snapshots/<name>``, audit it, then record it.

Write-audit-publish: the rows are written first (a Delta version nobody pins yet), the audits read that
exact version back, and only when every audit passed is the version recorded in the catalog under a
number. A failed audit leaves the catalog untouched; the unpublished table version is harmless and
``corpuslake gc`` removes its files later.
"""

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpuslake.catalog import (
    PUBLISHED_TABLE_PROPERTIES,
    Catalog,
    CatalogEntry,
    ManifestFile,
    file_digests,
    manifest_sha256,
    snapshot_table,
)
from corpuslake.lineage import Lineage, TableVersion
from corpuslake.store import ROWS_PER_FILE, ConcurrentUpdateError, Lake, WrittenFile
from corpuslake.verdicts import record_blocked


@dataclass(frozen=True)
class AuditResult:
    name: str
    passed: bool
    detail: str


Audit = Callable[[Lake, str, int, pa.Table], AuditResult]
"""An audit reads the written version (lake, table, version) and the rows that were meant to be there."""


class PublicationBlockedError(RuntimeError):
    """An audit failed: the version was written but not published."""

    def __init__(self, name: str, where: str, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"{name} was not published ({where}): {'; '.join(self.reasons)}")


@dataclass(frozen=True)
class Publication:
    entry: CatalogEntry
    new: bool
    """False when the content equals the name's latest publication (no new number was minted)."""


def content_sha256(table: pa.Table) -> str:
    """A hash of the rows and their schema, independent of how the table is chunked."""
    digest = hashlib.sha256()
    for column_field in table.schema:
        digest.update(f"{column_field.name}:{column_field.type}\n".encode())
        for chunk in table.column(column_field.name).chunks:
            for start in range(0, len(chunk), 4096):
                values = chunk.slice(start, 4096).to_pylist()
                digest.update(
                    "".join(json.dumps(v, default=str, ensure_ascii=False) + "\n" for v in values).encode(
                        "utf-8", "surrogatepass"
                    )
                )
    return digest.hexdigest()


def read_back(lake: Lake, table: str, files: Sequence[WrittenFile]) -> tuple[list[ManifestFile], pa.Table]:
    """The written files with their digests as read back from storage, in row order, and their rows
    decoded from the same bytes."""
    manifest, parts = [], []
    for f in files:
        data = lake.read_buffer(table, f.path)
        sha256, blake = file_digests(data)
        manifest.append(ManifestFile(f.path, f.size, sha256, blake, f.rows))
        parts.append(pq.read_table(pa.BufferReader(data)))
    return manifest, pa.concat_tables(parts)


def standard_audits() -> list[Audit]:
    """What every publication must pass: it has rows, all of them are there, ids are unique, no text or id
    is null."""
    return [_audit_not_empty, _audit_rows, _audit_ids, _audit_nulls]


def _audit_not_empty(lake: Lake, table: str, version: int, expected: pa.Table) -> AuditResult:
    return AuditResult("not_empty", expected.num_rows > 0, f"the selection holds {expected.num_rows} documents")


def _audit_rows(lake: Lake, table: str, version: int, expected: pa.Table) -> AuditResult:
    written = lake.dataset(table, version).count_rows()
    return AuditResult(
        "rows_written", written == expected.num_rows, f"{written} rows read back, {expected.num_rows} written"
    )


def _audit_ids(lake: Lake, table: str, version: int, expected: pa.Table) -> AuditResult:
    repeats = "epoch" in expected.column_names  # a mixture repeats a document per source and epoch
    keys = ["source", "id", "epoch"] if repeats else ["id"]
    data = lake.read(table, version, columns=keys)
    distinct = data.group_by(keys).aggregate([]).num_rows
    what = "(source, id, epoch) triples" if repeats else "ids"
    return AuditResult("ids_unique", distinct == data.num_rows, f"{distinct} distinct {what} in {data.num_rows} rows")


def _audit_nulls(lake: Lake, table: str, version: int, expected: pa.Table) -> AuditResult:
    data = lake.read(table, version, columns=["id", "text"])
    nulls = {c: data[c].null_count for c in ("id", "text") if data[c].null_count}
    return AuditResult("no_null_text_or_id", not nulls, f"nulls: {nulls}" if nulls else "none")


def publish(
    lake: Lake,
    name: str,
    kind: str,
    rows: pa.Table,
    *,
    order_by: str,
    tokenizer: str,
    upstream: Sequence[TableVersion],
    definition: Mapping[str, Any],
    report: Mapping[str, Any],
    run_id: str,
    code_version: str,
    audits: Sequence[Audit] | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    gate: Callable[[], list[str]] | None = None,
) -> Publication:
    """Publish ``rows`` (already in their final order) as the next number of ``name``.

    ``gate`` says why the upstream versions the rows came from may not be published (their checks
    failed or never ran); any reason blocks before anything is written. Blocked attempts, at the gate
    or at an audit, are kept in the publication log.
    """
    catalog = Catalog(lake)
    table = snapshot_table(name)
    content = content_sha256(rows)
    latest = catalog.latest(name)
    if latest is not None and latest.content_sha256 == content:
        return Publication(latest, False)
    refused = gate() if gate is not None else []
    if refused:
        record_blocked(lake, name, run_id, refused)
        raise PublicationBlockedError(name, "upstream checks did not pass", refused)
    lineage = Lineage(
        asset="mixtures" if kind == "mixture" else "snapshots",
        partition=name,
        run_id=run_id,
        code_version=code_version,
        config=dict(definition),
        upstream=tuple(upstream),
    )
    version, files = _write(lake, table, rows, lineage, rows_per_file)
    results = [audit(lake, table, version, rows) for audit in (audits if audits is not None else standard_audits())]
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    if failed:
        record_blocked(lake, name, run_id, failed)
        raise PublicationBlockedError(name, f"{table}@v{version} failed its audits", failed)
    manifest, rows_read = read_back(lake, table, files)
    same = content_sha256(rows_read) == content
    results.append(AuditResult("read_back_in_order", same, "rows read back in manifest order hash to the rows written"))
    if not same:
        record_blocked(lake, name, run_id, ["read_back_in_order: the rows read back differ from the rows written"])
        raise PublicationBlockedError(name, f"{table}@v{version} failed its audits", ["read_back_in_order"])
    entry = CatalogEntry(
        name=name,
        number=0,  # the catalog assigns it
        kind=kind,
        table=table,
        delta_version=version,
        documents=rows.num_rows,
        tokens=int(pc.sum(rows["tokens"]).as_py() or 0),
        tokenizer=tokenizer,
        order_by=order_by,
        content_sha256=content,
        manifest_sha256=manifest_sha256(manifest),
        manifest=tuple(manifest),
        lineage={
            "upstream": [str(u) for u in upstream],
            "definition": dict(definition),
            "run_id": run_id,
            "code_version": code_version,
            "commit_id": lineage.commit_id,
        },
        checks={r.name: {"passed": r.passed, "detail": r.detail} for r in results},
        report=dict(report),
    )
    recorded, new = catalog.record(entry, lineage)
    return Publication(recorded, new)


def _write(
    lake: Lake, table: str, rows: pa.Table, lineage: Lineage, rows_per_file: int
) -> tuple[int, list[WrittenFile]]:
    """Replace the publication table with ``rows``; a concurrent publisher of the same name makes this
    retry on top of its version (each publication is its own Delta version either way)."""
    for _ in range(10):
        try:
            expected = lake.ensure_table(table, rows.schema, PUBLISHED_TABLE_PROPERTIES)
            return lake.write_ordered(table, rows, lineage, expected, rows_per_file)
        except ConcurrentUpdateError:
            continue
    raise ConcurrentUpdateError(f"{table} kept changing under concurrent publishers")
