"""Data-quality gates: the Great Expectations suites, drift, and write-audit-publish through the verdicts.

Touches: quality_checks.expectations (GX 1.x on a bounded sample, the invariants exact on every row) on
every stage table of a fixture dump built by the real graph, crafted bad partitions written over copies
of it (each verdict compared with GX run on the whole partition, as the suites ran before), defects placed
outside the sample, the balance and unique-id checks, corpuslake.drift, corpuslake.verdicts and the
publication gate, and the ``snapshots`` CLI listing of blocked publications.
"""

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from corpuslake.scan import ScanConfig, scan_partition
from corpuslake.schemas import REJECTIONS
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake, LakeWriteError
from corpuslake.tokens import Tokenizer
from corpuslake.verdicts import Verdict, blocked_attempts, gate_failures, partition_versions, record_verdict
from quality_checks.deduplicated import dedup_balance
from quality_checks.documents import ids_unique
from quality_checks.expectations import SUITES, audit_partition, run_suite
from quality_checks.validation import SuiteOutcome, validate
from tests.conftest import Ingested
from tests.test_snapshots import texts, write_scored

__all__ = ["texts"]  # the shared fixture
DUMP = "FIXTURE-A"


@pytest.fixture(scope="module")
def built(fixture_a: Ingested) -> Path:
    """The fixture dump through every stage, with every check (the session's run: read it, or copy it)."""
    assert fixture_a.result.success
    evaluations = {e.check_name: e.passed for e in fixture_a.result.get_asset_check_evaluations()}
    assert {f"{t}_expectations" for t in SUITES} <= set(evaluations)
    assert all(evaluations[f"{t}_expectations"] for t in SUITES)  # the real data passes in the graph
    return fixture_a.lake


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


def _whole_partition(lake: Lake, table: str) -> SuiteOutcome:
    """The suite as it ran before it was bounded: GX on a frame of the whole partition."""
    audit = audit_partition(lake, table, DUMP)
    return validate(f"{table}_suite", lake.read(table, audit.version, dumps=[DUMP]), SUITES[table](lake, audit))


def _verdicts(outcome: SuiteOutcome) -> set[tuple[str, str | None, int | None]]:
    return {(f.expectation, f.column, f.unexpected) for f in outcome.failures}


@pytest.mark.slow
def test_every_suite_passes_on_the_real_partition(built: Path) -> None:
    lake = Lake(str(built))
    for table in SUITES:
        audit, outcome = run_suite(lake, table, DUMP)
        assert outcome.passed, (table, outcome.failures)
        assert _whole_partition(lake, table).passed
        rows = lake.read(table, audit.version, dumps=[DUMP]).num_rows
        assert outcome.rows == outcome.sampled == rows > 0 and outcome.evaluated >= 12
        assert outcome.exact == outcome.evaluated - 1  # all but the column set, which GX checks on the sample
        assert audit.version == partition_versions(lake, table, lake.version(table) or 0)[DUMP]


@pytest.mark.slow
def test_the_sample_has_the_configured_size_and_the_smallest_ids(built: Path) -> None:
    lake = Lake(str(built))
    audit, outcome = run_suite(lake, "documents", DUMP, ScanConfig(sample_rows=7, batch_rows=4))
    assert outcome.passed and outcome.sampled == 7 < outcome.rows
    ids = sorted(lake.read("documents", audit.version, dumps=[DUMP], columns=["id"])["id"].to_pylist())
    for batch_rows in (1, 3, 1000):  # the same sample whatever the batches
        config = ScanConfig(sample_rows=7, batch_rows=batch_rows)
        sample = scan_partition(lake.dataset("documents", audit.version), DUMP, {}, config=config).sample
        assert sorted(sample["id"].to_pylist()) == ids[:7] and sample.schema == lake.dataset("documents").schema


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
    if column is not None:
        assert first_id in failed[(expectation, column)].sample_ids  # the failing row is named
    assert _verdicts(outcome) == _verdicts(_whole_partition(lake, table))  # the same verdict as before


# A defect in the row with the largest id: outside a sample of the smallest ids (3, or all rows but one).
BEYOND_THE_SAMPLE: list[tuple[str, str, Any, str]] = [
    ("documents", "language_score", 1.5, "expect_column_values_to_be_between"),
    ("documents", "url", None, "expect_column_values_to_not_be_null"),
    ("documents", "text", "", "expect_column_value_lengths_to_be_between"),
    ("filtered", "language", "fr", "expect_column_values_to_be_in_set"),
    ("deduplicated", "dup_kind", "fuzzy", "expect_column_values_to_be_in_set"),
    ("content_signals", "pii_emails", -1, "expect_column_values_to_be_between"),
    ("documents", "id", "repeat", "expect_column_values_to_be_unique"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("table", "column", "value", "expectation"), BEYOND_THE_SAMPLE)
def test_a_defect_outside_the_sample_fails_the_exact_pass(
    built: Path, tmp_path: Path, table: str, column: str, value: Any, expectation: str
) -> None:
    shutil.copytree(built, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    ids = lake.read(table, dumps=[DUMP], columns=["id"])["id"].to_pylist()
    last, small = max(ids), ScanConfig(sample_rows=min(3, len(ids) - 1))

    def change(rows: pa.Table) -> pa.Table:
        at = rows["id"].to_pylist().index(last)
        if value == "repeat":  # a second row with the largest id
            return pa.concat_tables([rows, rows.slice(at, 1)])
        values = rows[column].to_pylist()
        return _set(rows, column, [*values[:at], value, *values[at + 1 :]])

    _rewrite(lake, table, change)
    audit, outcome = run_suite(lake, table, DUMP, small)
    sample = scan_partition(lake.dataset(table, audit.version), DUMP, {}, config=small).sample
    assert last not in sample["id"].to_pylist()
    assert validate(f"{table}_suite", sample, SUITES[table](lake, audit)[1:2]).passed  # unseen by GX's sample
    failed = {(f.expectation, f.column): f for f in outcome.failures}
    assert not outcome.passed and outcome.sampled == small.sample_rows
    assert last in failed[(expectation, column)].sample_ids
    assert _verdicts(outcome) == _verdicts(_whole_partition(lake, table))


@pytest.mark.slow
def test_unique_ids_and_the_dedup_balance_are_exact(built: Path, tmp_path: Path) -> None:
    shutil.copytree(built, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    passed, counts = ids_unique(lake, DUMP)
    assert passed and counts["repeated_ids"] == 0 and counts["documents"] > 0
    passed, counts = dedup_balance(lake, DUMP)
    assert passed and counts["unaccounted"] == 0 and counts["kept"] > 0

    first = lake.read("documents", dumps=[DUMP], columns=["id"])["id"][0].as_py()  # the row _rewrite repeats
    _rewrite(lake, "documents", _duplicate_first)
    assert ids_unique(lake, DUMP)[1] | {"documents": 0} == {
        "documents": 0,
        "repeated_ids": 1,
        "sample_repeated_ids": first,
    }

    # a dedup commit that keeps a document it also removes, with a removal naming no kept document
    kept = lake.read("deduplicated", dumps=[DUMP])
    removed = lake.read("rejections", dumps=[DUMP], filters={"stage": "deduplicated"}).select(REJECTIONS.names)
    odd = dict.fromkeys(REJECTIONS.names) | {
        **{"id": kept["id"][0].as_py(), "dump": DUMP, "stage": "deduplicated", "filter": "exact", "reason": "dup"},
        "signals": json.dumps({"duplicate_of": "nowhere"}),
    }
    lineage = Lineage("deduplicated", DUMP, "crafted", "t", {}, lake.lineage("deduplicated").upstream)
    rows = pa.concat_tables([removed, pa.Table.from_pylist([odd], schema=REJECTIONS)])
    lake.write_partition("rejections", rows, lineage, {"dump": DUMP, "stage": "deduplicated"})
    lake.write_partition("deduplicated", kept, lineage, {"dump": DUMP})
    passed, counts = dedup_balance(lake, DUMP)
    assert not passed and counts["kept_and_removed"] == 1 and counts["unaccounted"] == 0
    assert counts["removals_pointing_at_no_kept_document"] == 1 and counts["sample_dangling"] == "nowhere"


@pytest.mark.slow
def test_a_changed_schema_fails_the_suite(built: Path, tmp_path: Path) -> None:
    shutil.copytree(built, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(LakeWriteError, match="number of fields does not match"):  # our writer refuses it
        _rewrite(lake, "content_signals", lambda rows: rows.append_column("extra", pa.array([1] * rows.num_rows)))
    audit = audit_partition(lake, "content_signals", DUMP)  # another tool's table could still carry one
    sample = scan_partition(lake.dataset("content_signals", audit.version), DUMP, {}).sample
    changed = sample.append_column("extra", pa.array([1] * sample.num_rows))
    outcome = validate("content_signals_suite", changed, SUITES["content_signals"](lake, audit))
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

    # a new dump arrives and its suite fails: it is quarantined, the snapshot reads D1 alone (the same
    # content: no new number), and a definition naming D2 is refused
    bad = write_scored(lake, "D2", texts[60:120])
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_expectations", False, "3 failed", {}, "run-3"))
    record_verdict(lake, Verdict("scored", bad, "D2", "scored_drift", True, "ok", {}, "run-3", "warn"))
    unchanged = publish_snapshot(lake, definition, "run-4", tokenizer, required_checks=required)
    assert not unchanged.new and unchanged.entry == first
    named = SnapshotDefinition(name="web", languages=("en",), dumps=("D1", "D2"))
    with pytest.raises(PublicationBlockedError, match=f"scored@v{bad} dump D2: check scored_expectations failed"):
        publish_snapshot(lake, named, "run-4", tokenizer, required_checks=required)
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


def test_a_suite_leaves_no_data_source_holding_its_frame() -> None:
    import great_expectations.expectations as gxe

    from quality_checks import validation

    table = pa.table({"id": ["a", "b", "c"], "text": ["one", "", "three"]})
    failed = validate("held_suite", table, [gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1)])
    again = validate("held_suite", table, [gxe.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1)])
    assert [(f.expectation, f.unexpected, f.sample_ids) for f in failed.failures] == [
        ("expect_column_value_lengths_to_be_between", 1, ["b"])
    ]
    assert again == failed  # the same suite runs again once its source is gone
    assert "corpuslake_held_suite" not in validation._context().data_sources.all()  # else its frame stays resident
