"""The crawl_files stage: the inventory of a dump, one row per file, with what a full scan found.

Every file in the dump folder gets a row, including files that are not WARC, ARC or document files at all
(``format`` is ``rejected`` and ``error`` names the file and why), so nothing in the landing zone goes
unaccounted for. Document files (JSONL, gzip JSONL, Parquet: :mod:`corpuslake.jsonl_source`) count their
records in ``document_records``, each one a document or a rejection of the documents stage.
The row counts the records by type and lists digests of the content records' ids, from which the
documents stage finds a record id repeated across the files of the dump
(:mod:`corpuslake.record_duplicates`).
"""

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpuslake import landing as landing_zone
from corpuslake.jsonl_source import NotADocumentFileError, RecordFormat, check_format, iter_records, record_format
from corpuslake.landing import local_copy
from corpuslake.names import check_name
from corpuslake.record_duplicates import record_digest
from corpuslake.warc import CONTENT_TYPES, NotAWarcFileError, WarcDamage, iter_warc, sniff_format

STAGE_VERSION = "2"
"""Bumped when the stage's rows for the same files change (the asset's code version follows it). Version 2
counts document files' records and lists digests of every content record's id, ARC records' included."""

# Files a landing zone may hold beside the WARC files: completion markers and hidden files.
_IGNORED_PREFIXES = (".", "_")
_RECORD_TYPES = ("response", "request", "metadata", "warcinfo", "revisit", "resource", "conversion")


def list_dumps(landing: Path | str) -> list[str]:
    """Names of the dump folders of a landing zone (a local directory or an object-store URL)."""
    return landing_zone.list_dumps(str(landing))


def list_dump_files(landing: Path, dump: str) -> list[Path]:
    """Every regular file of one dump folder (recursively), sorted, markers and hidden files aside."""
    folder = landing / check_name(dump, "dump")
    if not folder.is_dir():
        raise FileNotFoundError(f"dump {dump!r} has no folder in the landing zone {landing}")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(_IGNORED_PREFIXES) for part in p.relative_to(folder).parts)
    )


@dataclass(frozen=True)
class ScanJob:
    dump: str
    path: str
    source_file: str


def scan_file(job: ScanJob) -> dict[str, Any]:
    """One crawl_files row: size, sha256, format, records by type, damaged regions (payloads not read)."""
    with local_copy(job.path) as path:
        return _scan(job, path)


def _scan(job: ScanJob, path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
    row: dict[str, Any] = {
        "dump": job.dump,
        "source_file": job.source_file,
        "path": job.path,
        "size": path.stat().st_size,
        "sha256": digest.hexdigest(),
        "format": "rejected",
        "damaged_regions": 0,
        "error": None,
    }
    counts: Counter[str] = Counter()
    digests = bytearray()
    fmt = record_format(job.source_file)
    if fmt is not None:
        return _scan_documents(row, path, fmt)
    try:
        row["format"] = sniff_format(path)
        for item in iter_warc(path, max_payload_bytes=-1):
            if isinstance(item, WarcDamage):
                row["damaged_regions"] += 1
                continue
            counts[item.record_type if item.record_type in _RECORD_TYPES else "other"] += 1
            if item.record_id and item.record_type in CONTENT_TYPES:
                digests += record_digest(item.record_id)
    except NotAWarcFileError as exc:  # said once, by whoever reads the report's problems (the asset logs them)
        row["error"] = str(exc)
    row["records"] = sum(counts.values())
    for kind in (*_RECORD_TYPES, "other"):
        row[f"{kind}_records"] = counts[kind]
    row["record_id_digests"] = bytes(digests)
    row["document_records"] = 0
    return row


def _scan_documents(row: dict[str, Any], path: Path, fmt: RecordFormat) -> dict[str, Any]:
    """Finish ``row`` for a document file: its records (every non-blank line or row) and their ids' digests.

    Every record counts, a bad one too (the documents stage rejects it by name); the digests are of the
    valid ids, which take part in the rule on a record id repeated across the dump's files.
    """
    records = 0
    digests = bytearray()
    try:
        row["format"] = check_format(path, fmt)
        if row["format"] != "empty":
            # All the columns the documents stage reads: a batch that fails to decode then fails in both
            # passes, at the same row, and the records counted here are the ones the stage sees.
            for item in iter_records(path, fmt):
                if isinstance(item, WarcDamage):
                    row["damaged_regions"] += 1
                    continue
                records += 1
                if item.record_id:
                    digests += record_digest(item.record_id)
    except NotADocumentFileError as exc:
        row["format"], row["error"] = "rejected", str(exc)
    row["records"] = row["document_records"] = records
    for kind in (*_RECORD_TYPES, "other"):
        row[f"{kind}_records"] = 0
    row["record_id_digests"] = bytes(digests)
    return row
