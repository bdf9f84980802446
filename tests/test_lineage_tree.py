"""The lineage tree of a pin or a table version: every table version, dump and input file behind it.

Touches: corpuslake.lineage_tree and the ``lineage`` command of corpuslake.cli, on a lake under tmp_path
built by the pipeline functions from the committed fixture landing zone (two dumps, no Dagster), with a
snapshot of both dumps, one of dump A, and a mixture of the two.
"""

import json

import pytest

from corpuslake.cli import main
from corpuslake.datasets import publish_mixture, publish_snapshot
from corpuslake.lineage_tree import lineage_tree
from corpuslake.mixtures import recipe_from_mapping
from corpuslake.pipeline import extract_documents, ingest_crawl_files
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from tests.conftest import LANDING

COLUMNS = ("id", "dump", "url", "text", "language")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Both inventories first, so documents for dump A read crawl_files@v1, the version written for B:
    the tree must follow it back to crawl_files@v0, the version that wrote A's files."""
    lake = Lake(str(tmp_path_factory.mktemp("lineage") / "lake"))
    for dump in ("FIXTURE-A", "FIXTURE-B"):
        ingest_crawl_files(lake, LANDING, dump, f"scan-{dump}", workers=1)
    for dump in ("FIXTURE-A", "FIXTURE-B"):
        extract_documents(lake, dump, f"extract-{dump}", DocumentsConfig(), workers=1)
    tokenizer = Tokenizer()
    both = publish_snapshot(lake, SnapshotDefinition(name="web", source="documents", columns=COLUMNS), "p", tokenizer)
    only_a = SnapshotDefinition(name="web-a", source="documents", columns=COLUMNS, dumps=("FIXTURE-A",))
    part = publish_snapshot(lake, only_a, "p", tokenizer)
    sources = [{"uri": both.entry.uri, "weight": 1}, {"uri": part.entry.uri, "weight": 1}]
    recipe = {"name": "mix", "target_tokens": 2000, "seed": 1, "sources": sources}
    publish_mixture(lake, recipe_from_mapping(recipe, "mix.yaml"), "p")
    return lake


def test_a_two_dump_snapshot_shows_both_dumps_and_every_file(lake: Lake) -> None:
    tree = lineage_tree(lake, "corpuslake://web@1")
    assert tree.roots == ("corpuslake://web@1",)
    assert tree.dumps == ["FIXTURE-A", "FIXTURE-B"]
    assert tree.nodes["corpuslake://web@1"].upstream == ("documents@v0", "documents@v1")
    # documents@v0 (dump A) read crawl_files@v1, written for B: A's files come from crawl_files@v0
    assert str(lake.lineage("documents", 0).upstream[0]) == "crawl_files@v1"
    assert tree.nodes["documents@v0"].upstream == ("crawl_files@v0",)
    assert tree.nodes["documents@v1"].upstream == ("crawl_files@v1",)
    files = {(f["dump"], f["source_file"]) for f in tree.files}
    landing = {(d.name, p.name) for d in LANDING.iterdir() if d.is_dir() for p in d.iterdir()}
    assert files == {f for f in landing if not f[1].startswith(("_", "."))}


def test_the_text_tree_prints_a_shared_version_once(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", "corpuslake://mix@1", "--lake", lake.root]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("corpuslake://mix@1  mixture snapshots/mix@v")
    assert "dumps=FIXTURE-A,FIXTURE-B" in lines[0]
    # the mixture's sources in the order its lineage lists them (by table name: web-a, then web)
    assert lines[1].startswith("  corpuslake://web-a@1  snapshot ") and "dumps=FIXTURE-A" in lines[1]
    assert lines[2].startswith("    documents@v0  asset=documents partition=FIXTURE-A")
    assert lines[3].startswith("      crawl_files@v0  asset=crawl_files partition=FIXTURE-A")
    assert any(line.startswith("        ") and "part-00000.warc.gz  sha256=" in line for line in lines)
    # web reads documents@v0 too: said, not printed again with its files
    web = lines.index(next(line for line in lines if line.startswith("  corpuslake://web@1  snapshot ")))
    assert lines[web + 1] == "    documents@v0  (shown above)"
    assert lines[web + 2].startswith("    documents@v1  asset=documents partition=FIXTURE-B")
    assert sum(1 for line in lines if "crawl_files@v0  asset=" in line) == 1
    assert lines[-1] == "7 node(s): 4 table version(s), 2 dump(s) (FIXTURE-A, FIXTURE-B), 5 input file(s)"


def test_a_table_version_holding_two_dumps_has_a_branch_per_dump(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lineage", "documents", "--lake", lake.root]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "documents@v1: 2 dump(s)"
    assert [line.split()[0] for line in lines if line.startswith("  documents@")] == ["documents@v0", "documents@v1"]
    # one dump's own version is its own root, as before
    assert main(["lineage", "documents@0", "--lake", lake.root]) == 0
    chain = capsys.readouterr().out.splitlines()
    assert chain[0].startswith("documents@v0  asset=documents partition=FIXTURE-A")
    assert chain[1].startswith("  crawl_files@v0  asset=crawl_files")


def test_json_lists_each_node_once_with_its_upstream(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", "corpuslake://mix@1", "--lake", lake.root, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    ids = [n["id"] for n in document["nodes"]]
    assert len(ids) == len(set(ids)) == 7
    nodes = {n["id"]: n for n in document["nodes"]}
    assert nodes["corpuslake://mix@1"]["upstream"] == ["corpuslake://web-a@1", "corpuslake://web@1"]
    assert nodes["corpuslake://web-a@1"]["upstream"] == ["documents@v0"]
    assert nodes["corpuslake://web-a@1"]["dumps"] == ["FIXTURE-A"]
    assert document["dumps"] == ["FIXTURE-A", "FIXTURE-B"]
    assert all(f["sha256"] and f["path"] for f in document["files"])
    assert {n["table"] for n in document["nodes"] if n["kind"] == "version"} == {"documents", "crawl_files"}


def test_a_published_table_version_is_its_pin(lake: Lake) -> None:
    entry = lineage_tree(lake, "corpuslake://web@1").nodes["corpuslake://web@1"].detail
    tree = lineage_tree(lake, f"snapshots/web@{entry['version']}")
    assert tree.roots == ("corpuslake://web@1",) and tree.dumps == ["FIXTURE-A", "FIXTURE-B"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("corpuslake://nope@1", "nope"),  # no such publication
        ("nope", "table nope does not exist"),
        ("documents@9", "documents has no version 9 (its latest is 1)"),
    ],
)
def test_what_does_not_exist_is_a_clear_error(
    lake: Lake, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    assert main(["lineage", target, "--lake", lake.root]) == 2
    assert message in capsys.readouterr().err
