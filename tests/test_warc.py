"""Unit tests of corpuslake.warc and corpuslake.arc: records of every kind, WARC 1.0 and 1.1, ARC files,
damaged regions, wrong formats. Touches only tmp_path."""

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpuslake.warc import NotAWarcFileError, WarcDamage, WarcRecordData, iter_warc, sniff_format
from tests.warcs import Page, english_pages, wet_record, write_arc, write_warc


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
        (gzip.compress(b"just some gzip text", mtime=0), "does not start with a WARC record"),
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


@pytest.mark.parametrize("version", ["WARC/1.0", "WARC/1.1"])
@pytest.mark.parametrize("compressed", [True, False])
def test_both_warc_versions_give_the_same_records(tmp_path: Path, version: str, compressed: bool) -> None:
    pages = english_pages(2)
    path = tmp_path / ("a.warc.gz" if compressed else "a.warc")
    write_warc(path, pages, gzip=compressed, warc_version=version)
    assert path.read_bytes().startswith(version.encode()) or compressed
    got = _read(path)
    assert [(r.record_type, r.record_id, r.payload) for r in got if isinstance(r, WarcRecordData)] == [
        ("response", p.record_id, p.body) for p in pages
    ]


def test_content_records_of_every_kind(tmp_path: Path) -> None:
    (page,) = english_pages(1)
    records = [
        Page("https://x.org/", b"", None, record_type="request"),
        page,
        Page(
            "https://x.org/file.html", b"<html><p>stored without HTTP</p></html>", "text/html", record_type="resource"
        ),
        wet_record(page, "Extracted text\nof the page."),
        Page(
            page.url,
            b"",
            None,
            record_type="revisit",
            headers={"WARC-Refers-To": page.record_id or "", "WARC-Profile": "identical-payload-digest"},
        ),
        Page("metadata://x.org/log", b"log lines", "text/plain", record_type="metadata"),
    ]
    path = tmp_path / "a.warc.gz"
    write_warc(path, records)
    got = [r for r in iter_warc(path, 1 << 20, described="content") if isinstance(r, WarcRecordData)]
    assert [r.record_type for r in got] == ["request", "response", "resource", "conversion", "revisit", "metadata"]
    request, _, resource, conversion, revisit, metadata = got
    assert request.record_id is None and metadata.payload is None  # not content: type, offset, length only
    assert (resource.mime_type, resource.payload) == ("text/html", records[2].body)
    assert (conversion.mime_type, conversion.payload) == ("text/plain", b"Extracted text\nof the page.")
    assert conversion.refers_to == page.record_id and conversion.target_uri == page.url
    assert conversion.date is not None and conversion.date.year == 2024
    assert (revisit.refers_to, revisit.profile, revisit.payload) == (page.record_id, "identical-payload-digest", None)


def test_warc_1_1_dates_keep_their_fraction_of_a_second(tmp_path: Path) -> None:
    page = Page("https://x.org/", b"<html>hi</html>", headers={"WARC-Date": "2024-01-02T03:04:05.123456Z"})
    write_warc(tmp_path / "a.warc.gz", [page], warc_version="WARC/1.1")
    (record,) = _read(tmp_path / "a.warc.gz")
    assert isinstance(record, WarcRecordData) and record.date is not None
    assert (record.date.second, record.date.microsecond) == (5, 123456)


def test_plain_warc_cut_inside_its_last_record_reports_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "a.warc"
    offsets = write_warc(path, english_pages(3), gzip=False)
    path.write_bytes(path.read_bytes()[: offsets[2] + 400])  # headers whole, block cut short
    got = _read(path)
    assert [r.offset for r in got if isinstance(r, WarcRecordData)] == offsets[:2]
    assert [(d.offset, d.reason) for d in got if isinstance(d, WarcDamage)] == [(offsets[2], "truncated_tail")]


@pytest.mark.parametrize(("name", "compressed", "fmt"), [("a.arc.gz", True, "arc.gz"), ("a.arc", False, "arc")])
def test_arc_files_are_read_as_response_records(tmp_path: Path, name: str, compressed: bool, fmt: str) -> None:
    pages = english_pages(2)
    offsets = write_arc(tmp_path / name, pages, gzip=compressed)
    assert sniff_format(tmp_path / name) == fmt
    got = _read(tmp_path / name)
    assert all(isinstance(r, WarcRecordData) for r in got)
    header, *records = (r for r in got if isinstance(r, WarcRecordData))
    assert header.record_type == "warcinfo"
    assert [(r.record_type, r.target_uri, r.http_status, r.mime_type) for r in records] == [
        ("response", p.url, 200, "text/html") for p in pages
    ]
    assert [r.payload for r in records] == [p.body for p in pages]
    assert [r.offset for r in got] == offsets
    assert all((r.record_id or "").startswith("<urn:corpuslake:arc:") for r in (header, *records))  # derived ids
    assert records[0].date is not None and records[0].date.year == 2001


@pytest.mark.parametrize("compressed", [True, False])
def test_arc_file_cut_inside_a_record_keeps_the_records_before(tmp_path: Path, compressed: bool) -> None:
    path = tmp_path / ("a.arc.gz" if compressed else "a.arc")
    offsets = write_arc(path, english_pages(3), gzip=compressed)
    path.write_bytes(path.read_bytes()[: offsets[3] + 300])  # inside the last page's block
    got = _read(path)
    assert [r.offset for r in got if isinstance(r, WarcRecordData)] == offsets[:3]
    damage = [d for d in got if isinstance(d, WarcDamage)]
    assert len(damage) == 1 and damage[0].reason == "truncated_tail"


def test_oversized_arc_payload_is_not_kept(tmp_path: Path) -> None:
    write_arc(tmp_path / "a.arc.gz", english_pages(1))
    _, record = _read(tmp_path / "a.arc.gz", max_payload=100)
    assert isinstance(record, WarcRecordData) and record.payload is None and record.payload_length > 100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
    compressed=st.booleans(),
)
def test_mutated_arc_files_give_records_or_damage_never_an_exception(
    tmp_path: Path, flips: list[tuple[int, int]], cut: int | None, compressed: bool
) -> None:
    path = tmp_path / ("a.arc.gz" if compressed else "a.arc")
    write_arc(path, english_pages(3), gzip=compressed)
    data = bytearray(path.read_bytes())
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    path.write_bytes(bytes(data))
    try:
        items = _read(path)
    except NotAWarcFileError:
        return  # the first bytes no longer look like ARC: a clear, file-level rejection
    assert all(isinstance(item, WarcRecordData | WarcDamage) for item in items)
    assert sum(isinstance(item, WarcDamage) for item in items) <= 1  # reading stops at the first damage
