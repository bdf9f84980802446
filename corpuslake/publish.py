"""Publishing: write a selection as one version of ``snapshots/<name>``, audit it, then record it.

Write-audit-publish: the rows are written first (a Delta version nobody pins yet), the audits read that
exact version back, and only when every audit passed is the version recorded in the catalog under a
number. A failed audit leaves the catalog untouched; the unpublished table version is harmless and
``corpuslake gc`` removes its files later.
"""

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake import scan
from corpuslake.catalog import (
    PUBLISHED_TABLE_PROPERTIES,
    Catalog,
    CatalogEntry,
    ManifestFile,
    manifest_sha256,
    snapshot_table,
)
from corpuslake.content import content_sha256, files_content_sha256
from corpuslake.errors import CorpuslakeError
from corpuslake.lineage import Lineage, TableVersion
from corpuslake.ordered import FileJob, FinishedFile, OrderedRows, file_jobs, finish_file, stage_table
from corpuslake.parallel import Workers, run_jobs
from corpuslake.spill import connect, version_relation
from corpuslake.store import ROWS_PER_FILE, ConcurrentUpdateError, Lake, WrittenFile
from corpuslake.verdicts import record_blocked

__all__ = ["content_sha256"]  # a publication's content hash, for callers comparing rows with a catalog entry


@dataclass(frozen=True)
class AuditResult:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Written:
    """What a publication wrote: what the audits compare the version read back with."""

    documents: int
    files: tuple[WrittenFile, ...]
    keys: tuple[str, ...]
    """The columns that identify a row: ``id``, or ``(source, id, epoch)`` in a mixture."""


Audit = Callable[[Lake, str, int, Written], AuditResult]
"""An audit reads the written version (lake, table, version) and checks it against what was written."""


class PublicationBlockedError(CorpuslakeError, RuntimeError):
    """An audit failed: the version was written but not published."""

    def __init__(self, name: str, where: str, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(f"{name} was not published ({where}): {'; '.join(self.reasons)}")


@dataclass(frozen=True)
class Publication:
    entry: CatalogEntry
    new: bool
    """False when the content equals the name's latest publication (no new number was minted)."""


class _UnchangedContentError(Exception):
    """The rows written equal the latest publication's: the write is abandoned."""


def standard_audits() -> list[Audit]:
    """What every publication must pass: it has rows, all of them are there, ids are unique, no text or id
    is null. Each reads the version back streaming: row and null counts from the files' Parquet footers,
    the ids through DuckDB."""
    return [_audit_not_empty, _audit_rows, _audit_ids, _audit_nulls]


def _audit_not_empty(lake: Lake, table: str, version: int, written: Written) -> AuditResult:
    return AuditResult("not_empty", written.documents > 0, f"the selection holds {written.documents} documents")


def _audit_rows(lake: Lake, table: str, version: int, written: Written) -> AuditResult:
    count = scan.count(lake.dataset(table, version), {})
    return AuditResult(
        "rows_written", count == written.documents, f"{count} rows read back, {written.documents} written"
    )


def _scan(lake: Lake, table: str, version: int, sql: str) -> tuple[int, ...]:
    """One aggregate row over every row of a table version (``rows`` in ``sql``), in DuckDB, spilling."""
    with lake.staging() as folder:
        con = connect(folder)
        try:
            version_relation(con, lake, table, version).create_view("rows")
            (found,) = con.execute(sql).fetchall()
        finally:
            con.close()
    return tuple(int(v or 0) for v in found)


def _audit_ids(lake: Lake, table: str, version: int, written: Written) -> AuditResult:
    keys = ", ".join(written.keys)  # column names of the published schema, never input
    rows, distinct = _scan(
        lake, table, version, f"SELECT (SELECT count(*) FROM rows), count(*) FROM (SELECT DISTINCT {keys} FROM rows)"
    )
    what = "(source, id, epoch) triples" if len(written.keys) > 1 else "ids"
    return AuditResult("ids_unique", distinct == rows, f"{distinct} distinct {what} in {rows} rows")


def _audit_nulls(lake: Lake, table: str, version: int, written: Written) -> AuditResult:
    counted = _footer_nulls(lake, table, version, ("id", "text"))
    if counted is None:
        sql = "SELECT count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE text IS NULL) FROM rows"
        ids, texts = _scan(lake, table, version, sql)
        counted = {"id": ids, "text": texts}
    nulls = {c: n for c, n in counted.items() if n}
    return AuditResult("no_null_text_or_id", not nulls, f"nulls: {nulls}" if nulls else "none")


def _footer_nulls(lake: Lake, table: str, version: int, columns: Sequence[str]) -> dict[str, int] | None:
    """Nulls of each of ``columns`` in a table version, summed from its files' Parquet footers (the writer's
    exact count per column chunk), or None where a chunk carries no count (then the rows are scanned).

    Counting them from the rows read the whole ``text`` column back through DuckDB: on a snapshot of a
    million documents that was the publishing process's largest phase (bench/publish_memory.py)."""
    counts = dict.fromkeys(columns, 0)
    for fragment in scan.fragments(lake.dataset(table, version), {}):
        metadata = scan.footer(fragment)
        names = metadata.schema.names
        positions = {column: names.index(column) if column in names else None for column in columns}
        for index in range(metadata.num_row_groups):
            group = metadata.row_group(index)
            for column, position in positions.items():
                if position is None:  # a file written without the column: every row is null there
                    counts[column] += group.num_rows
                    continue
                statistics = group.column(position).statistics
                if statistics is None or not statistics.has_null_count:
                    return None
                counts[column] += statistics.null_count
    return counts


def publish(
    lake: Lake,
    name: str,
    kind: str,
    rows: pa.Table | OrderedRows,
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
    workers: Workers = 1,
) -> Publication:
    """Publish ``rows`` (already in their final order: a small table in memory, or staged ordered rows)
    as the next number of ``name``.

    The workers write the files (counting tokens where the rows have none yet) and read each back; this
    process hashes the stored files, column by column, and commits. Content equal to the latest
    publication's commits nothing and mints no number (the files written for the comparison are
    removed). ``gate`` says why the upstream versions the rows came from may not be published (their
    checks failed or never ran): any reason blocks the publication before anything is committed. Blocked
    attempts, at the gate or at an audit, are kept in the publication log.
    """
    with lake.staging() as folder:
        ordered = rows if isinstance(rows, OrderedRows) else stage_table(rows, folder)
        catalog = Catalog(lake)
        latest = catalog.latest(name)
        refused = gate() if gate is not None else []
        if refused and latest is None:  # nothing the rows could equal: no need to write them to compare
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
        table = snapshot_table(name)
        content: list[str] = []

        def before_commit(files: list[WrittenFile]) -> None:
            content.append(_stored_content(lake, table, files, ordered.schema, folder))
            if latest is not None and latest.content_sha256 == content[-1]:
                raise _UnchangedContentError
            if refused:
                record_blocked(lake, name, run_id, refused)
                raise PublicationBlockedError(name, "upstream checks did not pass", refused)

        finished: dict[str, FinishedFile] = {}
        try:
            version, files = _write(lake, table, ordered, lineage, (rows_per_file, workers), finished, before_commit)
        except _UnchangedContentError:
            assert latest is not None
            return Publication(latest, False)
    written = Written(
        sum(f.rows for f in files), tuple(files), ("source", "id", "epoch") if kind == "mixture" else ("id",)
    )
    results = [audit(lake, table, version, written) for audit in (audits if audits is not None else standard_audits())]
    results.append(_audit_read_back(lake, table, version, files))
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    if failed:
        record_blocked(lake, name, run_id, failed)
        raise PublicationBlockedError(name, f"{table}@v{version} failed its audits", failed)
    done = [finished[f.path] for f in files]
    manifest = [ManifestFile(f.path, f.size, d.sha256, d.blake3, f.rows) for f, d in zip(files, done, strict=True)]
    extra = {"by_dump": _by_dump(done)} if ordered.by_dump else {}
    entry = CatalogEntry(
        name=name,
        number=0,  # the catalog assigns it
        kind=kind,
        table=table,
        delta_version=version,
        documents=written.documents,
        tokens=sum(d.tokens for d in done),
        tokenizer=tokenizer,
        order_by=order_by,
        content_sha256=content[-1],
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
        report=dict(report) | extra,
    )
    recorded, new = catalog.record(entry, lineage)
    return Publication(recorded, new)


def _write(
    lake: Lake,
    table: str,
    ordered: OrderedRows,
    lineage: Lineage,
    options: tuple[int, Workers],
    finished: dict[str, FinishedFile],
    before_commit: Callable[[list[WrittenFile]], None],
) -> tuple[int, list[WrittenFile]]:
    """Replace the publication table with the ordered rows, one worker job per file; a concurrent
    publisher of the same name makes this retry on top of its version (each publication is its own Delta
    version either way)."""
    rows_per_file, workers = options
    for _ in range(10):
        expected = lake.ensure_table(table, ordered.schema, PUBLISHED_TABLE_PROPERTIES)
        jobs = file_jobs(ordered, lake, table, rows_per_file, uuid.uuid4().hex)

        def files(jobs: Iterator[FileJob] = jobs) -> Iterator[WrittenFile]:
            for done in run_jobs(finish_file, jobs, workers):
                finished[done.file.path] = done
                yield done.file

        try:
            return lake.write_ordered(
                table, files(), lineage, expected, schema=ordered.schema, before_commit=before_commit
            )
        except ConcurrentUpdateError:
            continue
    raise ConcurrentUpdateError(f"{table} kept changing under concurrent publishers")


def _stored_content(lake: Lake, table: str, files: Sequence[WrittenFile], schema: pa.Schema, folder: Path) -> str:
    """The content hash of the files as storage holds them, in row order, one column at a time. Files on
    object storage are copied to the staging folder first, so each is downloaded once, not per column."""
    if lake.is_local:
        base = lake.table_uri(table).removeprefix("file://")
        return files_content_sha256([f"{base}/{f.path}" for f in files], schema)
    copies = []
    for f in files:
        copy = folder / f"stored-{f.path}"
        copy.write_bytes(lake.read_buffer(table, f.path).to_pybytes())
        copies.append(copy)
    try:
        return files_content_sha256(copies, schema)
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)


def _audit_read_back(lake: Lake, table: str, version: int, files: Sequence[WrittenFile]) -> AuditResult:
    """The committed version holds exactly the files written; each was read back from storage by the
    worker that wrote it and decoded to the rows it meant to write (the content hash is computed from the
    stored files)."""
    committed = {f["path"]: int(f["num_records"] or 0) for f in lake.files(table, version)}
    same = committed == {f.path: f.rows for f in files}
    return AuditResult(
        "read_back_in_order",
        same,
        "each file read back from storage matched its rows; the version holds exactly the files written"
        if same
        else f"the version holds other files than those written: {sorted(set(committed) ^ {f.path for f in files})}",
    )


def _by_dump(done: Sequence[FinishedFile]) -> dict[str, dict[str, int]]:
    documents: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    for d in done:
        documents.update(d.documents_by_dump)
        tokens.update(d.tokens_by_dump)
    return {dump: {"documents": documents[dump], "tokens": tokens[dump]} for dump in sorted(documents)}
