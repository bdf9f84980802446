"""The documents stage: every content record of a dump becomes a document or a named rejection.

Content records are those a page can come from (:data:`corpuslake.warc.CONTENT_TYPES`): an HTTP response
(HTML is extracted to its main content), a resource (content stored without HTTP: extracted when HTML), a
conversion (a WET file's already extracted text: kept as it is, with its provenance) and a revisit (no
payload of its own: rejected as ``warc/revisit``). ARC files give response records. A record id seen
earlier in the dump is rejected as ``warc/duplicate_record`` (:mod:`corpuslake.record_duplicates`).
Requests, metadata and warcinfo records describe the crawl: crawl_files counts them, this stage skips them.
The records of document files (JSONL, gzip JSONL, Parquet) are documents already: their text is kept as
given (:mod:`corpuslake.stages.source_documents`).

One job per WARC, ARC or document file (run by :func:`corpuslake.runner.run_stage`). A worker streams its file record by
record and hands the rows to the sink, which writes them straight into the tables' folders in row groups
of ``batch_rows``, so memory stays bounded by one row group and one record whatever the file size; the
driver commits the files to Delta in one atomic commit per table.
"""

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpuslake.extract import Extraction, extract_text, plain_text
from corpuslake.jsonl_source import iter_records, landed_at, record_format
from corpuslake.landing import local_copy
from corpuslake.langid import LanguageIdentifier
from corpuslake.record_duplicates import RepeatedIds, losing_digests
from corpuslake.runner import Sink
from corpuslake.schemas import document_id
from corpuslake.stages.source_documents import source_rows
from corpuslake.warc import CONTENT_TYPES, WarcDamage, WarcRecordData, iter_warc

STAGE = "documents"
# Bumped when the stage's output for the same input and config changes: it goes into lineage. Version 2
# accounts for every content record (revisit, resource, conversion) and rejects repeated record ids;
# version 3 identifies languages with corpuslake.lid176 (scores differ from fastText's in the last bits)
# and reads a long sample only where a short one is unsure.
STAGE_VERSION = "3"


@dataclass(frozen=True)
class DocumentsConfig:
    """Settings of the documents stage (fingerprinted into lineage)."""

    max_payload_bytes: int = 8 << 20
    """Response payloads larger than this are rejected as ``oversized`` without being read."""
    max_replaced_fraction: float = 0.05
    """Above this fraction of undecodable characters a page is rejected as ``undecodable``."""
    html_types: tuple[str, ...] = ("text/html", "application/xhtml+xml")
    """HTTP Content-Types treated as HTML; others are rejected as ``not_html``."""
    lid_max_chars: int = 2_000
    """Characters of a text the language model reads at most: longer texts are sampled (``lid_windows``
    slices).

    What matters is the filter's decision (language allowed and score >= its minimum), not the label
    alone: the score of a short sample is lower than the full text's. Against full-text language id,
    2,000 characters in 8 slices agree on the label for 99.9% of the scale bench's S crawl (first dump,
    15.5k documents) and on the FineWeb decision (en, score >= 0.65) for 99.5%; 400 characters in 4
    slices on 99.0% and 96.6%; 1,000 in 8 on 99.8% and 99.0%."""
    lid_windows: int = 8
    """Evenly spaced slices of a long text making up ``lid_max_chars`` (1: the prefix): slices from the whole
    text outvote a title or menu in another language than the body (``corpuslake.langid.lid_sample``)."""
    lid_first_chars: int = 500
    """Characters of a first, shorter sample (``lid_first_windows`` slices); 0 reads ``lid_max_chars`` only.

    A text whose first sample scores ``lid_confident`` or more keeps that label and score; the others
    (about 22% on the S crawl) are read again with ``lid_max_chars``. On the S crawl's first dump that
    reads 47% of the characters of one 2,000-character pass and agrees with full-text language id as
    well: labels 99.8%, FineWeb decisions 99.4%."""
    lid_first_windows: int = 4
    """Evenly spaced slices of the first sample."""
    lid_confident: float = 0.8
    """Score of the first sample from which its label and score are kept."""
    batch_rows: int = 1_000
    """Rows per row group a worker writes: the bound on a worker's buffered rows, and the unit of the
    stages that read the documents table."""


@dataclass(frozen=True)
class FileJob:
    """One WARC, ARC or document file of a dump: the unit of the documents stage."""

    dump: str
    path: str
    source_file: str
    config: DocumentsConfig


@dataclass
class FileOutcome:
    """What one WARC file gave: counts (the rows went to the sink)."""

    source_file: str
    documents: int = 0
    response_records: int = 0
    content_records: int = 0
    """Records that must each become a document or a rejection (responses among them)."""
    rejected: Counter[str] = field(default_factory=Counter)  # "filter/reason" -> count
    languages: Counter[str] = field(default_factory=Counter)
    html_bytes: int = 0


_IDENTIFIER: LanguageIdentifier | None = None  # one model per worker process


def extract_file(job: FileJob, config: DocumentsConfig, sink: Sink) -> None:
    """Turn one WARC, ARC or document file into ``documents`` and ``rejections`` rows, counted on the sink."""
    global _IDENTIFIER
    if _IDENTIFIER is None or (_IDENTIFIER.max_chars, _IDENTIFIER.windows) != (
        config.lid_max_chars,
        config.lid_windows,
    ):
        _IDENTIFIER = LanguageIdentifier(max_chars=config.lid_max_chars, windows=config.lid_windows)
    outcome = FileOutcome(source_file=job.source_file)
    seen = RepeatedIds(losing_digests(sink.lake, job.dump, job.source_file))
    with local_copy(job.path) as path:  # a remote landing zone's file is read from a local copy
        docs, rejects = _PartWriter(sink, "documents"), _PartWriter(sink, "rejections")
        fmt = record_format(job.source_file)
        if fmt is None:
            rows = _warc_rows(job, path, outcome, seen)
        else:
            records, landed = iter_records(path, fmt), landed_at(job.path)
            rows = source_rows(job.dump, job.source_file, records, seen, landed=landed, outcome=outcome)
        _extract(job, rows, _IDENTIFIER, outcome, (docs, rejects))
    sink.count("response_records", outcome.response_records)
    sink.count("content_records", outcome.content_records)
    sink.count("documents", outcome.documents)
    sink.count("html_bytes", outcome.html_bytes)
    for reason, n in outcome.rejected.items():
        sink.count(f"rejected.{reason}", n)
    for language, n in outcome.languages.items():
        sink.count(f"language.{language}", n)


def _extract(
    job: FileJob,
    rows: Iterator[dict[str, Any]],
    identifier: LanguageIdentifier,
    outcome: "FileOutcome",
    writers: tuple["_PartWriter", "_PartWriter"],
) -> None:
    """Hand each rejection row to its writer and each document row, once its language is known, to the other."""
    docs, rejects = writers
    pending: list[dict[str, Any]] = []  # documents waiting for their language, in file order
    for row in rows:
        if "stage" in row:
            rejects.add(row)
            outcome.rejected[f"{row['filter']}/{row['reason']}"] += 1
            continue
        pending.append(row)
        if len(pending) >= _LID_BATCH:
            _add_documents(job.config, pending, identifier, outcome, docs)
            pending = []
    _add_documents(job.config, pending, identifier, outcome, docs)


def _warc_rows(job: FileJob, path: Path, outcome: "FileOutcome", seen: RepeatedIds) -> Iterator[dict[str, Any]]:
    """A row (document or rejection) per content record and damaged region of a WARC or ARC file."""
    for item in iter_warc(path, job.config.max_payload_bytes, described="content"):
        if isinstance(item, WarcDamage):
            yield _damage_row(job, item)
            continue
        if item.record_type not in CONTENT_TYPES:
            continue  # requests, metadata, warcinfo: counted by crawl_files, never documents
        outcome.content_records += 1
        outcome.response_records += item.record_type == "response"
        yield _duplicate_row(job, item) if seen.repeated(item.record_id) else _document_row(job, item)


# Texts identified per model call: the model's tables stay in the cache across a batch instead of being
# evicted by the extraction of every page in between (10-15% less stage CPU on the sample crawl than one
# call per page), while a batch of texts stays within a few MB.
_LID_BATCH = 64


def _add_documents(
    cfg: DocumentsConfig,
    rows: list[dict[str, Any]],
    identifier: LanguageIdentifier,
    outcome: "FileOutcome",
    docs: "_PartWriter",
) -> None:
    """Fill in the language of ``rows`` (one model call) and hand them to the writer."""
    if not rows:
        return
    texts = [row["text"] for row in rows]
    if cfg.lid_first_chars:
        first = (cfg.lid_first_chars, cfg.lid_first_windows)
        languages = identifier.predict_confident(texts, first=first, confident=cfg.lid_confident)
    else:
        languages = identifier.predict_many(texts)
    for row, (language, score) in zip(rows, languages, strict=True):
        row["language"], row["language_score"] = language, score
        docs.add(row)
        outcome.languages[language] += 1
        outcome.html_bytes += row["html_bytes"]
    outcome.documents += len(rows)


def _provenance(job: FileJob, rec: WarcRecordData, *, positional: bool = False) -> dict[str, Any]:
    """The id and provenance columns of a record's row; ``positional`` ids it by file and offset."""
    return {
        "id": document_id(job.dump, None if positional else rec.record_id, job.source_file, rec.offset),
        "dump": job.dump,
        "url": rec.target_uri,
        "warc_record_id": rec.record_id,
        "source_file": job.source_file,
        "warc_offset": rec.offset,
    }


def _duplicate_row(job: FileJob, rec: WarcRecordData) -> dict[str, Any]:
    # The positional id: the record id's own id belongs to the document of its first occurrence.
    base = _provenance(job, rec, positional=True)
    detail = "the record id occurs earlier in the dump (by file order, then offset)"
    return _reject(base, "warc", "duplicate_record", detail, {"record_type": rec.record_type})


def _document_row(job: FileJob, rec: WarcRecordData) -> dict[str, Any]:
    """The document row for a content record (language still to fill), or a rejection row (with ``stage``)."""
    base = _provenance(job, rec)
    cfg = job.config
    if rec.record_type == "revisit":
        signals = {"profile": rec.profile, "refers_to": rec.refers_to}
        return _reject(base, "warc", "revisit", f"repeats {rec.refers_to or 'an earlier capture'}", signals)
    if rec.payload is None:
        limit = cfg.max_payload_bytes
        return _reject(
            base,
            "warc",
            "oversized",
            f"{rec.payload_length} bytes > {limit}",
            {"payload_length": rec.payload_length},
        )
    if rec.record_type == "conversion":
        return _text_row(base, rec, cfg)
    if rec.record_type == "response":
        if rec.http_status is None:
            return _reject(base, "http", "not_http", "response record without an HTTP response", {})
        if not 200 <= rec.http_status < 300:
            return _reject(base, "http", "http_status", f"HTTP {rec.http_status}", {"status": rec.http_status})
    if not _is_html(rec, cfg.html_types):
        filter_ = "http" if rec.record_type == "response" else "warc"  # who said the type: HTTP or the record
        return _reject(base, filter_, "not_html", f"Content-Type {rec.mime_type}", {"content_type": rec.mime_type})
    return _finished(base, rec, extract_text(rec.payload, rec.charset, cfg.max_replaced_fraction))


def _text_row(base: dict[str, Any], rec: WarcRecordData, cfg: DocumentsConfig) -> dict[str, Any]:
    """A conversion record's text, kept as it is: no HTML to extract (a WET record of Common Crawl)."""
    if rec.mime_type and not rec.mime_type.startswith("text/"):
        return _reject(base, "warc", "not_text", f"Content-Type {rec.mime_type}", {"content_type": rec.mime_type})
    return _finished(base, rec, plain_text(rec.payload or b"", rec.charset, cfg.max_replaced_fraction))


def _finished(base: dict[str, Any], rec: WarcRecordData, result: Extraction) -> dict[str, Any]:
    """The document row from an extraction's text, or the rejection that says why there is none."""
    if result.text is None:
        signals = {"encoding": result.encoding, "replaced_fraction": round(result.replaced_fraction, 4)}
        return _reject(base, "extract", result.reason or "extraction_error", result.detail, signals)
    base.update(
        warc_date=rec.date,
        content_type=rec.mime_type,
        encoding=result.encoding,
        html_bytes=len(rec.payload or b""),  # the payload the text came from (HTML, or a WET record's text)
        replaced_fraction=result.replaced_fraction,
        text=result.text,
        text_chars=len(result.text),
    )
    return base


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


class _PartWriter:
    """Rows of one output of the stage, handed to the sink (which writes them in row groups)."""

    def __init__(self, sink: Sink, output: str) -> None:
        self.sink, self.output = sink, output

    def add(self, row: dict[str, Any]) -> None:
        self.sink.add(self.output, row)
