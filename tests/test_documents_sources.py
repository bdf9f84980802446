"""Document files (JSONL, gzip JSONL, Parquet) as a source of their own: crawl_files counts their records,
the documents stage keeps each text as given or rejects the record by name, and the documents checks agree.
Touches: document and WARC files made under tmp_path, a lake under tmp_path (local process, one worker);
the last test runs the Dagster graph in process on a test instance.
"""

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpuslake.jsonl_source import NotADocumentFileError, SourceRecord, check_format, iter_records, record_format
from corpuslake.pipeline import ingest_crawl_files
from corpuslake.settings import Settings
from corpuslake.stages.source_documents import source_document_id
from corpuslake.store import Lake
from corpuslake.warc import WarcDamage
from orchestration.definitions import INGEST_JOB, build_definitions
from orchestration.partitions import DUMP_PARTITIONS_NAME
from quality_checks.documents import content_records, documents_balance, ids_unique
from tests.conftest import with_model
from tests.warcs import english_pages, ingest_dump, write_warc

DUMP = "BOOKS-TEST"
_TEXT = (
    "The river flows quietly through the old town, where the bakers open their shops before dawn and the "
    "market fills with farmers selling vegetables, cheese and fresh bread to the early visitors."
)


def _text(n: int) -> str:
    return f"  Chapter {n}.\n\n{_TEXT}\n<b>kept as given</b> {n}\n"


def _jsonl_lines() -> list[str]:
    return [
        json.dumps({"id": "a-1", "text": _text(1), "url": "https://books.example/a-1", "title": "One"}),
        "",  # a blank line: no record
        '{"id": "a-2", "text": "cut short',  # invalid JSON
        json.dumps({"id": "a-3", "title": "no text"}),
        json.dumps({"text": _text(4)}),  # no id
        json.dumps({"id": "a-1", "text": _text(5)}),  # the id of line 1 again
        json.dumps({"id": "a-6", "text": "  \n "}),  # empty text
        json.dumps({"id": 7, "text": _text(7)}),  # an id that is not a string
        "[1, 2]",  # JSON, but not an object
        json.dumps({"id": "a-10", "text": _text(10)}),
    ]


def _make_landing(root: Path) -> Path:
    folder = root / DUMP
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text("\n".join(_jsonl_lines()) + "\n")
    gz_lines = [json.dumps({"id": i, "text": _text(20 + n)}) for n, i in enumerate(["b-1", "b-2", "a-10"])]
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(("\n".join(gz_lines) + "\n").encode()))
    table = pa.table(
        {
            "id": ["c-1", "c-2", "c-3", "c-4", "c-5"],
            "text": [_text(30), _text(31), None, _text(33), _text(34)],
            "url": ["https://papers.example/c-1", None, None, "", "https://papers.example/c-5"],
            "year": [2001, 2002, 2003, 2004, 2005],
        }
    )
    pq.write_table(table, folder / "c.parquet", row_group_size=2)  # three row groups
    (folder / "d.parquet").write_text("not parquet at all")
    write_warc(folder / "web.warc.gz", english_pages(2))  # web pages beside the curated records
    return root


def _ingest(landing: Path, lake_dir: Path) -> tuple[Lake, list[dict[str, Any]], list[dict[str, Any]]]:
    return ingest_dump(landing, lake_dir, DUMP)


def test_crawl_files_counts_the_records_of_document_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    ingest_crawl_files(lake, _make_landing(tmp_path / "landing"), DUMP, "run", workers=1)
    files = {r["source_file"]: r for r in lake.read("crawl_files").to_pylist()}
    formats = {name: row["format"] for name, row in files.items()}
    assert formats == {
        "a.jsonl": "jsonl",
        "b.jsonl.gz": "jsonl.gz",
        "c.parquet": "parquet",
        "d.parquet": "rejected",
        "web.warc.gz": "warc.gz",
    }
    counts = {name: (row["records"], row["document_records"]) for name, row in files.items()}
    assert counts == {"a.jsonl": (9, 9), "b.jsonl.gz": (3, 3), "c.parquet": (5, 5), "d.parquet": (0, 0)} | {
        "web.warc.gz": (files["web.warc.gz"]["records"], 0)
    }
    assert "d.parquet" in (files["d.parquet"]["error"] or "")
    assert files["a.jsonl"]["response_records"] == 0
    # digests of the valid ids of the file, in order: a-1, a-3, a-1, a-6, a-10
    assert len(files["a.jsonl"]["record_id_digests"]) == 5 * 16


def test_document_files_give_documents_as_given_and_named_rejections(tmp_path: Path) -> None:
    lake, docs, rejections = _ingest(_make_landing(tmp_path / "landing"), tmp_path / "lake")
    curated = {d["warc_record_id"]: d for d in docs if not d["source_file"].endswith(".warc.gz")}
    assert sorted(curated) == ["a-1", "a-10", "b-1", "b-2", "c-1", "c-2", "c-4", "c-5"]
    first = curated["a-1"]
    assert (first["source_file"], first["warc_offset"], first["url"]) == ("a.jsonl", 1, "https://books.example/a-1")
    assert first["text"] == _text(1)  # no extraction, no stripping
    assert first["language"] == "en" and first["text_chars"] == len(_text(1))
    assert first["id"] == source_document_id(DUMP, "a.jsonl", "a-1")
    assert (curated["a-10"]["warc_offset"], curated["b-2"]["warc_offset"]) == (10, 2)  # line numbers
    assert [curated[i]["warc_offset"] for i in ("c-1", "c-2", "c-4", "c-5")] == [0, 1, 3, 4]  # row indexes
    assert [curated[i]["url"] for i in ("c-1", "c-2", "c-4")] == ["https://papers.example/c-1", "", ""]
    landed = datetime.fromtimestamp(int((tmp_path / "landing" / DUMP / "c.parquet").stat().st_mtime), UTC)
    assert curated["c-1"]["warc_date"] == landed  # the time the file landed: records have no capture date
    assert sum(d["source_file"] == "web.warc.gz" for d in docs) == 2  # mixed with web pages in one dump

    reasons = Counter((r["source_file"], r["filter"], r["reason"]) for r in rejections)
    assert reasons == {
        ("a.jsonl", "jsonl", "invalid_json"): 2,
        ("a.jsonl", "jsonl", "missing_text"): 1,
        ("a.jsonl", "jsonl", "missing_id"): 2,
        ("a.jsonl", "warc", "duplicate_record"): 1,
        ("a.jsonl", "jsonl", "empty_text"): 1,
        ("b.jsonl.gz", "warc", "duplicate_record"): 1,  # a-10 came first in a.jsonl (path order)
        ("c.parquet", "jsonl", "missing_text"): 1,
    }
    duplicates = sorted((r["source_file"], r["warc_offset"]) for r in rejections if r["reason"] == "duplicate_record")
    assert duplicates == [("a.jsonl", 6), ("b.jsonl.gz", 3)]
    assert {r["id"] for r in rejections}.isdisjoint(d["id"] for d in docs)
    assert len({r["id"] for r in rejections}) == len(rejections)

    balanced, counts = documents_balance(lake, DUMP)
    assert balanced, counts
    assert counts["unaccounted"] == 0 and counts["content_records"] == len(docs) + len(rejections)
    unique, repeated = ids_unique(lake, DUMP)
    assert unique, repeated


def test_document_ids_are_stable_across_runs(tmp_path: Path) -> None:
    landing = _make_landing(tmp_path / "landing")
    _, first, _ = _ingest(landing, tmp_path / "lake-1")
    _, second, _ = _ingest(landing, tmp_path / "lake-2")
    assert sorted(d["id"] for d in first) == sorted(d["id"] for d in second)
    # the file is part of the key: two files numbering their records alike give two ids
    assert source_document_id(DUMP, "a.jsonl", "1") != source_document_id(DUMP, "b.jsonl", "1")


def test_the_balance_fails_when_the_document_records_are_not_all_accounted_for(tmp_path: Path) -> None:
    lake, docs, rejections = _ingest(_make_landing(tmp_path / "landing"), tmp_path / "lake")
    files_version, docs_version = lake.version("crawl_files"), lake.version("documents")
    assert files_version is not None and docs_version is not None
    expected = content_records(lake, files_version, DUMP, docs_version)
    assert expected == len(docs) + len(rejections)  # the document records count: without them it falls short
    assert expected > sum(r["response_records"] for r in lake.read("crawl_files").to_pylist())


def test_a_gzip_file_cut_short_keeps_its_whole_lines_and_names_the_damage(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"id": f"x-{i}", "text": _text(i) * 20}) + "\n" for i in range(50))
    data = gzip.compress(lines.encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(iter_records(path, "jsonl.gz"))
    records = [i for i in items if isinstance(i, SourceRecord)]
    assert 0 < len(records) < 50 and all(r.record_id == f"x-{r.offset - 1}" for r in records)
    assert isinstance(items[-1], WarcDamage) and items[-1].reason == "truncated_tail"
    assert items[-1].offset == len(records) + 1
    # through the stages: the damage is a rejection outside the balance, which still holds
    folder = tmp_path / "landing" / DUMP
    folder.mkdir(parents=True)
    path.rename(folder / "cut.jsonl.gz")
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")
    assert len(docs) == len(records) and [r["reason"] for r in rejections] == ["truncated_tail"]
    assert documents_balance(lake, DUMP)[0]


def test_a_parquet_file_damaged_inside_keeps_the_rows_before_and_the_balance(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / DUMP
    folder.mkdir(parents=True)
    path = folder / "damaged.parquet"
    texts = [f"{_TEXT} Part {i}." for i in range(1000)]
    pq.write_table(pa.table({"id": [f"p-{i}" for i in range(1000)], "text": texts}), path, row_group_size=300)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(b ^ 0x5A for b in data[middle : middle + 200])  # a damaged page
    path.write_bytes(bytes(data))
    lake, docs, rejections = _ingest(tmp_path / "landing", tmp_path / "lake")
    (files,) = lake.read("crawl_files").to_pylist()
    assert files["format"] == "parquet" and files["damaged_regions"] == 1
    assert 0 < len(docs) == files["document_records"] < 1000
    assert [r["reason"] for r in rejections] == ["corrupt_member"]
    assert rejections[0]["warc_offset"] == len(docs)  # the row where reading stopped
    assert documents_balance(lake, DUMP)[0]


def test_formats_follow_the_name_and_the_bytes_must_agree(tmp_path: Path) -> None:
    assert [record_format(n) for n in ("a.jsonl", "b.JSONL.GZ", "c.parquet", "d.json", "e.warc.gz")] == [
        "jsonl",
        "jsonl.gz",
        "parquet",
        None,
        None,
    ]
    plain = tmp_path / "x.jsonl.gz"
    plain.write_text('{"id": "1", "text": "t"}\n')
    with pytest.raises(NotADocumentFileError, match="gzip"):
        check_format(plain, "jsonl.gz")
    packed = tmp_path / "z.jsonl"
    packed.write_bytes(gzip.compress(b'{"id": "1", "text": "t"}\n'))
    with pytest.raises(NotADocumentFileError, match=r"jsonl\.gz"):
        check_format(packed, "jsonl")
    empty = tmp_path / "y.parquet"
    empty.write_bytes(b"")
    assert check_format(empty, "parquet") == "empty"


def test_parquet_columns_of_another_type_read_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"id": [1, 2], "text": ["one", "two"]}), path)
    records = list(iter_records(path, "parquet"))
    assert [(r.record_id, r.text) for r in records if isinstance(r, SourceRecord)] == [(None, "one"), (None, "two")]


@pytest.mark.slow
def test_a_dump_of_document_files_runs_through_the_graph(
    instance: dg.DagsterInstance, tmp_path: Path, blocklist_cache: Path, trained_lake: Path
) -> None:
    landing = _make_landing(tmp_path / "landing")
    lake_dir = with_model(trained_lake, tmp_path / "lake")  # the session's trained model (scored needs one)
    settings = Settings(lake=str(lake_dir), landing=str(landing), dagster_home="unused", cache=str(blocklist_cache))
    instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, [DUMP])
    definitions = build_definitions(settings, workers=1)
    result = definitions.resolve_job_def(INGEST_JOB).execute_in_process(
        partition_key=DUMP, instance=instance, raise_on_error=False
    )
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {"documents_account_for_every_record", "documents_expectations"}
    failed = [(e.check_name, e.metadata) for e in evaluations if not e.passed]
    assert result.success and not failed, failed
    lake = Lake(str(lake_dir))
    docs = lake.read("documents", columns=["id", "source_file"]).to_pylist()
    curated = {d["id"] for d in docs if not d["source_file"].endswith(".warc.gz")}
    assert len(curated) == 8
    # the curated documents go through the same filters: each is kept or rejected by name
    kept = set(lake.read("filtered", columns=["id"])["id"].to_pylist())
    dropped = {r["id"] for r in lake.read("rejections", filters={"stage": "filtered"}).to_pylist()}
    assert curated <= kept | dropped
