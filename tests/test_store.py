"""Unit tests of corpuslake.store and corpuslake.lineage: partition writes, versions, lineage. tmp_path only."""

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corpuslake.lineage import Lineage, TableVersion, fingerprint
from corpuslake.names import InvalidNameError
from corpuslake.pipeline import extract_documents, ingest_crawl_files
from corpuslake.schemas import CRAWL_FILES, DOCUMENTS, REJECTIONS
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake
from quality_checks.documents import documents_balance
from tests.conftest import LANDING


def _rows(dump: str, n: int, size: int = 1) -> pa.Table:
    rows = [
        {
            "dump": dump,
            "source_file": f"f{i}.warc.gz",
            "path": f"/x/f{i}",
            "size": size,
            "sha256": "0" * 64,
            "format": "warc.gz",
            "records": 1,
            "response_records": 1,
            "request_records": 0,
            "metadata_records": 0,
            "warcinfo_records": 0,
            "revisit_records": 0,
            "other_records": 0,
            "damaged_regions": 0,
            "error": None,
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=CRAWL_FILES)


def _lineage(dump: str, upstream: tuple[TableVersion, ...] = ()) -> Lineage:
    return Lineage("crawl_files", dump, "run-1", "test", {"k": 1}, upstream)


def test_partition_overwrite_is_idempotent_and_isolated(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    v0 = lake.write_partition("crawl_files", _rows("A", 3), _lineage("A"), {"dump": "A"})
    v1 = lake.write_partition("crawl_files", _rows("B", 2), _lineage("B"), {"dump": "B"})
    v2 = lake.write_partition("crawl_files", _rows("A", 3, size=7), _lineage("A"), {"dump": "A"})
    assert (v0, v1, v2) == (0, 1, 2)
    latest = lake.read("crawl_files")
    assert latest.num_rows == 5  # A replaced, not appended; B untouched
    assert set(lake.read("crawl_files", dumps=["A"])["size"].to_pylist()) == {7}
    # every version stays readable exactly as written
    assert set(lake.read("crawl_files", version=0)["size"].to_pylist()) == {1}
    assert lake.read("crawl_files", version=0).num_rows == 3


def test_lineage_rides_in_the_commit(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lineage = _lineage("A", (TableVersion("upstream_table", 4),))
    version = lake.write_partition("crawl_files", _rows("A", 1), lineage, {"dump": "A"})
    back = lake.lineage("crawl_files", version)
    assert back == lineage
    assert back.config_fingerprint == fingerprint({"k": 1})


def test_each_version_has_its_own_lineage_and_written_partitions_are_known(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lineages = [_lineage(dump, (TableVersion("upstream_table", i),)) for i, dump in enumerate("ABCA")]
    for lineage in lineages:
        lake.write_partition("crawl_files", _rows(str(lineage.partition), 1), lineage, {"dump": str(lineage.partition)})
    # older versions too: deltalake's history() of a table loaded at an older version misnumbers commits
    assert [lake.lineage("crawl_files", v) for v in range(4)] == lineages
    assert lake.lineage("crawl_files") == lineages[-1]
    with pytest.raises(LookupError, match="no version 9"):
        lake.lineage("crawl_files", 9)
    with pytest.raises(LookupError, match="does not exist"):
        lake.lineage("missing_table")
    # an emptied partition was still written; one never written was not
    lake.write_partition("crawl_files", _rows("B", 0), _lineage("B"), {"dump": "B"})
    assert lake.read("crawl_files", dumps=["B"]).num_rows == 0
    assert lake.has_written("crawl_files", "A") and lake.has_written("crawl_files", "B")
    assert not lake.has_written("crawl_files", "Z") and not lake.has_written("missing_table", "A")


def test_fingerprint_ignores_key_order() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_failed_write_leaves_the_previous_version(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.write_partition("crawl_files", _rows("A", 2), _lineage("A"), {"dump": "A"})
    wrong = pa.table({"dump": ["A"], "unexpected": [1]})
    with pytest.raises(Exception, match=r"(?i)schema"):
        lake.write_partition("crawl_files", wrong, _lineage("A"), {"dump": "A"})
    assert lake.version("crawl_files") == 0
    assert lake.read("crawl_files").num_rows == 2


@pytest.mark.parametrize("dump", ["../escape", "/abs", "a\x00b", "", "a' OR '1'='1"])
def test_unsafe_partition_names_are_refused(tmp_path: Path, dump: str) -> None:
    with pytest.raises(InvalidNameError):
        Lake(str(tmp_path)).write_partition("crawl_files", _rows("A", 1), _lineage("A"), {"dump": dump})


def test_unsafe_table_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError):
        Lake(str(tmp_path)).table_uri("../outside")


def test_staging_folder_is_removed_even_on_error(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    with pytest.raises(RuntimeError), lake.staging() as folder:
        (folder / "part.parquet").write_bytes(b"x")
        raise RuntimeError("stage failed")
    assert not folder.exists()


def test_an_object_store_lake_stages_in_the_shared_folder_when_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake("s3://bucket/prefix")  # staging touches no object store
    monkeypatch.setenv("CORPUSLAKE_STAGING", str(tmp_path / "shared"))
    with lake.staging() as folder:
        assert folder.parent == tmp_path / "shared"
    assert not folder.exists()
    monkeypatch.delenv("CORPUSLAKE_STAGING")
    with lake.staging() as folder:
        assert not folder.is_relative_to(tmp_path)
    local = Lake(str(tmp_path / "lake"))  # a local lake stages beside its tables, whatever the variable
    monkeypatch.setenv("CORPUSLAKE_STAGING", str(tmp_path / "shared"))
    with local.staging() as folder:
        assert folder.parent == tmp_path / "lake" / "_staging"


def test_a_partition_written_after_a_column_was_added_merges_the_schema(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    new = _rows("A", 2)
    added = [c for c in ("record_id_digests", "resource_records", "conversion_records") if c in new.column_names]
    assert added  # the columns crawl_files gained
    older = new.drop_columns(added)
    lake.write_partition("crawl_files", older, _lineage("A"), {"dump": "A"})
    version = lake.write_partition("crawl_files", _rows("B", 3), _lineage("B"), {"dump": "B"})
    both = lake.read("crawl_files", version)
    assert set(added) <= set(both.column_names) and both.num_rows == 5
    old_rows = both.filter(pc.equal(both["dump"], "A"))
    assert all(old_rows[c].null_count == 2 for c in added)  # older rows read the new columns as null
    undeclared = _rows("C", 1).append_column("unexpected", pa.array([1]))
    with pytest.raises(Exception, match=r"(?i)schema|fields"):  # a column no version declares is refused
        lake.write_partition("crawl_files", undeclared, _lineage("C"), {"dump": "C"})


def test_documents_balance_fails_when_a_commit_loses_records(tmp_path: Path) -> None:
    """The documents check reads the rejections written with the documents (same commit id)."""
    lake = Lake(str(tmp_path / "lake"))
    ingest_crawl_files(lake, LANDING, "FIXTURE-B", "run", workers=1)
    report = extract_documents(lake, "FIXTURE-B", "run", DocumentsConfig(), workers=1)
    passed, counts = documents_balance(lake, "FIXTURE-B")
    assert passed and counts["unaccounted"] == 0
    # a later commit of documents that drops a row, with its own (unchanged) rejections commit
    docs = lake.read("documents", report.version)
    rejections = lake.read("rejections", filters={"stage": "documents"}).select(REJECTIONS.names)
    lineage = Lineage("documents", "FIXTURE-B", "bad", "t", {}, lake.lineage("documents").upstream)
    lake.write_partition("rejections", rejections, lineage, {"dump": "FIXTURE-B", "stage": "documents"})
    lake.write_partition("documents", docs.slice(1).select(DOCUMENTS.names), lineage, {"dump": "FIXTURE-B"})
    passed, counts = documents_balance(lake, "FIXTURE-B")
    assert not passed and counts["unaccounted"] == 1
