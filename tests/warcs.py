"""Writing small WARC files for tests, with warcio (an independent WARC implementation)."""

import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass
class Page:
    url: str
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"
    status: str = "200 OK"
    record_id: str | None = ""
    """"" derives a stable id from the URL and type (rebuilds give the same bytes); None writes none."""
    record_type: str = "response"

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


def record_bytes(page: Page, gzip: bool = True) -> bytes:
    """One WARC record (one gzip member when ``gzip``) for ``page``."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip)
    headers = [("Content-Type", page.content_type)] if page.content_type else []
    http = StatusAndHeaders(page.status, headers, protocol="HTTP/1.1")
    warc_headers = {"WARC-Record-ID": page.record_id} if page.record_id else None
    record = writer.create_warc_record(
        page.url,
        page.record_type,
        payload=io.BytesIO(page.body),
        http_headers=http if page.record_type in ("response", "request") else None,
        warc_headers_dict=warc_headers,
    )
    if page.record_id is None:
        record.rec_headers.remove_header("WARC-Record-ID")
    writer.write_record(record)
    record.raw_stream.close()  # warcio spools the block to a temporary file and leaves it open
    return buf.getvalue()


def write_warc(path: Path, pages: list[Page], gzip: bool = True) -> list[int]:
    """Write ``pages`` to ``path``; return the byte offset of each record."""
    offsets, chunks, pos = [], [], 0
    for page in pages:
        data = record_bytes(page, gzip)
        offsets.append(pos)
        chunks.append(data)
        pos += len(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(chunks))
    return offsets


def english_pages(n: int, site: str = "https://docs.example.org") -> list[Page]:
    """``n`` distinct English pages long enough for language id."""
    text = (
        "The quick brown fox jumps over the lazy dog while the committee reviews the annual report "
        "and the members of the board discuss the budget for the next year in great detail."
    )
    return [Page(f"{site}/page-{i}.html", html_page(f"Page {i}", [f"{text} Section {i}."] * 3)) for i in range(n)]
