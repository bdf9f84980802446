"""Published snapshots: pins, numbering, the verifying client, lock files, gc and diff.

Touches: corpuslake.catalog, corpuslake.publish, corpuslake.snapshots, corpuslake.client,
corpuslake.maintenance, corpuslake.diff and the CLI, on a lake under tmp_path whose ``scored`` table is
written directly from the committed quality examples (real prose and web text).
"""

import gzip
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sentencepiece as spm
from deltalake import DeltaTable

import corpuslake
from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.datasets import publish_snapshot
from corpuslake.diff import diff_snapshots
from corpuslake.lineage import Lineage
from corpuslake.maintenance import collect_garbage
from corpuslake.pins import DamagedSnapshotError, InvalidPinError, PinError, parse_pin
from corpuslake.publish import AuditResult, PublicationBlockedError, Written, standard_audits
from corpuslake.schemas import SCORED
from corpuslake.snapshots import DefinitionError, SnapshotDefinition, definition_from_mapping
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer, default_model_path
from orchestration.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "samples" / "quality" / "examples.jsonl.gz"
SCHEMA = pa.schema([f.with_nullable(True) for f in SCORED])


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle][:240]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


def write_scored(lake: Lake, dump: str, texts: list[str], edit: Callable[[int, str], str] | None = None) -> int:
    """One dump of a ``scored`` table: every fifth document French, scores spread over [0, 1)."""
    rows = []
    for i, text in enumerate(texts):
        row: dict[str, Any] = {f.name: None for f in SCORED}
        row |= {
            "id": hashlib.sha256(f"{dump}/{i}".encode()).hexdigest()[:32],
            "dump": dump,
            "url": f"https://example.org/{dump}/{i}",
            "text": edit(i, text) if edit else text,
            "language": "fr" if i % 5 == 0 else "en",
            "language_score": 0.9,
            "quality_score": (i * 37 % 100) / 100,
            "quality_model": "m",
            "cluster_size": 1,
        }
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    return lake.write_partition("scored", table, Lineage("scored", dump, "test", "t", {}), {"dump": dump})


def web(**changes: Any) -> SnapshotDefinition:
    settings: dict[str, Any] = {"name": "web", "languages": ("en",), "quality_threshold": 0.3}
    return SnapshotDefinition(**(settings | changes))


def test_pins_parse_strictly() -> None:
    assert parse_pin("corpuslake://web-en@3").number == 3
    assert str(parse_pin(" corpuslake://web-en@3 ")) == "corpuslake://web-en@3"
    assert parse_pin("corpuslake://web@latest", allow_latest=True).number is None
    with pytest.raises(InvalidPinError, match="names no fixed version"):
        parse_pin("corpuslake://web@latest")
    for bad in ["web@1", "corpuslake://web", "corpuslake://web@0", "corpuslake://../x@1", "corpuslake://a/b@1"]:
        with pytest.raises(InvalidPinError):
            parse_pin(bad)
    with pytest.raises(InvalidPinError, match="invalid snapshot name"):
        parse_pin("corpuslake://we\x00b@1")


def test_token_counts_are_sentencepiece_counts(texts: list[str], tokenizer: Tokenizer) -> None:
    reference = spm.SentencePieceProcessor(model_file=str(default_model_path()))
    counts = tokenizer.count(pa.array([*texts[:50], ""])).to_pylist()
    assert counts == [len(reference.encode(t)) for t in texts[:50]] + [0]
    assert tokenizer.info.vocab_size == 32000
    assert tokenizer.info.sha256 == hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    assert 100 < sum(counts) < sum(len(t) for t in texts[:50])  # real subword counts, fewer than characters


def test_numbers_are_minted_once_per_content(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:100])
    first = publish_snapshot(lake, web(), "run-1", tokenizer)
    assert (first.entry.uri, first.new) == ("corpuslake://web@1", True)

    rows = client.open(first.entry.uri, lake).to_table()
    source = lake.read("scored").to_pylist()
    expected = sorted(r["id"] for r in source if r["language"] == "en" and r["quality_score"] >= 0.3)
    assert rows["id"].to_pylist() == expected  # the selection, ordered by id
    assert rows["tokens"].to_pylist() == tokenizer.count(rows["text"]).to_pylist()
    assert first.entry.tokens == sum(rows["tokens"].to_pylist()) and first.entry.documents == len(expected)
    assert first.entry.tokenizer == str(tokenizer.info)
    assert first.entry.lineage["upstream"] == ["scored@v0"]
    assert all(check["passed"] for check in first.entry.checks.values())

    table_version = lake.version("snapshots/web")
    again = publish_snapshot(lake, web(), "run-2", tokenizer)
    assert (again.new, again.entry) == (False, first.entry)  # same content: no new number, no new version
    assert lake.version("snapshots/web") == table_version

    write_scored(lake, "D2", texts[100:160])
    second = publish_snapshot(lake, web(), "run-3", tokenizer)
    assert (second.entry.uri, second.new) == ("corpuslake://web@2", True)
    assert second.entry.report["by_dump"]["D2"]["documents"] > 0
    assert [e.number for e in Catalog(lake).entries("web")] == [1, 2]
    assert client.open("corpuslake://web@1", lake).to_table().equals(rows)  # @1 still means what it meant

    with pytest.raises(PinError, match="has no number 3"):
        client.open("corpuslake://web@3", lake)
    with pytest.raises(PinError, match="no snapshot named 'nope'") as unknown:
        client.open("corpuslake://nope@1", lake)
    assert "did you mean" not in str(unknown.value)
    with pytest.raises(PinError, match=r"no snapshot named 'wbe'.*did you mean web\?"):  # a near name is offered
        client.open("corpuslake://wbe@1", lake)
    with pytest.raises(InvalidPinError, match="names no fixed version"):
        client.open("corpuslake://web@latest", lake)


def test_concurrent_publishers_never_share_a_number(tmp_path: Path, texts: list[str]) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:80])
    thresholds = [0.1, 0.3, 0.5, 0.7]

    def one(threshold: float) -> tuple[int, int]:
        entry = publish_snapshot(lake, web(quality_threshold=threshold), "run", Tokenizer(threads=1)).entry
        return entry.number, entry.documents

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, thresholds))
    assert sorted(n for n, _ in results) == [1, 2, 3, 4]
    entries = Catalog(lake).entries("web")
    assert len({e.delta_version for e in entries}) == 4
    for entry in entries:  # each number reads the rows of the publication that minted it
        assert client.open(entry.uri, lake).to_table().num_rows == entry.documents == dict(results)[entry.number]


def test_damaged_files_are_refused_and_all_reported(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:120])
    entry = publish_snapshot(lake, web(quality_threshold=0.0), "run", tokenizer, rows_per_file=17).entry
    assert len(entry.manifest) >= 5
    snapshot = corpuslake.open(entry.uri, lake)
    whole = snapshot.to_table()
    assert sum(f.rows for f in entry.manifest) == whole.num_rows == entry.documents
    assert pa.Table.from_batches(list(snapshot.batches(start_row=20, stop_row=61))).equals(whole.slice(20, 41))
    assert pa.Table.from_batches(list(snapshot.batches(["id"], batch_rows=5))).column("id").equals(whole["id"])

    folder = tmp_path / "lake" / "snapshots" / "web"
    altered, deleted = entry.manifest[1].path, entry.manifest[3].path
    data = bytearray((folder / altered).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / altered).write_bytes(bytes(data))
    with pytest.raises(DamagedSnapshotError, match=f"{altered} was altered"):
        snapshot.to_table()
    rows_before_damage = list(snapshot.batches(stop_row=17))  # the first file is intact and still readable
    assert sum(b.num_rows for b in rows_before_damage) == 17
    (folder / deleted).unlink()
    problems = snapshot.verify()
    assert len(problems) == 2 and altered in problems[0] and deleted in problems[1] and "missing" in problems[1]


def test_gc_keeps_published_versions_byte_identical(
    tmp_path: Path, texts: list[str], tokenizer: Tokenizer, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:100])
    first = publish_snapshot(lake, web(), "run", tokenizer).entry
    before = client.open(first.uri, lake).to_table()
    files_before = {f.path: (tmp_path / "lake" / first.table / f.path).read_bytes() for f in first.manifest}

    # a publication that fails its audit writes a version but never reaches the catalog
    def refuse(lake: Lake, table: str, version: int, written: Written) -> AuditResult:
        return AuditResult("refuse", False, "crafted failure")

    with pytest.raises(PublicationBlockedError, match="crafted failure"):
        publish_snapshot(lake, web(quality_threshold=0.9), "run", tokenizer, audits=[*standard_audits(), refuse])
    assert [e.number for e in Catalog(lake).entries("web")] == [1]

    # a new dump arrives and both dumps are re-materialized; @2 is published from the newest version
    write_scored(lake, "D2", texts[100:200])
    write_scored(lake, "D1", texts[:100], edit=lambda i, t: t + " Updated." if i == 1 else t)
    write_scored(lake, "D2", texts[100:200])
    second = publish_snapshot(lake, web(), "run", tokenizer).entry
    assert [e.number for e in Catalog(lake).entries("web")] == [1, 2]

    results = {r.table: r for r in collect_garbage(lake, retention_hours=0)}
    assert results["snapshots/web"].removed_files == 1  # the blocked version's file
    assert results["scored"].removed_files >= 1  # stage files no pin reaches
    assert first.delta_version in results["snapshots/web"].kept_versions
    assert 0 in results["scored"].kept_versions  # @1's lineage stays traceable

    after = client.open(first.uri, lake)
    assert after.to_table().equals(before) and after.verify() == []
    assert {f.path: (tmp_path / "lake" / first.table / f.path).read_bytes() for f in first.manifest} == files_before
    assert lake.read("scored", 0).num_rows == 100
    assert client.open(second.uri, lake).to_table().num_rows == second.documents

    assert main(["gc", "--lake", str(tmp_path / "lake"), "--retention-hours", "0", "--dry-run"]) == 0
    assert "snapshots/web" in capsys.readouterr().out

    # a vacuum that ignores the pins (another Delta tool) breaks @1: opening it says so instead of misreading
    DeltaTable(lake.table_uri("snapshots/web")).vacuum(
        retention_hours=0, dry_run=False, enforce_retention_duration=False
    )
    with pytest.raises(DamagedSnapshotError, match="missing"):
        client.open(first.uri, lake).to_table()
    assert main(["verify", "--lake", str(tmp_path / "lake"), first.uri]) == 1
    assert "DAMAGED" in capsys.readouterr().out


def test_lock_files_pin_exact_versions(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:60])
    publish_snapshot(lake, web(), "run", tokenizer)
    config = tmp_path / "train.yaml"
    config.write_text("model: small\ndata:\n  - corpuslake://web@latest\n")
    lock = client.write_lock(config, lake)
    assert lock.name == "train.corpuslake.lock"

    write_scored(lake, "D2", texts[60:120])
    publish_snapshot(lake, web(), "run", tokenizer)  # @2 exists now; the lock still says @1
    locked = client.open(str(lock))
    assert locked.uri == "corpuslake://web@1"
    assert locked.to_table().equals(client.open("corpuslake://web@1", lake).to_table())
    assert client.open("corpuslake://web@latest", lock=lock).uri == "corpuslake://web@1"

    tampered = lock.read_text().replace(locked.entry.manifest_sha256, "f" * 64)
    lock.write_text(tampered)
    with pytest.raises(client.LockMismatchError, match="recorded"):
        client.open(str(lock))
    config.write_text("model: small\n")
    with pytest.raises(ValueError, match="names no corpuslake"):
        client.write_lock(config, lake)


def test_diff_counts_added_removed_changed(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:50])
    one = publish_snapshot(lake, web(quality_threshold=0.0), "run", tokenizer).entry
    write_scored(lake, "D1", texts[:50], edit=lambda i, t: t + " Changed." if i == 1 else t)
    write_scored(lake, "D2", texts[50:70])
    two = publish_snapshot(lake, web(quality_threshold=0.0, languages=None), "run", tokenizer).entry
    result = diff_snapshots(client.open(one.uri, lake), client.open(two.uri, lake))
    french = len([i for i in range(50) if i % 5 == 0]) + len([i for i in range(20) if i % 5 == 0])
    assert (result.added, result.changed, result.removed) == (20 + french - 4, 1, 0)
    assert result.by_dump["D2"]["added"] == 20 and result.by_language["fr"]["added"] == french
    assert result.unchanged == one.documents - 1


def test_definitions_are_validated_with_the_file_named() -> None:
    where = "snapshots/x.yaml"
    with pytest.raises(
        DefinitionError, match=r"x\.yaml: unknown setting 'treshold' \(did you mean quality_threshold\?\)"
    ):
        definition_from_mapping({"name": "x", "treshold": 1}, where)
    with pytest.raises(DefinitionError, match="not both"):
        definition_from_mapping({"name": "x", "quality_threshold": 0.5, "quality_top_percent": 10}, where)
    with pytest.raises(DefinitionError, match="source must be one of scored, deduplicated"):
        definition_from_mapping({"name": "x", "source": "rejections"}, where)
    with pytest.raises(DefinitionError, match="columns must include"):
        definition_from_mapping({"name": "x", "columns": ["id", "dump"]}, where)
    with pytest.raises(DefinitionError, match="invalid snapshot name"):
        definition_from_mapping({"name": "../escape"}, where)
    with pytest.raises(DefinitionError, match="invalid dump"):
        definition_from_mapping({"name": "x", "dumps": ["/etc"]}, where)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # a quoted "no" is a non-empty string, which Python would take as true: it is refused
        ({"redact_pii": "no"}, "redact_pii must be true or false, not 'no' (a string)"),
        ({"drop_contaminated": 1}, "drop_contaminated must be true or false, not 1 (int)"),
        # numbers in quotes would fail deep in Arrow or DuckDB: refused here, with the key
        ({"min_language_score": "0.65"}, "min_language_score must be a number, not '0.65' (a string)"),
        ({"quality_top_percent": "10"}, "quality_top_percent must be a number, not '10' (a string)"),
        ({"max_badword_rate": True}, "max_badword_rate must be a number, not True (bool)"),
        ({"dumps": "CC-MAIN-2024-10"}, "dumps must be a list, not 'CC-MAIN-2024-10' (a string)"),
        # YAML reads an unquoted `no` (Norwegian) as false
        ({"languages": ["en", False]}, "languages must be a list of strings (False is a boolean: quote it"),
        ({"columns": ["id", "dump", "text", 3]}, "columns must be a list of strings (3 (int) is not one)"),
        ({"cross_dump_duplicates": "dorp"}, "cross_dump_duplicates must be one of drop, keep, not 'dorp'"),
        ({"name": 5}, "name must be a string"),
        ({}, "name is required"),
    ],
)
def test_definition_values_are_type_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        definition_from_mapping({"name": "x"} | settings if settings else {}, "snapshots/x.yaml")
    (problem,) = raised.value.problems
    assert problem.startswith(f"snapshots/x.yaml: {message}")


def test_every_problem_of_a_definition_is_listed() -> None:
    with pytest.raises(DefinitionError) as raised:
        definition_from_mapping({"name": "x", "redact_pii": "yes", "min_language_score": "high", "langs": []}, "d.yaml")
    assert raised.value.problems == [
        "d.yaml: unknown setting 'langs' (did you mean languages?)",
        "d.yaml: min_language_score must be a number, not 'high' (a string)",
        "d.yaml: redact_pii must be true or false, not 'yes' (a string)",
    ]
    # whole numbers are numbers; the definition keeps floats
    definition = definition_from_mapping({"name": "x", "min_language_score": 1, "quality_top_percent": 10}, "d.yaml")
    assert (definition.min_language_score, definition.quality_top_percent) == (1.0, 10.0)
    assert isinstance(definition.min_language_score, float)


def test_content_policies_need_their_signals(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:10])
    with pytest.raises(LookupError, match="content_signals"):
        publish_snapshot(lake, web(redact_pii=True), "run", tokenizer)
    assert Catalog(lake).entries() == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # a misspelt table is named with the nearest known one
        (
            {"where": [{"table": "domain", "column": "domain", "in": ["c03"]}]},
            "where[0]: unknown signal table 'domain'",
        ),
        ({"where": [{"table": "domains", "column": "domain"}]}, "where[0]: a clause needs in, min or max"),
        ({"where": [{"table": "domains", "column": "domain", "inn": ["c03"]}]}, "where[0]: unknown clause key 'inn'"),
        (
            {"where": [{"table": "perplexity", "column": "perplexity", "min": 5, "max": 1}]},
            "where[0]: min 5.0 is above",
        ),
        ({"where": [{"table": "domains", "column": "domain", "in": ["c03", 4]}]}, "where[0]: in must hold only"),
        ({"where": [{"table": "domains", "column": "domain", "in": [True]}]}, "where[0]: in must be a non-empty list"),
        ({"where": [{"table": "model_scores", "column": "q", "min": "15"}]}, "where[0]: min must be a number"),
        ({"where": [{"table": "domains", "column": "Domain; drop", "in": ["a"]}]}, "where[0]: column must be a lower"),
        ({"where": {"table": "domains"}}, "where must be a list of clauses"),
        ({"columns": ["id", "dump", "text", "domian.domain"]}, "snapshot x: columns: unknown signal table 'domian'"),
        (
            {"columns": ["id", "dump", "text", "language", "perplexity.language"]},
            "columns would publish language twice",
        ),
    ],
)
def test_signal_clauses_are_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        definition_from_mapping({"name": "x"} | settings, "snapshots/x.yaml")
    (problem,) = raised.value.problems
    assert problem.startswith("snapshots/x.yaml: ") and message in problem


def test_signal_clauses_are_read_and_recorded() -> None:
    clauses = [
        {"table": "domains", "column": "domain", "in": ["c03", "c07"]},
        {"table": "perplexity", "column": "perplexity_bucket", "in": ["head", "middle"]},
        {"table": "model_scores", "column": "quality_bucket", "min": 15},
    ]
    columns = ["id", "dump", "text", "domains.domain"]
    definition = definition_from_mapping({"name": "x", "where": clauses, "columns": columns}, "x.yaml")
    assert [c.table for c in definition.where] == ["domains", "perplexity", "model_scores"]
    assert definition.where[2].min == 15.0 and definition.where[0].values == ("c03", "c07")
    assert [(c.table, c.column) for c in definition.carried] == [("domains", "domain")]
    # the recorded definition reads back to the same one
    config = definition.as_config()
    assert config["where"][2] == {"table": "model_scores", "column": "quality_bucket", "min": 15.0}
    assert definition_from_mapping(config, "again") == definition
    # a definition without clauses records no where key (its recorded config is what it was)
    assert "where" not in SnapshotDefinition(name="y").as_config()


@pytest.mark.parametrize("from_footers", [True, False])
def test_the_null_audit_counts_null_ids_and_texts(
    tmp_path: Path, from_footers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpuslake import publish

    lake = Lake(str(tmp_path / "lake"))
    rows = pa.table({"id": ["a", None, "c", "d"], "text": [None, "x", None, "y"]})
    version = lake.append("published", rows, Lineage("published", None, "test", "t", {}))
    written = Written(4, (), ("id",))
    if from_footers:
        assert publish._footer_nulls(lake, "published", version, ("id", "text")) == {"id": 1, "text": 2}
    else:  # as for files whose footers carry no null counts: the rows are scanned
        monkeypatch.setattr(publish, "_footer_nulls", lambda *_: None)
    found = publish._audit_nulls(lake, "published", version, written)
    assert (found.passed, found.detail) == (False, "nulls: {'id': 1, 'text': 2}")
    clean = lake.append("clean", rows.drop_null(), Lineage("clean", None, "test", "t", {}))
    assert publish._audit_nulls(lake, "clean", clean, written) == publish.AuditResult(
        "no_null_text_or_id", True, "none"
    )
