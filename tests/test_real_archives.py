"""Archives as other crawlers write them, through crawl_files and documents: every content record is a
document or a named rejection and the documents checks agree. A record id repeated across the files of a
dump, revisit, resource and conversion records, WARC 1.0 and 1.1, truncated files, WET and ARC files.
Touches: WARC, WET and ARC files made under tmp_path, a lake under tmp_path (local process, one worker).
"""

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from corpuslake.arc import arc_record_id
from corpuslake.lineage import Lineage
from corpuslake.pipeline import extract_documents, ingest_crawl_files
from corpuslake.record_duplicates import record_digest, write_losers
from corpuslake.schemas import DOCUMENTS, document_id
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake
from quality_checks.documents import content_records, documents_balance, ids_unique
from tests.warcs import (
    ARC_DATE,
    Page,
    english_pages,
    html_page,
    ingest_dump,
    record_bytes,
    wet_record,
    write_arc,
    write_warc,
)

DUMP = "CC-TEST"
_TEXT = (
    "The river flows quietly through the old town, where the bakers open their shops before dawn and the "
    "market fills with farmers selling vegetables, cheese and fresh bread to the early visitors."
)


def _ingest(landing: Path, lake_dir: Path) -> tuple[Lake, list[dict[str, Any]], list[dict[str, Any]]]:
    return ingest_dump(landing, lake_dir, DUMP)


def _reasons(rejections: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{r['filter']}/{r['reason']}" for r in rejections)


def _assert_checks_pass(lake: Lake) -> None:
    balanced, counts = documents_balance(lake, DUMP)
    assert balanced, counts
    unique, repeated = ids_unique(lake, DUMP)
    assert unique, repeated


def test_a_record_id_repeated_across_files_is_kept_once_from_the_first_file(tmp_path: Path) -> None:
    pages = english_pages(4)
    folder = tmp_path / "landing" / DUMP
    write_warc(folder / "crawl-0.warc", pages[:3], gzip=False)
    write_warc(folder / "crawl-0.warc.gz", pages[:3])  # the same records, compressed: a copy
    # a later file: one record of the first again (twice), and a new one
    write_warc(folder / "more" / "crawl-1.warc.gz", [pages[1], pages[3], pages[1]])
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")

    assert sorted((d["source_file"], d["url"]) for d in docs) == [
        ("crawl-0.warc", pages[0].url),
        ("crawl-0.warc", pages[1].url),
        ("crawl-0.warc", pages[2].url),
        ("more/crawl-1.warc.gz", pages[3].url),
    ]
    duplicates = [r for r in rejections if r["reason"] == "duplicate_record"]
    assert _reasons(rejections) == {"warc/duplicate_record": 5}
    assert Counter(r["source_file"] for r in duplicates) == {"crawl-0.warc.gz": 3, "more/crawl-1.warc.gz": 2}
    assert {r["warc_record_id"] for r in duplicates} == {p.record_id for p in pages[:3]}
    # each occurrence is named by its place: the record id's own id is its first occurrence's document
    assert {r["id"] for r in duplicates}.isdisjoint(d["id"] for d in docs)
    assert len({r["id"] for r in duplicates}) == len(duplicates)
    _assert_checks_pass(lake)


def test_within_one_file_the_first_offset_wins(tmp_path: Path) -> None:
    (page,) = english_pages(1)
    other = Page(page.url + "?v=2", html_page("Other", [_TEXT]), record_id=page.record_id)  # same id, other page
    offsets = write_warc(tmp_path / "landing" / DUMP / "a.warc.gz", [page, other])
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")
    assert [(d["url"], d["warc_offset"]) for d in docs] == [(page.url, offsets[0])]
    assert [(r["reason"], r["warc_offset"]) for r in rejections] == [("duplicate_record", offsets[1])]
    _assert_checks_pass(lake)


def test_the_losers_pass_lists_later_occurrences_sorted_by_file(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    folder = tmp_path / "landing" / DUMP
    a, b, c = english_pages(3)
    write_warc(folder / "z.warc.gz", [a, b])
    write_warc(folder / "b" / "y.warc.gz", [b, c])
    write_warc(folder / "a.warc.gz", [c])
    ingest_crawl_files(lake, tmp_path / "landing", DUMP, "run", workers=1)
    out = tmp_path / "losers.parquet"
    assert write_losers(lake.dataset("crawl_files"), DUMP, out, memory_limit="64MB") == 2
    rows = pq.read_table(out).to_pylist()
    # c: first in a.warc.gz (path order), so b/y.warc.gz loses it; b: first in b/y.warc.gz, z.warc.gz loses it
    assert [(r["source_file"], r["digest"]) for r in rows] == [
        ("b/y.warc.gz", record_digest(c.record_id or "")),
        ("z.warc.gz", record_digest(b.record_id or "")),
    ]


def test_every_kind_of_record_is_a_document_or_a_named_rejection(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / DUMP
    pages = english_pages(6)
    html_resource = Page("https://files.example.org/doc.html", html_page("Stored", [_TEXT]), "text/html")
    log = Page("https://files.example.org/crawl.log", b"fetched 3 pages", "text/plain", record_type="resource")
    html_resource.record_type = "resource"
    revisit = Page(
        pages[0].url,
        b"",
        None,
        record_type="revisit",
        headers={"WARC-Refers-To": pages[0].record_id or "", "WARC-Profile": "server-not-modified"},
    )
    records = [
        Page(pages[0].url, b"", None, record_type="request"),
        pages[0],
        html_resource,
        log,
        revisit,
        Page("metadata://x/outlinks", b"outlinks", "text/plain", record_type="metadata"),
    ]
    write_warc(folder / "a-wget.warc", records, gzip=False, warc_version="WARC/1.0")
    write_warc(folder / "b-pywb.warc.gz", pages[1:3], warc_version="WARC/1.1")
    # a .warc.gz cut inside its last record: the records before the cut are kept
    whole = b"".join(record_bytes(p) for p in pages[3:5])
    cut = record_bytes(pages[5])
    (folder / "c-cut.warc.gz").write_bytes(whole + cut[: len(cut) // 2])
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")

    files = {r["source_file"]: r for r in lake.read("crawl_files").to_pylist()}
    wget = files["a-wget.warc"]
    assert (wget["response_records"], wget["resource_records"], wget["revisit_records"]) == (1, 2, 1)
    assert (wget["request_records"], wget["metadata_records"], wget["other_records"]) == (1, 1, 0)
    assert files["c-cut.warc.gz"]["damaged_regions"] == 1
    assert {d["url"] for d in docs} == {html_resource.url, *(p.url for p in pages[:5])}
    assert _reasons(rejections) == {"warc/revisit": 1, "warc/not_html": 1, "warc/truncated_tail": 1}
    (revisit_row,) = (r for r in rejections if r["reason"] == "revisit")
    assert pages[0].record_id in revisit_row["detail"] and "server-not-modified" in revisit_row["signals"]
    _assert_checks_pass(lake)


def test_wet_records_are_documents_without_extraction_and_keep_provenance(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / DUMP
    pages = english_pages(2)
    text = f"Home | About | Contact\n{_TEXT}\n{_TEXT}"  # menus stay: WET text is final as it is
    info = Page("", b"software: test", "application/warc-fields", record_type="warcinfo")
    wet = [info, wet_record(pages[0], text), wet_record(pages[1], "   \n  ")]
    offsets = write_warc(folder / "CC-MAIN-0000.warc.wet.gz", wet)
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")

    (doc,) = docs
    assert doc["text"] == text
    assert (doc["url"], doc["warc_record_id"], doc["source_file"], doc["warc_offset"]) == (
        pages[0].url,
        wet[1].record_id,
        "CC-MAIN-0000.warc.wet.gz",
        offsets[1],
    )
    assert doc["warc_date"].year == 2024 and doc["content_type"] == "text/plain" and doc["encoding"] == "utf-8"
    assert doc["language"] == "en" and doc["language_score"] > 0.5
    assert doc["id"] == document_id(DUMP, wet[1].record_id, "", 0)
    assert _reasons(rejections) == {"extract/empty_extraction": 1}
    (files,) = lake.read("crawl_files").to_pylist()
    assert (files["conversion_records"], files["warcinfo_records"], files["response_records"]) == (2, 1, 0)
    _assert_checks_pass(lake)


def _arc_id(page: Page) -> str:
    """The id an ARC record of ``page`` gets: from its URL, archive date and the digest of its body."""
    return arc_record_id(page.url, page.headers.get("Archive-Date", ARC_DATE), hashlib.sha256(page.body).digest())


def test_arc_records_get_stable_ids_from_their_header_and_payload(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / DUMP
    pages = [*english_pages(2), Page("https://docs.example.org/gone", b"<html>gone</html>", status="404 Not Found")]
    offsets = write_arc(folder / "IA-0001.arc.gz", pages)
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")
    assert sorted(d["warc_offset"] for d in docs) == offsets[1:3]
    assert {d["warc_record_id"] for d in docs} == {_arc_id(p) for p in pages[:2]}
    assert {d["id"] for d in docs} == {document_id(DUMP, _arc_id(p), "", 0) for p in pages[:2]}
    assert all(d["warc_date"].year == 2001 for d in docs)
    assert _reasons(rejections) == {"http/http_status": 1}
    (files,) = lake.read("crawl_files").to_pylist()
    assert (files["format"], files["response_records"], files["warcinfo_records"]) == ("arc.gz", 3, 1)
    # The digests crawl_files lists (for the rule across files) are those of the same ids.
    digests = {files["record_id_digests"][i : i + 16] for i in range(0, len(files["record_id_digests"]), 16)}
    assert {record_digest(_arc_id(p)) for p in pages} <= digests
    _assert_checks_pass(lake)


def test_an_arc_file_beside_its_gzip_copy_gives_each_document_once(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / DUMP
    pages = english_pages(3)
    # The same URL captured again: a later date, or other bytes, is another record, not a copy.
    later = Page(pages[0].url, pages[0].body, headers={"Archive-Date": "20020101000000"})
    changed = Page(pages[1].url, html_page("Page 1, edited", [_TEXT] * 3))
    write_arc(folder / "IA-0001.arc", pages, gzip=False)
    write_arc(folder / "IA-0001.arc.gz", pages)  # the same records, compressed: a copy
    write_arc(folder / "IA-0002.arc.gz", [later, changed, pages[2]])
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")

    kept = sorted((d["source_file"], d["warc_record_id"]) for d in docs)
    assert kept == sorted(
        [*(("IA-0001.arc", _arc_id(p)) for p in pages), *(("IA-0002.arc.gz", _arc_id(p)) for p in (later, changed))]
    )
    assert _reasons(rejections) == {"warc/duplicate_record": 4}
    assert Counter(r["source_file"] for r in rejections) == {"IA-0001.arc.gz": 3, "IA-0002.arc.gz": 1}
    _assert_checks_pass(lake)
    # A re-run over the same files gives the same ids.
    _, again, _ = _ingest(tmp_path / "landing", tmp_path / "lake-again")
    assert sorted(d["id"] for d in again) == sorted(d["id"] for d in docs)


def test_a_documents_commit_of_stage_version_1_is_held_to_responses_only(tmp_path: Path) -> None:
    """Before version 2 the stage skipped revisits: its commits are audited by the rule they were made under."""
    (page,) = english_pages(1)
    revisit = Page(page.url, b"", None, record_type="revisit", headers={"WARC-Refers-To": page.record_id or ""})
    write_warc(tmp_path / "landing" / DUMP / "a.warc.gz", [page, revisit])
    lake, _, _ = _ingest(tmp_path / "landing", tmp_path / "lake")
    files_version = lake.version("crawl_files")
    assert files_version is not None
    current = lake.version("documents")
    assert current is not None
    assert content_records(lake, files_version, DUMP, current) == 2
    docs = lake.read("documents", current).select(DOCUMENTS.names)
    old = Lineage("documents", DUMP, "old", "corpuslake-0.1.0/stage-1", {}, lake.lineage("documents").upstream)
    lake.write_partition("documents", docs, old, {"dump": DUMP})
    assert content_records(lake, files_version, DUMP, current + 1) == 1


def test_lakes_sharing_a_cache_folder_keep_their_own_answers(tmp_path: Path) -> None:
    """The rule's pass is cached per crawl_files commit, not per version number (both lakes are at v0)."""
    a, b, c = english_pages(3)
    answers = []
    for name, second in (("one", [c]), ("two", [a])):  # lake two repeats a record id, lake one does not
        landing = tmp_path / name / "landing"
        write_warc(landing / DUMP / "x.warc.gz", [a, b])
        write_warc(landing / DUMP / "y.warc.gz", second)
        lake = Lake(str(tmp_path / name / "lake"), cache=str(tmp_path / "shared-cache"))
        ingest_crawl_files(lake, landing, DUMP, "run", workers=1)
        extract_documents(lake, DUMP, "run", DocumentsConfig(), workers=1)
        answers.append(lake.read("documents").num_rows)
    assert answers == [3, 2]
