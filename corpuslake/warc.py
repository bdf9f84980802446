"""Reading WARC files record by record, reporting damage instead of dying on it.

fastwarc does the parsing of WARC 1.0 and 1.1 (plain or gzip); ARC files, the format before WARC, are
read by :mod:`corpuslake.arc` into the same records. What fastwarc does not do is tell a truncated file
from a finished one (it stops quietly at a cut-off gzip member) or go on after a corrupt member (it
raises). This module adds both: after a failure it resynchronises on the next gzip member (or plain
``WARC/1.x`` header) that really starts a WARC record, and it reports every skipped region as a
:class:`WarcDamage` with its byte offset, so the caller can count and record it.
"""

import mmap
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, NamedTuple

from fastwarc.warc import ArchiveIterator, WarcRecordType

_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_ARC_MAGIC = b"filedesc://"
# Record types by fastwarc's enum value: an int lookup per record instead of formatting the enum.
_TYPE_NAMES = {
    int(kind): name
    for name, kind in vars(WarcRecordType).items()
    if isinstance(kind, WarcRecordType) and name not in ("any_type", "no_type")
}
_RESPONSE = int(WarcRecordType.response)
# Records whose block is content a document can come from: an HTTP response, a resource stored without
# HTTP (warcit, webrecorder), a conversion (the extracted text of a WET file). Revisits are content records
# too (a capture whose payload was stored earlier) but have no block to read.
CONTENT_TYPES = ("response", "resource", "conversion", "revisit")
_READ_BLOCK = frozenset(int(getattr(WarcRecordType, name)) for name in ("resource", "conversion"))
_DESCRIBED = frozenset(int(getattr(WarcRecordType, name)) for name in CONTENT_TYPES)
Format = Literal["warc.gz", "warc", "arc.gz", "arc", "empty"]


class NotAWarcFileError(ValueError):
    """The file is not a WARC file (plain or gzip): wrong format, not a damaged record."""


class WarcRecordData(NamedTuple):
    """One WARC record, with the HTTP payload of response records read into memory.

    A named tuple rather than a frozen dataclass: as immutable, and built in half the time, which counts
    at one or two records per page.
    """

    record_type: str
    """WARC-Type: response, request, metadata, warcinfo, revisit, resource, conversion, ..."""
    record_id: str | None
    date: datetime | None
    target_uri: str | None
    offset: int
    """Byte offset of the record (its gzip member) in the file."""
    http_status: int | None
    mime_type: str | None
    charset: str | None
    payload: bytes | None
    """HTTP body of a response record, the block of a resource or conversion record; None for other types
    and for oversized payloads."""
    payload_length: int
    """Length of the record block in bytes (WARC Content-Length)."""
    warc_truncated: str | None
    """The WARC-Truncated header (crawlers cut long payloads and say why)."""
    refers_to: str | None = None
    """WARC-Refers-To: the record a revisit repeats, or the response a conversion was made from."""
    profile: str | None = None
    """WARC-Profile of a revisit (identical payload digest, server not modified)."""


@dataclass(frozen=True, slots=True)
class WarcDamage:
    """A region of the file that could not be read as WARC records."""

    offset: int
    reason: str
    """``corrupt_member`` (decompression or parse error) or ``truncated_tail`` (file cut short)."""
    detail: str


def sniff_format(path: Path) -> Format:
    """Return ``warc.gz``, ``warc``, ``arc.gz``, ``arc`` or ``empty``; raise :class:`NotAWarcFileError` for
    anything else."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if not head:
        return "empty"
    if head.startswith(_GZIP_MAGIC):
        inner = _gunzip_prefix(head)
        if inner.startswith(_WARC_MAGIC):
            return "warc.gz"
        if inner.startswith(_ARC_MAGIC):
            return "arc.gz"
        raise NotAWarcFileError(f"{path}: gzip data that does not start with a WARC record (nor an ARC one)")
    if head.startswith(_WARC_MAGIC):
        return "warc"
    if head.startswith(_ARC_MAGIC):
        return "arc"
    raise NotAWarcFileError(f"{path}: not a WARC file (nor an ARC one; it starts with {head[:16]!r})")


def iter_warc(
    path: Path, max_payload_bytes: int, *, described: Literal["all", "content"] = "all"
) -> Iterator[WarcRecordData | WarcDamage]:
    """Yield every record of ``path`` (WARC or ARC) in order, and a :class:`WarcDamage` for each unreadable
    region.

    Payloads longer than ``max_payload_bytes`` are not kept (``payload`` is None) so one huge record
    cannot exhaust memory; they are still decompressed and checked. ``max_payload_bytes=-1`` keeps none.
    With ``described="content"`` only content records (:data:`CONTENT_TYPES`) carry their headers; the
    others come with their type, offset and length alone (a caller that skips them saves the header and
    date parsing).
    """
    fmt = sniff_format(path)
    if fmt == "empty":
        return
    if fmt in ("arc", "arc.gz"):
        from corpuslake.arc import iter_arc  # here, not at the top: arc builds this module's records

        yield from iter_arc(path, max_payload_bytes)
        return
    gz = fmt == "warc.gz"
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
        start: int | None = 0
        while start is not None:
            start = yield from _read_segment(fh, view, start, gz, max_payload_bytes, described == "all")


def _read_segment(
    fh: IO[bytes], view: mmap.mmap, start: int, gz: bool, max_payload_bytes: int, describe_all: bool
) -> Generator[WarcRecordData | WarcDamage, None, int | None]:
    """Read records from ``start`` until the end or a failure; return where to resume, or None.

    A record is yielded only once it is known to be whole: when the next one starts, or, for the last
    one, when its gzip member is seen to end. fastwarc hands out a cut-off last record as if it were
    complete.
    """
    fh.seek(start)
    pending: WarcRecordData | None = None  # read, but not yet known to be whole
    current: int | None = None  # offset of the record being read when a failure happens
    try:
        for record in ArchiveIterator(fh, parse_http=False, auto_decode="none"):
            current = record.stream_pos  # absolute: fastwarc counts from the file's start
            data = _record_data(record, current, max_payload_bytes, describe_all)
            if pending is not None:
                yield pending
            pending, current = data, None
    except (OSError, ValueError) as exc:
        if pending is not None:
            yield pending  # the failure lies after it, so its own member ended
        if current is None:  # failed between records: the bad one starts where the last one ended
            current = start if pending is None else _record_end(view, pending.offset, gz)
        yield WarcDamage(current, "corrupt_member", f"{type(exc).__name__}: {exc}")
        return _next_record_start(view, current + 1, gz)
    end = start if pending is None else _record_end(view, pending.offset, gz)
    if pending is not None and end > pending.offset:
        yield pending
    if end < len(view):
        yield WarcDamage(end, "truncated_tail", f"{len(view) - end} bytes at the end are no whole record")
    return None


def _record_data(record: object, offset: int, max_payload_bytes: int, describe: bool) -> WarcRecordData:
    rec = record  # fastwarc.warc.WarcRecord (no stubs)
    kind = int(rec.record_type)  # type: ignore[attr-defined]
    length = int(rec.content_length)  # type: ignore[attr-defined]
    name = _TYPE_NAMES.get(kind) or str(rec.record_type)  # type: ignore[attr-defined]
    if kind not in _DESCRIBED and not describe:
        rec.consume()  # type: ignore[attr-defined]
        return WarcRecordData(name, None, None, None, offset, None, None, None, None, length, None)
    headers = rec.headers  # type: ignore[attr-defined]
    status = mime = charset = payload = None
    if kind == _RESPONSE and length <= max_payload_bytes:
        rec.parse_http(strict_mode=False, auto_decode="all")  # type: ignore[attr-defined]
        if rec.is_http:  # type: ignore[attr-defined]
            status = rec.http_headers.status_code  # type: ignore[attr-defined]
            mime = rec.http_content_type  # type: ignore[attr-defined]
            charset = rec.http_charset  # type: ignore[attr-defined]
        payload = rec.reader.read()  # type: ignore[attr-defined]
    elif kind in _READ_BLOCK and length <= max_payload_bytes:
        mime, charset = parse_content_type(headers.get("Content-Type"))  # no HTTP: the WARC header's type
        payload = rec.reader.read()  # type: ignore[attr-defined]
    else:
        # Read the block through anyway: a corrupt member then fails on this record, in every pass,
        # whether or not the caller wanted its payload.
        rec.consume()  # type: ignore[attr-defined]
    return WarcRecordData(
        record_type=name,
        record_id=rec.record_id or None,  # type: ignore[attr-defined]
        date=rec.record_date,  # type: ignore[attr-defined]
        target_uri=headers.get("WARC-Target-URI") or None,
        offset=offset,
        http_status=status,
        mime_type=mime.lower() if mime else None,
        charset=charset.lower() if charset else None,
        payload=payload,
        payload_length=length,
        warc_truncated=headers.get("WARC-Truncated") or None,
        refers_to=headers.get("WARC-Refers-To") or None,
        profile=headers.get("WARC-Profile") or None,
    )


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """(mime type, charset) of a Content-Type value, both lower case; None for what it does not say."""
    if not value:
        return None, None
    mime, *params = (part.strip() for part in value.split(";"))
    charset = next((p.split("=", 1)[1].strip().strip('"') for p in params if p.lower().startswith("charset=")), None)
    return mime.lower() or None, charset.lower() if charset else None


def _record_end(view: mmap.mmap, pos: int, gz: bool) -> int:
    """Byte offset just past the record starting at ``pos`` (the end of its gzip member).

    For plain WARC the next record header stands for the end; a record with no successor ends the file if
    the file holds its whole block (fastwarc hands out a block cut short by the end of the file).
    """
    if not gz:
        nxt = _next_record_start(view, pos + 1, gz)
        if nxt is not None:
            return nxt
        return len(view) if _plain_block_end(view, pos) <= len(view) else pos
    inflater = zlib.decompressobj(wbits=31)
    cursor = pos
    while not inflater.eof and cursor < len(view):
        chunk = view[cursor : cursor + (1 << 20)]
        try:
            inflater.decompress(chunk)
        except zlib.error:
            break
        cursor += len(chunk)
    if not inflater.eof:
        return pos  # the member itself never ends: nothing after ``pos`` is whole
    return cursor - len(inflater.unused_data)


def _plain_block_end(view: mmap.mmap, pos: int) -> int:
    """Where the block of the plain WARC record at ``pos`` ends by its Content-Length; past the end of the
    file when its headers do not end or declare no length."""
    head_end = view.find(b"\r\n\r\n", pos, pos + (1 << 20))
    if head_end < 0:
        return len(view) + 1
    match = _CONTENT_LENGTH.search(view[pos:head_end])
    return head_end + 4 + int(match.group(1)) if match else len(view) + 1


_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*$")


def _next_record_start(view: mmap.mmap, pos: int, gz: bool) -> int | None:
    """Offset of the first gzip member (or plain header) at or after ``pos`` that opens a WARC record."""
    magic = _GZIP_MAGIC if gz else _WARC_MAGIC
    while True:
        pos = view.find(magic, pos)
        if pos < 0:
            return None
        if gz and _gunzip_prefix(view[pos : pos + 4096]).startswith(_WARC_MAGIC):
            return pos
        if not gz and (pos == 0 or view[pos - 2 : pos] == b"\n\n" or view[pos - 4 : pos] == b"\r\n\r\n"):
            return pos
        pos += 1


def _gunzip_prefix(data: bytes) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(data, 64)
    except zlib.error:
        return b""
