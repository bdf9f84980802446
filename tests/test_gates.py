"""Data-quality gates: the Great Expectations suites, drift, and write-audit-publish through the verdicts.

Touches: quality_checks.expectations (GX 1.x) on every stage table of a fixture dump built by the real
graph, crafted bad partitions written over copies of it, corpuslake.drift, corpuslake.verdicts and the
publication gate, and the ``snapshots`` CLI listing of blocked publications.
"""

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.cli import main
from corpuslake.datasets import publish_snapshot
from corpuslake.drift import DriftConfig, drift
from corpuslake.lineage import Lineage
from corpuslake.maintenance import collect_garbage
from corpuslake.publish import PublicationBlockedError
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake, LakeWriteError
from corpuslake.tokens import Tokenizer
from corpuslake.verdicts import Verdict, blocked_attempts, gate_failures, partition_versions, record_verdict
from quality_checks.expectations import SUITES, audit_partition, run_suite, validate
from tests.test_materialize import _run
from tests.test_snapshots import texts, write_scored

__all__ = ["texts"]  # the shared fixture
DUMP = "FIXTURE-A"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, plan: dict[str, Any], blocklist_cache: Path) -> Iterator[Path]:
    """The fixture dump through every stage, with every check, once for the module."""
    root = tmp_path_factory.mktemp("gates")
    (root / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "home")) as instance:
        result = _run(instance, root / "lake", DUMP, plan, blocklist_cache)
        assert result.success
        evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert {f"{t}_expectations" for t in SUITES} <= set(evaluations)
    assert all(evaluations[f"{t}_expectations"] for t in SUITES)  # the real data passes in the graph
    yield root / "lake"


def _rewrite(lake: Lake, table: str, change: Callable[[pa.Table], pa.Table]) -> None:
    """Replace the dump partition of ``table`` with a changed copy, with the same upstream lineage."""
    rows = lake.read(table, dumps=[DUMP])
    original = lake.lineage(table)
    lineage = Lineage(table, DUMP, "crafted", original.code_version, original.config, original.upstream)
    lake.write_partition(table, change(rows), lineage, {"dump": DUMP})


def _set(rows: pa.Table, column: str, values: list[Any]) -> pa.Table:
    index = rows.schema.get_field_index(column)
    return rows.set_column(index, rows.schema.field(index), pa.array(values, rows.schema.field(index).type))


def _first_set(column: str, value: Any) -> Callable[[pa.Table], pa.Table]:
    return lambda rows: _set(rows, column, [value, *rows[column].to_pylist()[1:]])


def _duplicate_first(rows: pa.Table) -> pa.Table:
    return pa.concat_tables([rows, rows.slice(0, 1)])


CRAFTED: list[tuple[str, Callable[[pa.Table], pa.Table], str, str | None]] = [
    ("documents", _duplicate_first, "expect_column_values_to_be_unique", "id"),
    ("documents", _first_set("language_score", 1.5), "expect_column_values_to_be_between", "language_score"),
    ("documents", _first_set("url", None), "expect_column_values_to_not_be_null", "url"),
    ("filtered", _first_set("language", "fr"), "expect_column_values_to_be_in_set", "language"),
    ("filtered", lambda rows: pa.concat_tables([rows] * 25), "expect_table_row_count_to_be_between", None),
    ("deduplicated", _first_set("cluster_size", 0), "expect_column_values_to_be_between", "cluster_size"),
    ("deduplicated", _first_set("dup_kind", "fuzzy"), "expect_column_values_to_be_in_set", "dup_kind"),
    ("scored", _first_set("quality_score", 2.0), "expect_column_values_to_be_between", "quality_score"),
    ("scored", lambda rows: rows.slice(0, 0), "expect_table_row_count_to_be_between", None),
    ("content_signals", _first_set("pii_emails", -1), "expect_column_values_to_be_between", "pii_emails"),
]


@pytest.mark.slow
def test_every_suite_passes_on_the_real_partition(built: Path) -> None:
    lake = Lake(str(built))
    for table in SUITES:
        audit, outcome = run_suite(lake, table, DUMP)
        assert outcome.passed, (table, outcome.failures)
        assert outcome.rows == audit.rows.num_rows > 0 and outcome.evaluated >= 12
        assert audit.version == partition_versions(lake, table, lake.version(table) or 0)[DUMP]


@pytest.mark.slow
@pytest.mark.parametrize(("table", "change", "expectation", "column"), CRAFTED)
def test_every_suite_fails_on_crafted_bad_data(
    built: Path,
    tmp_path: Path,
    table: str,
    change: Callable[[pa.Table], pa.Table],
    expectation: str,
    column: str | None,
) -> None:
    shutil.copytree(built, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    first_id = lake.read(table, dumps=[DUMP], columns=["id"])["id"][0].as_py()
    _rewrite(lake, table, change)
    _, outcome = run_suite(lake, table, DUMP)
    assert not outcome.passed
    failed = {(f.expectation, f.column): f for f in outcome.failures}
    assert (expectation, column) in failed, outcome.failures
    if column not in (None, "url"):
        assert first_id in failed[(expectation, column)].sample_ids  # the failing row is named


@pytest.mark.slow
def test_a_changed_schema_fails_the_suite(built: Path, tmp_path: Path) -> None:
    shutil.copytree(built, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(LakeWriteError, match="number of fields does not match"):  # our writer refuses it
        _rewrite(lake, "content_signals", lambda rows: rows.append_column("extra", pa.array([1] * rows.num_rows)))
    audit = audit_partition(lake, "content_signals", DUMP)  # another tool's table could still carry one
    changed = replace(audit, rows=audit.rows.append_column("extra", pa.array([1] * audit.rows.num_rows)))
    outcome = validate("content_signals_suite", changed.rows, SUITES["content_signals"](lake, changed))
    assert [f.expectation for f in outcome.failures] == ["expect_table_columns_to_match_set"]


def test_drift_flags_a_dump_far_from_earlier_ones(tmp_path: Path, texts: list[str]) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:60])
    write_scored(lake, "D2", texts[60:120])
    config = DriftConfig(abs_tolerance=0.05, rel_tolerance=0.1)
    assert drift(lake, "scored", "D1", config)[0].baseline is None  # nothing earlier: nothing to compare
    (steady,) = drift(lake, "scored", "D2", config)
    assert steady.metric == "mean_quality_score" and not steady.out_of_band
    write_scored(lake, "D3", texts[120:180], edit=None)
    rows = lake.read("scored", dumps=["D3"])
    lake.write_partition(
        "scored",
        _set(rows, "quality_score", [0.99] * rows.num_rows),
        Lineage("scored", "D3", "crafted", "t", {}),
        {"dump": "D3"},
    )
    (moved,) = drift(lake, "scored", "D3", config)
    assert moved.out_of_band and moved.value == pytest.approx(0.99) and moved.baseline is not None
    with pytest.raises(ValueError, match="no drift metrics"):
        drift(lake, "documents", "D3", config)


def test_a_failed_gate_blocks_publication_and_old_pins_keep_reading(
    tmp_path: Path, texts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    tokenizer = Tokenizer()
    required = {"scored": ["scored_expectations"]}
    definition = SnapshotDefinition(name="web", languages=("en",))
    version = write_scored(lake, "D1", texts[:60])

    with pytest.raises(PublicationBlockedError, match="scored_expectations has not run"):
        publish_snapshot(lake, definition, "run-1", tokenizer, required_checks=required)
    assert Catalog(lake).entries() == []

    record_verdict(lake, Verdict("scored", version, "D1", "scored_expectations", True, "ok", {}, "run-1"))
    first = publish_snapshot(lake, definition, "run-2", tokenizer, required_checks=required).entry
    pinned = client.open(first.uri, lake).to_table()

    # a new dump arrives and its suite fails: the gate refuses the snapshot that would read it
    bad = write_scored(lake, "D2", texts[60:120])
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_expectations", False, "3 failed", {}, "run-3"))
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_drift", True, "ok", {}, "run-3", "warn"))
    with pytest.raises(PublicationBlockedError, match=f"scored@v{bad} dump D2: check scored_expectations failed"):
        publish_snapshot(lake, definition, "run-4", tokenizer, required_checks=required)
    assert [e.uri for e in Catalog(lake).entries()] == [first.uri]
    assert client.open(first.uri, lake).to_table().equals(pinned)
    assert gate_failures(lake, "scored", bad, ["D1"], ["scored_expectations"]) == []  # D1 alone still passes

    (attempt,) = [a for a in blocked_attempts(lake, "web") if a["run_id"] == "run-4"]
    assert "scored_expectations failed" in attempt["reasons"][0]
    assert main(["snapshots", "--lake", str(tmp_path / "lake")]) == 0
    listing = capsys.readouterr().out
    assert first.uri in listing and "BLOCKED  web" in listing and "scored_expectations failed" in listing

    # an error-severity failure of a check that is not required blocks too; a warning does not
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_expectations", True, "fixed", {}, "run-5"))
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_drift", False, "moved", {}, "run-5", "warn"))
    assert gate_failures(lake, "scored", bad, ["D1", "D2"], ["scored_expectations"]) == []
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_drift", False, "moved", {}, "run-6"))
    assert gate_failures(lake, "scored", bad, ["D2"], ["scored_expectations"]) == [
        f"scored@v{bad} dump D2: check scored_drift failed"
    ]
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_drift", True, "ok", {}, "run-7"))
    second = publish_snapshot(lake, definition, "run-8", tokenizer, required_checks=required).entry
    assert second.number == 2 and pc.sum(client.open(second.uri, lake).to_table()["tokens"]).as_py() == second.tokens
    assert main(["snapshots", "--lake", str(tmp_path / "lake")]) == 0
    assert "BLOCKED" not in capsys.readouterr().out  # a newer publication supersedes the blocked attempts

    # gc compacts the verdicts (one small file each) into one, and the gate reads the same
    verdicts = lake.read("check_results").sort_by([("evaluated_at", "ascending")])
    assert len(DeltaTable(lake.table_uri("check_results")).file_uris()) == verdicts.num_rows == 7
    collect_garbage(lake, retention_hours=0)
    assert len(DeltaTable(lake.table_uri("check_results")).file_uris()) == 1
    assert lake.read("check_results").sort_by([("evaluated_at", "ascending")]).equals(verdicts)
    assert gate_failures(lake, "scored", bad, ["D1", "D2"], ["scored_expectations"]) == []


def test_the_suites_cover_every_audited_table_and_load_lazily() -> None:
    from quality_checks.suites import SUITE_TABLES

    assert set(SUITE_TABLES) == set(SUITES)
    code = "import sys, orchestration.definitions; print('great_expectations' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # loading the code location does not import GX
