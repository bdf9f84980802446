"""The documents stage's rows for the records of document files (JSONL, gzip JSONL, Parquet).

A record's text is already a document's text (a book, a source file, a paper, a Wikipedia article): it is
kept as given, with no extraction, as for a WET conversion record, and goes through language id like any
other. Its provenance is the file and the record's place in it (line number or row index, in
``warc_offset``), and its own id (in ``warc_record_id``). A record without a URL has an empty ``url`` (the
provenance columns of a document are never null); ``warc_date``, a capture date for web records, is the
time the file landed (:func:`corpuslake.jsonl_source.landed_at`). The document id hashes the dump, the file and the
record's id, so it is stable across runs and two files numbering their records alike give two ids.

A record id repeated in the dump follows the WARC rule (:mod:`corpuslake.record_duplicates`): the first
occurrence, by file path then place, keeps it; a later one is ``warc/duplicate_record``. A bad record is a
named rejection: ``jsonl/invalid_json`` (a line that is not a JSON object), ``jsonl/missing_id`` and
``jsonl/missing_text`` (missing, empty id or not a string), ``jsonl/empty_text`` (only whitespace). The
same codes hold for Parquet rows.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from corpuslake.jsonl_source import SourceRecord
from corpuslake.record_duplicates import RepeatedIds
from corpuslake.schemas import document_id
from corpuslake.warc import WarcDamage

STAGE = "documents"
FILTER = "jsonl"


class Counts(Protocol):
    """What the rows are counted on: records that must each become a document or a rejection."""

    content_records: int


def source_document_id(dump: str, source_file: str, record_id: str) -> str:
    """Stable id of the document of a record with its own id: a hash of (dump, file, record id).

    The ``id:`` mark keeps the key apart from the positional key (dump, file, offset) of a record named by
    its place, and the three parts from a WARC record's key (dump, WARC-Record-ID).
    """
    key = f"{dump}\x00{source_file}\x00id:{record_id}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def source_rows(
    dump: str,
    source_file: str,
    records: Iterable[SourceRecord | WarcDamage],
    seen: RepeatedIds,
    *,
    landed: datetime,
    outcome: Counts,
) -> Iterator[dict[str, Any]]:
    """A row per record (a document, language still to fill, or a rejection with ``stage``) and per damage."""
    for item in records:
        if isinstance(item, WarcDamage):
            base = _base(dump, source_file, item.offset, None, None)
            yield _reject(base, "warc", item.reason, item.detail, {"offset": item.offset})
            continue
        outcome.content_records += 1
        row = _record_row(dump, source_file, item, seen)
        if "stage" not in row:
            row["warc_date"] = landed
        yield row


def _record_row(dump: str, source_file: str, rec: SourceRecord, seen: RepeatedIds) -> dict[str, Any]:
    base = _base(dump, source_file, rec.offset, rec.record_id, rec.url)
    if rec.invalid is not None:
        return _reject(base, FILTER, "invalid_json", rec.invalid, {"line": rec.offset})
    if rec.record_id is None:
        return _reject(base, FILTER, "missing_id", "no non-empty string id", {})
    if seen.repeated(rec.record_id):  # by its place: the record id's own id is its first occurrence's
        detail = "the record id occurs earlier in the dump (by file order, then place)"
        return _reject(base, "warc", "duplicate_record", detail, {"record_type": "document"})
    base["id"] = source_document_id(dump, source_file, rec.record_id)
    if rec.text is None:
        return _reject(base, FILTER, "missing_text", "no string text", {})
    if not rec.text.strip():
        return _reject(base, FILTER, "empty_text", "the text is empty or whitespace", {"chars": len(rec.text)})
    base.update(
        url=rec.url or "",
        content_type=None,
        encoding="utf-8",
        html_bytes=len(rec.text.encode("utf-8")),  # the text is its own source: no HTML behind it
        replaced_fraction=0.0,
        text=rec.text,
        text_chars=len(rec.text),
    )
    return base


def _base(dump: str, source_file: str, offset: int, record_id: str | None, url: str | None) -> dict[str, Any]:
    return {
        "id": document_id(dump, None, source_file, offset),  # positional until the record's id is known good
        "dump": dump,
        "url": url,
        "warc_record_id": record_id,
        "source_file": source_file,
        "warc_offset": offset,
    }


def _reject(base: dict[str, Any], filter_: str, reason: str, detail: str, signals: dict[str, Any]) -> dict[str, Any]:
    signals_json = json.dumps(signals, sort_keys=True)
    return {**base, "stage": STAGE, "filter": filter_, "reason": reason, "detail": detail, "signals": signals_json}
