"""Unit tests of corpuslake.warc: records, damaged regions, wrong formats. Touches only tmp_path."""

import gzip
from pathlib import Path

import pytest

from corpuslake.warc import NotAWarcFileError, WarcDamage, WarcRecordData, iter_warc, sniff_format
from tests.warcs import Page, english_pages, write_warc


def _read(path: Path, max_payload: int = 1 << 20) -> list[WarcRecordData | WarcDamage]:
    return list(iter_warc(path, max_payload))


def test_reads_every_record_with_http_fields(tmp_path: Path) -> None:
    pages = english_pages(3)
    offsets = write_warc(tmp_path / "a.warc.gz", pages)
    got = _read(tmp_path / "a.warc.gz")
    assert [r.target_uri for r in got if isinstance(r, WarcRecordData)] == [p.url for p in pages]
    first = got[0]
    assert isinstance(first, WarcRecordData)
    assert (first.http_status, first.mime_type, first.charset) == (200, "text/html", "utf-8")
    assert first.payload == pages[0].body
    assert [r.offset for r in got] == offsets
    assert first.record_id == pages[0].record_id


def test_plain_uncompressed_warc(tmp_path: Path) -> None:
    write_warc(tmp_path / "a.warc", english_pages(2), gzip=False)
    assert sniff_format(tmp_path / "a.warc") == "warc"
    assert [type(r) for r in _read(tmp_path / "a.warc")] == [WarcRecordData, WarcRecordData]


def test_corrupt_member_is_reported_and_reading_resumes(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, english_pages(5))
    data = bytearray(path.read_bytes())
    for i in range(offsets[2] + 30, offsets[2] + 60):  # inside the third member's deflate stream
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    got = _read(path)
    damage = [r for r in got if isinstance(r, WarcDamage)]
    assert [(d.offset, d.reason) for d in damage] == [(offsets[2], "corrupt_member")]
    assert [r.offset for r in got if isinstance(r, WarcRecordData)] == [offsets[i] for i in (0, 1, 3, 4)]


def test_truncated_file_reports_its_tail(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, english_pages(3))
    path.write_bytes(path.read_bytes()[: offsets[2] + 40])  # cut inside the last member
    got = _read(path)
    assert [r.offset for r in got if isinstance(r, WarcRecordData)] == offsets[:2]
    assert [(d.offset, d.reason) for d in got if isinstance(d, WarcDamage)] == [(offsets[2], "truncated_tail")]


def test_oversized_payload_is_not_read(tmp_path: Path) -> None:
    write_warc(tmp_path / "a.warc.gz", english_pages(1))
    (record,) = _read(tmp_path / "a.warc.gz", max_payload=100)
    assert isinstance(record, WarcRecordData)
    assert record.payload is None and record.payload_length > 100


def test_record_without_id(tmp_path: Path) -> None:
    write_warc(tmp_path / "a.warc.gz", [Page("https://x.org/", b"<html>hi</html>", record_id=None)])
    (record,) = _read(tmp_path / "a.warc.gz")
    assert isinstance(record, WarcRecordData) and record.record_id is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, I am a README\n", "not a WARC file"),
        (gzip.compress(b"just some gzip text"), "does not start with a WARC record"),
        (b"filedesc://IA-001.arc 0.0.0.0 20010101000000 text/plain 76\n", "ARC file"),
    ],
)
def test_wrong_formats_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "odd.bin"
    path.write_bytes(content)
    with pytest.raises(NotAWarcFileError, match=message) as info:
        list(iter_warc(path, 1 << 20))
    assert str(path) in str(info.value)


def test_empty_file_has_no_records(tmp_path: Path) -> None:
    (tmp_path / "empty.warc.gz").write_bytes(b"")
    assert sniff_format(tmp_path / "empty.warc.gz") == "empty"
    assert _read(tmp_path / "empty.warc.gz") == []
