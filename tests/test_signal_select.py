"""Selecting by signal tables: the ``where:`` join of corpuslake.signal_select on DuckDB relations.

Touches: corpuslake.signal_select and corpuslake.spill on a lake under tmp_path holding a small ``scored``
table of two dumps and ``domains`` / ``model_scores`` tables written directly (some documents without a row).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from corpuslake.lineage import Lineage, TableVersion
from corpuslake.signal_select import SignalJoin
from corpuslake.snapshots import DefinitionError, SnapshotDefinition, definition_from_mapping
from corpuslake.spill import connect, dump_relation, union_all
from corpuslake.store import Lake

DUMPS = ("D1", "D2")
SOURCE = pa.schema([("id", pa.string()), ("dump", pa.string()), ("text", pa.string()), ("url", pa.string())])
DOMAINS = pa.schema([("id", pa.string()), ("dump", pa.string()), ("domain", pa.string()), ("tld", pa.string())])
SCORES = pa.schema([("id", pa.string()), ("dump", pa.string()), ("quality_bucket", pa.int32())])


def _write(lake: Lake, table: str, schema: pa.Schema, rows: Sequence[Mapping[str, object]], dump: str) -> int:
    data = pa.Table.from_pylist(rows, schema=schema)
    return lake.write_partition(table, data, Lineage(table, dump, "test", "t", {}), {"dump": dump})


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """Ten documents per dump; ids repeat across dumps (ids are unique per dump only). ``domains`` has no
    row for document 9 of each dump; ``model_scores`` exists for D1 only."""
    lake = Lake(str(tmp_path / "lake"))
    for dump in DUMPS:
        _write(lake, "scored", SOURCE, [{"id": f"d{i}", "dump": dump, "text": f"{dump} {i}"} for i in range(10)], dump)
        # the label depends on the dump: a join that ignored the dump would mix them
        labels = [
            {"id": f"d{i}", "dump": dump, "domain": f"c0{(i + (dump == 'D2')) % 3}", "tld": "org"} for i in range(9)
        ]
        _write(lake, "domains", DOMAINS, labels, dump)
    _write(
        lake, "model_scores", SCORES, [{"id": f"d{i}", "dump": "D1", "quality_bucket": 2 * i} for i in range(10)], "D1"
    )
    return lake


def _select(
    lake: Lake, definition: SnapshotDefinition, staging: Path
) -> tuple[list[tuple[object, ...]], dict[str, object], SignalJoin]:
    signals = SignalJoin(lake, definition)
    con = connect(staging)
    version = lake.version("scored")
    assert version is not None
    schema = lake.dataset("scored", version).schema
    parts = [
        signals.join(con, dump_relation(con, lake, "scored", version, d, i, ["id", "dump", "text"], schema), d)
        for i, d in enumerate(DUMPS)
    ]
    relation, report = signals.select(union_all(parts), ["id", "dump", "text"])
    return sorted(relation.fetchall()), report, signals


def test_in_clause_keeps_the_named_domains_per_dump(lake: Lake, tmp_path: Path) -> None:
    definition = definition_from_mapping(
        {
            "name": "web",
            "where": [{"table": "domains", "column": "domain", "in": ["c00"]}],
            "columns": ["id", "dump", "text", "domains.domain"],
        },
        "web.yaml",
    )
    rows, report, signals = _select(lake, definition, tmp_path / "s")
    # D1: i % 3 == 0 -> 0, 3, 6; D2: (i + 1) % 3 == 0 -> 2, 5, 8; document 9 has no domain row in either
    assert rows == sorted(
        (f"d{i}", d, f"{d} {i}", "c00") for d, i in [("D1", 0), ("D1", 3), ("D1", 6), ("D2", 2), ("D2", 5), ("D2", 8)]
    )
    assert report["without_signal"] == {f"domains@v{lake.version('domains')}": 2}
    assert report["after_where"] == 6
    assert signals.upstream == (TableVersion("domains", 1),)
    assert [f.name for f in signals.fields()] == ["domain"]


def test_bounds_and_several_tables_all_apply(lake: Lake, tmp_path: Path) -> None:
    definition = definition_from_mapping(
        {
            "name": "hq",
            "where": [
                {"table": "model_scores", "column": "quality_bucket", "min": 10, "max": 16},
                {"table": "domains", "column": "domain", "in": ["c01", "c02"]},
            ],
        },
        "hq.yaml",
    )
    rows, report, signals = _select(lake, definition, tmp_path / "s")
    # buckets 10..16 are documents 5..8 of D1; of those c01/c02 are 5 (c02), 7 (c01), 8 (c02); D2 has no scores
    assert [r[:2] for r in rows] == [("d5", "D1"), ("d7", "D1"), ("d8", "D1")]
    without = report["without_signal"]
    assert isinstance(without, dict) and without[f"model_scores@v{lake.version('model_scores')}"] == 10
    assert {t.table for t in signals.upstream} == {"model_scores", "domains"}


def test_numeric_in_and_a_clause_on_a_missing_column(lake: Lake, tmp_path: Path) -> None:
    numeric = SnapshotDefinition(
        name="b",
        where=(
            definition_from_mapping(
                {"name": "b", "where": [{"table": "model_scores", "column": "quality_bucket", "in": [0, 18]}]}, "b"
            ).where
        ),
    )
    rows, _, _ = _select(lake, numeric, tmp_path / "s")
    assert [r[0] for r in rows] == ["d0", "d9"]
    absent = definition_from_mapping(
        {"name": "x", "where": [{"table": "domains", "column": "label", "in": ["a"]}]}, "x"
    )
    with pytest.raises(DefinitionError, match=r"domains@v\d+ has no column label \(it has domain, tld\)"):
        SignalJoin(lake, absent)


def test_a_carried_column_may_not_take_a_source_column_name(lake: Lake, tmp_path: Path) -> None:
    carried = {"name": "x", "columns": ["id", "dump", "text", "domains.tld"]}
    assert [f.name for f in SignalJoin(lake, definition_from_mapping(carried, "x")).fields()] == ["tld"]
    # url is a column of the source (scored) that the definition does not publish: still refused
    lake = Lake(str(tmp_path / "other"))
    _write(lake, "scored", SOURCE, [{"id": "d0", "dump": "D1", "text": "t"}], "D1")
    rows = pa.table({"id": ["d0"], "dump": ["D1"], "url": ["https://example.org/"]})
    lake.write_partition("domains", rows, Lineage("domains", "D1", "t", "t", {}), {"dump": "D1"})
    clash = definition_from_mapping({"name": "x", "columns": ["id", "dump", "text", "domains.url"]}, "x")
    with pytest.raises(DefinitionError, match=r"domains\.url would publish a column named like one of scored's"):
        SignalJoin(lake, clash)


def test_a_signal_table_that_does_not_exist_is_named(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    definition = definition_from_mapping(
        {"name": "x", "where": [{"table": "perplexity", "column": "perplexity_bucket", "in": ["head"]}]}, "x"
    )
    with pytest.raises(LookupError, match="selects by perplexity, which does not exist yet"):
        SignalJoin(lake, definition)
    assert not SignalJoin(lake, SnapshotDefinition(name="plain")).active


def test_labels_absent_from_the_table_are_an_error_or_reported(lake: Lake, tmp_path: Path) -> None:
    # labels of another domain model: none exists in domains, so the selection could only be empty
    stale = definition_from_mapping(
        {"name": "docs", "where": [{"table": "domains", "column": "domain", "in": ["c13", "c14"]}]}, "docs.yaml"
    )
    with pytest.raises(
        DefinitionError,
        match=r"where\[1\]: domains@v\d+ has no row with domain in c13, c14 \(its values: c00, c01, c02\)",
    ):
        SignalJoin(lake, stale)
    partly = definition_from_mapping(
        {"name": "web", "where": [{"table": "domains", "column": "domain", "in": ["c00", "c09"]}]}, "web.yaml"
    )
    rows, report, _ = _select(lake, partly, tmp_path / "s")
    assert len(rows) == 6 and report["absent_values"] == {"where[1]": ["c09"]}
    fitting = definition_from_mapping(
        {"name": "web", "where": [{"table": "domains", "column": "domain", "in": ["c00"]}]}, "web.yaml"
    )
    assert "absent_values" not in _select(lake, fitting, tmp_path / "t")[1]


def test_a_published_snapshot_selects_by_domain_and_carries_it(lake: Lake) -> None:
    from corpuslake.datasets import publish_snapshot
    from corpuslake.tokens import Tokenizer

    clause = {"table": "domains", "column": "domain", "in": ["c00", "c01"]}
    columns = ["id", "dump", "text", "domains.domain"]
    # one dump: the fixture's ids repeat across dumps, and a snapshot's ids are unique
    settings = {"name": "web", "where": [clause], "columns": columns, "dumps": ["D1"]}
    entry = publish_snapshot(lake, definition_from_mapping(settings, "web.yaml"), "run", Tokenizer()).entry
    rows = lake.read(entry.table).to_pylist()
    # nine labelled documents, a third each c00/c01/c02; document 9 has no row at all
    assert sorted((r["id"], r["domain"]) for r in rows) == sorted(
        [(f"d{i}", "c00") for i in (0, 3, 6)] + [(f"d{i}", "c01") for i in (1, 4, 7)]
    )
    assert f"domains@v{lake.version('domains')}" in entry.lineage["upstream"]
    assert entry.report["where"]["without_signal"] == {f"domains@v{lake.version('domains')}": 1}
    assert entry.lineage["definition"]["where"] == [clause]


def test_a_mixture_weights_a_pin_by_its_carried_domain(lake: Lake) -> None:
    from corpuslake.datasets import publish_snapshot
    from corpuslake.mixtures import build_mixture, recipe_from_mapping
    from corpuslake.tokens import Tokenizer

    settings = {"name": "web", "columns": ["id", "dump", "text", "domains.domain"], "dumps": ["D1"]}
    entry = publish_snapshot(lake, definition_from_mapping(settings, "web.yaml"), "run", Tokenizer()).entry
    domain_of = {r["id"]: r["domain"] for r in lake.read(entry.table).to_pylist()}
    sources = [
        {"uri": entry.uri, "domains": ["c00"], "weight": 3},
        {"uri": entry.uri, "domains": ["c01"], "weight": 1},
    ]
    mix = recipe_from_mapping({"name": "by-domain", "target_tokens": 40, "seed": 3, "sources": sources}, "m.yaml")
    assert mix.as_config()["phases"][0]["sources"][0]["domains"] == ["c00"]
    with lake.staging() as folder:
        selection = build_mixture(lake, mix, folder)
        drawn = selection.rows.to_table().column("id").to_pylist()
    lines = selection.report["phases"][0]["sources"]
    assert [line["domains"] for line in lines] == [["c00"], ["c01"]]
    assert {domain_of[i] for i in drawn} == {"c00", "c01"}  # never c02, never the unlabelled d9
    by_domain = {d: sum(line["realized_tokens"] for line in lines if line["domains"] == [d]) for d in ("c00", "c01")}
    assert by_domain["c00"] > 2 * by_domain["c01"] > 0
    unlabelled = recipe_from_mapping(
        {"name": "x", "target_tokens": 40, "seed": 3, "sources": [{"uri": "corpuslake://web@1"}]}, "x.yaml"
    )
    assert "domains" not in unlabelled.as_config()["phases"][0]["sources"][0]  # configs recorded before stay


def test_a_mixture_by_domain_needs_the_domain_column(lake: Lake) -> None:
    from corpuslake.datasets import publish_snapshot
    from corpuslake.mixtures import build_mixture, recipe_from_mapping
    from corpuslake.tokens import Tokenizer

    plain = {"name": "web", "columns": ["id", "dump", "text"], "dumps": ["D1"]}
    entry = publish_snapshot(lake, definition_from_mapping(plain, "web.yaml"), "run", Tokenizer()).entry
    sources = [{"uri": entry.uri, "domains": ["c00"]}]
    mix = recipe_from_mapping({"name": "m", "target_tokens": 40, "seed": 3, "sources": sources}, "m.yaml")
    with lake.staging() as folder, pytest.raises(DefinitionError, match=r"has no domain column.*domains\.domain"):
        build_mixture(lake, mix, folder)
    with pytest.raises(DefinitionError, match="domains must list at least one domain"):
        empty = [{**sources[0], "domains": []}]
        recipe_from_mapping({"name": "m", "target_tokens": 40, "seed": 3, "sources": empty}, "m.yaml")
