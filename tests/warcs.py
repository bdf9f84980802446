"""Writing small WARC, WET and ARC files for tests: WARC with warcio (an independent WARC implementation),
ARC by hand after the ARC 1.0 file format (the Internet Archive's, as Heritrix and Alexa wrote it)."""

import gzip as gzip_module
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpuslake.pipeline import extract_documents, ingest_crawl_files
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake


@dataclass
class Page:
    url: str
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"
    status: str = "200 OK"
    record_id: str | None = ""
    """"" derives a stable id from the URL and type (rebuilds give the same bytes); None writes none."""
    record_type: str = "response"
    """response, request, resource, conversion (a WET record: ``body`` is the text), revisit, metadata."""
    headers: dict[str, str] = field(default_factory=dict)
    """More WARC headers (WARC-Refers-To, WARC-Profile, WARC-Date...)."""

    def __post_init__(self) -> None:
        if self.record_id == "":
            self.record_id = f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self.record_type + self.url)}>"


def html_page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>"
        f"<main><h1>{title}</h1>{body}</main><footer>Copyright</footer></body></html>"
    ).encode()


def record_bytes(page: Page, gzip: bool = True, warc_version: str = "WARC/1.0") -> bytes:
    """One WARC record (one gzip member when ``gzip``) for ``page``."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip, warc_version=warc_version)
    headers = [("Content-Type", page.content_type)] if page.content_type else []
    http = StatusAndHeaders(page.status, headers, protocol="HTTP/1.1")
    warc_headers = {"WARC-Record-ID": page.record_id} if page.record_id else {}
    warc_headers.update(page.headers)
    with_http = page.record_type in ("response", "request")
    record = writer.create_warc_record(
        page.url,
        page.record_type,
        payload=io.BytesIO(page.body),
        length=len(page.body),  # known: warcio then spools nothing to a temporary file
        http_headers=http if with_http else None,
        warc_content_type="" if with_http else (page.content_type or ""),
        warc_headers_dict=warc_headers,
    )
    if page.record_id is None:
        record.rec_headers.remove_header("WARC-Record-ID")
    writer.write_record(record)
    record.raw_stream.close()  # warcio spools the block to a temporary file and leaves it open
    return buf.getvalue()


def write_warc(path: Path, pages: list[Page], gzip: bool = True, warc_version: str = "WARC/1.0") -> list[int]:
    """Write ``pages`` to ``path``; return the byte offset of each record."""
    return write_records(path, [record_bytes(page, gzip, warc_version) for page in pages])


def write_records(path: Path, records: list[bytes]) -> list[int]:
    """Write the encoded ``records`` one after the other to ``path``; return the byte offset of each."""
    offsets, pos = [], 0
    for data in records:
        offsets.append(pos)
        pos += len(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(records))
    return offsets


def english_pages(n: int, site: str = "https://docs.example.org") -> list[Page]:
    """``n`` distinct English pages long enough for language id."""
    text = (
        "The quick brown fox jumps over the lazy dog while the committee reviews the annual report "
        "and the members of the board discuss the budget for the next year in great detail."
    )
    return [Page(f"{site}/page-{i}.html", html_page(f"Page {i}", [f"{text} Section {i}."] * 3)) for i in range(n)]


def wet_record(page: Page, text: str, language: str = "eng") -> Page:
    """The WET conversion record Common Crawl writes for ``page``: its extracted text, as plain UTF-8."""
    return Page(
        page.url,
        text.encode(),
        "text/plain",
        record_type="conversion",
        headers={
            "WARC-Refers-To": page.record_id or "",
            "WARC-Date": "2024-02-21T10:00:00Z",
            "WARC-Identified-Content-Language": language,
        },
    )


ARC_DATE = "20010203040506"
"""The archive date of an ARC record whose page gives no ``Archive-Date`` header."""


def write_arc(path: Path, pages: list[Page], gzip: bool = True) -> list[int]:
    """Write ``pages`` as an ARC 1.0 file (one gzip member per record when ``gzip``); return the offset of
    each record, the ``filedesc://`` header record first. A page's ``Archive-Date`` header (``YYYYmmddHHMMSS``)
    is its record's date."""
    spec = b"1 0 corpuslake tests\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [b"filedesc://%s 0.0.0.0 20010101000000 text/plain %d\n%s\n" % (path.name.encode(), len(spec), spec)]
    for page in pages:
        headers = f"HTTP/1.0 {page.status}\r\n" + (
            f"Content-Type: {page.content_type}\r\n" if page.content_type else ""
        )
        block = headers.encode() + b"\r\n" + page.body
        mime = (page.content_type or "unknown").split(";")[0]
        date = page.headers.get("Archive-Date", ARC_DATE)
        line = f"{page.url} 192.0.2.1 {date} {mime} {len(block)}\n".encode()
        records.append(line + block + b"\n")
    return write_records(path, [gzip_module.compress(r) if gzip else r for r in records])


def ingest_dump(landing: Path, lake_dir: Path, dump: str) -> tuple[Lake, list[dict[str, Any]], list[dict[str, Any]]]:
    """crawl_files and documents of ``dump`` into a lake at ``lake_dir``; the documents and the documents
    stage's rejections."""
    lake = Lake(str(lake_dir))
    ingest_crawl_files(lake, landing, dump, "run", workers=1)
    extract_documents(lake, dump, "run", DocumentsConfig(), workers=1)
    docs = lake.read("documents").to_pylist()
    rejections = lake.read("rejections", filters={"stage": "documents"}).to_pylist()
    return lake, docs, rejections
