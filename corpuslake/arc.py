"""Reading ARC files (the Internet Archive's format before WARC) into the records WARC files give.

warcio does the parsing (fastwarc reads no ARC). Its ARC-to-WARC conversion is not used: it gives every
record a random WARC-Record-ID, so a re-run would give new document ids. An ARC record has no id of its
own; it gets one derived from what it holds (:func:`arc_record_id`: its URL, its archive date and a digest
of its payload), stable across runs and the same in every copy of the file, so the rule on a record id
repeated in a dump (:mod:`corpuslake.record_duplicates`) keeps one document of an ``.arc`` and its
``.arc.gz`` copy. The ``filedesc://`` header record becomes a ``warcinfo`` record and every URL record a
``response``.

warcio stops at the first damaged record and reads a record cut by the end of the file as if it were
whole; here a cut record is a ``truncated_tail`` and any other failure a ``corrupt_member``, both with
their byte offset, and the records before them are kept.
"""

import hashlib
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from corpuslake.warc import WarcDamage, WarcRecordData, parse_content_type

_CHUNK = 1 << 20


def iter_arc(path: Path, max_payload_bytes: int) -> Iterator[WarcRecordData | WarcDamage]:
    """Yield every record of the ARC file ``path`` (plain or gzip) in order, then the damage that ended it.

    Payloads longer than ``max_payload_bytes`` are read through but not kept, as for WARC files.
    """
    with path.open("rb") as fh:
        records = ArchiveIterator(fh, arc2warc=False)
        start = 0  # where the record being read starts: where the last whole one ended
        try:
            for record in records:
                payload, digest, whole = _payload(record, max_payload_bytes)
                offset = records.get_record_offset()
                if not whole:
                    yield WarcDamage(offset, "truncated_tail", "an ARC record cut short by the end of the file")
                    return
                yield _record_data(record, offset, payload, digest)
                start = offset + records.get_record_length()
        except (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, OSError, ValueError, zlib.error) as exc:
            yield WarcDamage(start, "corrupt_member", f"{type(exc).__name__}: {exc} (the rest of the file is unread)")
            return
    # warcio ends quietly at a gzip member cut short: what follows the last whole record is a cut one.
    tail = path.stat().st_size - start
    if tail > 2:  # an uncompressed file's last record is followed by its blank line
        yield WarcDamage(start, "truncated_tail", f"{tail} bytes at the end are no whole record")


class _Digesting:
    """A record's block stream that digests every byte read through it, however it is read (whole, in
    blocks by a decoder, or line by line by the chunked-encoding reader)."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.digest = stream, hashlib.sha256()

    # None, not -1, for "all": warcio's LimitReader reads nothing for a negative size.
    def read(self, size: int | None = None) -> bytes:
        data: bytes = self.stream.read(size)
        self.digest.update(data)
        return data

    def readline(self, size: int | None = None) -> bytes:
        data: bytes = self.stream.readline(size)
        self.digest.update(data)
        return data


def _payload(record: Any, max_payload_bytes: int) -> tuple[bytes | None, bytes, bool]:
    """The record's HTTP body (None past ``max_payload_bytes``), the digest of its block's bytes after the
    HTTP headers (the same whether the body is kept or not), and whether its block was whole."""
    length = record.length or 0
    keep = record.rec_type == "response" and length <= max_payload_bytes
    raw = record.raw_stream
    record.raw_stream = digesting = _Digesting(raw)  # content_stream() decodes from record.raw_stream
    payload = record.content_stream().read() if keep else None
    while digesting.read(_CHUNK):  # what is left of the block: an unkept payload, or none
        pass
    remaining = getattr(raw, "limit", 0)  # bytes the block declared but the file lacks
    return payload, digesting.digest.digest(), remaining <= 0


def arc_record_id(url: str, archive_date: str, payload_digest: bytes) -> str:
    """The id of an ARC record, which has none of its own: a digest of its URL, its archive date and its
    payload's digest, in a URN of its own kind (never taken for a WARC-Record-ID)."""
    key = hashlib.blake2b(digest_size=16)
    for part in (url.encode("utf-8", "surrogatepass"), archive_date.encode("ascii", "replace"), payload_digest):
        key.update(len(part).to_bytes(4, "big") + part)  # lengths first: no two headers give one key
    return f"<urn:corpuslake:arc:{key.hexdigest()}>"


def _record_data(record: Any, offset: int, payload: bytes | None, digest: bytes) -> WarcRecordData:
    headers = record.rec_headers
    http = record.http_headers
    mime, charset = parse_content_type(http.get_header("Content-Type") if http else None)
    status = http.get_statuscode() if http else None
    url, date = headers.get_header("uri") or "", headers.get_header("archive-date") or ""
    return WarcRecordData(
        record_type="warcinfo" if record.rec_type == "arc_header" else "response",
        record_id=arc_record_id(url, date, digest),
        date=_arc_date(date),
        target_uri=url or None,
        offset=offset,
        http_status=int(status) if status and str(status).isdigit() else None,
        mime_type=mime,
        charset=charset,
        payload=payload,
        payload_length=record.length or 0,
        warc_truncated=None,
    )


def _arc_date(value: str | None) -> datetime | None:
    """An ARC archive date (``YYYYmmddHHMMSS``, UTC) as a datetime; None when it is not one."""
    try:
        return datetime.strptime((value or "")[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
