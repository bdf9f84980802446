"""The documents stage: every HTML response record of a dump becomes a document or a rejection.

One job per WARC file. A worker streams its file record by record and writes Parquet parts of at most
``batch_rows`` rows to a staging folder, so memory stays bounded by one batch and one record whatever
the file size; the caller commits the parts to Delta in one atomic write.
"""

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.extract import extract_text
from corpuslake.landing import local_copy
from corpuslake.langid import LanguageIdentifier
from corpuslake.schemas import DOCUMENTS, REJECTIONS, document_id
from corpuslake.warc import WarcDamage, WarcRecordData, iter_warc

STAGE = "documents"
# Bumped when the stage's output for the same input and config changes: it goes into lineage.
STAGE_VERSION = "1"


@dataclass(frozen=True)
class DocumentsConfig:
    """Settings of the documents stage (fingerprinted into lineage)."""

    max_payload_bytes: int = 8 << 20
    """Response payloads larger than this are rejected as ``oversized`` without being read."""
    max_replaced_fraction: float = 0.05
    """Above this fraction of undecodable characters a page is rejected as ``undecodable``."""
    html_types: tuple[str, ...] = ("text/html", "application/xhtml+xml")
    """HTTP Content-Types treated as HTML; others are rejected as ``not_html``."""
    lid_max_chars: int = 20_000
    """Characters of each text given to the language model."""
    batch_rows: int = 1_000
    """Rows per Parquet part a worker writes: the bound on a worker's buffered rows."""


@dataclass(frozen=True)
class FileJob:
    dump: str
    path: str
    source_file: str
    staging_dir: str
    config: DocumentsConfig


@dataclass
class FileOutcome:
    """What one WARC file gave: counts, and the Parquet parts holding the rows."""

    source_file: str
    documents: int = 0
    response_records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # "filter/reason" -> count
    languages: Counter[str] = field(default_factory=Counter)
    document_parts: list[str] = field(default_factory=list)
    rejection_parts: list[str] = field(default_factory=list)
    html_bytes: int = 0
    seconds: float = 0.0


_IDENTIFIER: LanguageIdentifier | None = None  # one model per worker process


def extract_file(job: FileJob) -> FileOutcome:
    """Turn one WARC file into document and rejection Parquet parts under ``job.staging_dir``."""
    global _IDENTIFIER
    if _IDENTIFIER is None or _IDENTIFIER.max_chars != job.config.lid_max_chars:
        _IDENTIFIER = LanguageIdentifier(max_chars=job.config.lid_max_chars)
    started = time.perf_counter()
    outcome = FileOutcome(source_file=job.source_file)
    docs = _PartWriter(DOCUMENTS, Path(job.staging_dir), f"{_slug(job.source_file)}.documents", job.config)
    rejects = _PartWriter(REJECTIONS, Path(job.staging_dir), f"{_slug(job.source_file)}.rejections", job.config)
    with local_copy(job.path) as path:  # a remote landing zone's file is read from a local copy
        _extract(job, path, _IDENTIFIER, outcome, docs, rejects)
    outcome.document_parts = docs.close()
    outcome.rejection_parts = rejects.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


def _extract(
    job: FileJob,
    path: Path,
    identifier: LanguageIdentifier,
    outcome: "FileOutcome",
    docs: "_PartWriter",
    rejects: "_PartWriter",
) -> None:
    for item in iter_warc(path, job.config.max_payload_bytes):
        if isinstance(item, WarcDamage):
            rejects.add(_damage_row(job, item))
            outcome.rejected[f"warc/{item.reason}"] += 1
            continue
        if item.record_type != "response":
            continue  # requests, metadata, warcinfo: counted by crawl_files, never documents
        outcome.response_records += 1
        row = _document_row(job, item, identifier)
        if row.get("stage") == STAGE:
            rejects.add(row)
            outcome.rejected[f"{row['filter']}/{row['reason']}"] += 1
        else:
            docs.add(row)
            outcome.documents += 1
            outcome.languages[row["language"]] += 1
            outcome.html_bytes += row["html_bytes"]


def _document_row(job: FileJob, rec: WarcRecordData, lid: LanguageIdentifier) -> dict[str, Any]:
    """The document row for a response record, or a rejection row (it has a ``stage`` key)."""
    base = {
        "id": document_id(job.dump, rec.record_id, job.source_file, rec.offset),
        "dump": job.dump,
        "url": rec.target_uri,
        "warc_record_id": rec.record_id,
        "source_file": job.source_file,
        "warc_offset": rec.offset,
    }
    cfg = job.config
    if rec.payload is None:
        limit = cfg.max_payload_bytes
        return _reject(
            base,
            "warc",
            "oversized",
            f"{rec.payload_length} bytes > {limit}",
            {"payload_length": rec.payload_length},
        )
    if rec.http_status is None:
        return _reject(base, "http", "not_http", "response record without an HTTP response", {})
    if not 200 <= rec.http_status < 300:
        return _reject(base, "http", "http_status", f"HTTP {rec.http_status}", {"status": rec.http_status})
    if not _is_html(rec, cfg.html_types):
        return _reject(base, "http", "not_html", f"Content-Type {rec.mime_type}", {"content_type": rec.mime_type})
    result = extract_text(rec.payload, rec.charset, cfg.max_replaced_fraction)
    if result.text is None:
        signals = {"encoding": result.encoding, "replaced_fraction": round(result.replaced_fraction, 4)}
        return _reject(base, "extract", result.reason or "extraction_error", result.detail, signals)
    language, score = lid.predict(result.text)
    return {
        **base,
        "warc_date": rec.date,
        "content_type": rec.mime_type,
        "encoding": result.encoding,
        "html_bytes": len(rec.payload),
        "replaced_fraction": result.replaced_fraction,
        "text": result.text,
        "text_chars": len(result.text),
        "language": language,
        "language_score": score,
    }


def _is_html(rec: WarcRecordData, html_types: tuple[str, ...]) -> bool:
    if rec.mime_type:
        return rec.mime_type in html_types
    # No Content-Type at all: trust the bytes, as browsers do.
    head = (rec.payload or b"")[:1024].lower()
    return b"<html" in head or b"<!doctype html" in head


def _reject(base: dict[str, Any], filter_: str, reason: str, detail: str, signals: dict[str, Any]) -> dict[str, Any]:
    return {
        **base,
        "stage": STAGE,
        "filter": filter_,
        "reason": reason,
        "detail": detail,
        "signals": json.dumps(signals, sort_keys=True),
    }


def _damage_row(job: FileJob, damage: WarcDamage) -> dict[str, Any]:
    base = {
        "id": document_id(job.dump, None, job.source_file, damage.offset),
        "dump": job.dump,
        "url": None,
        "warc_record_id": None,
        "source_file": job.source_file,
        "warc_offset": damage.offset,
    }
    return _reject(base, "warc", damage.reason, damage.detail, {"offset": damage.offset})


def _slug(source_file: str) -> str:
    return source_file.replace("/", "__")


class _PartWriter:
    """Buffers rows and writes them as numbered Parquet parts of at most ``batch_rows`` rows."""

    def __init__(self, schema: pa.Schema, folder: Path, stem: str, config: DocumentsConfig) -> None:
        self.schema, self.folder, self.stem, self.limit = schema, folder, stem, config.batch_rows
        self.rows: list[dict[str, Any]] = []
        self.parts: list[str] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.limit:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        path = self.folder / f"{self.stem}.{len(self.parts):05d}.parquet"
        pq.write_table(pa.Table.from_pylist(self.rows, schema=self.schema), path)
        self.parts.append(str(path))
        self.rows = []

    def close(self) -> list[str]:
        self.flush()
        return self.parts
