"""The domain model and the domains stage: training, the model file, labelling a dump, selecting by domain.

Touches: corpuslake.domains (model, training, run), corpuslake.runner, corpuslake.signal_select and the
assets domain_model and domains (materialized in process on a test instance), on a
lake under tmp_path whose ``scored`` table is written directly from the committed quality examples (Python
documentation, State of the Union addresses, Moby-Dick, spam and ordinary mail: real topics to find).
"""

import argparse
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from assets.domain_model import domain_model
from assets.domains import domains
from corpuslake.domains.cli import add_domains_parser
from corpuslake.domains.model import DomainModel, DomainModelConfig, DomainModelError
from corpuslake.domains.run import label_dump, train_model
from corpuslake.domains.training import train
from corpuslake.lineage import Lineage, TableVersion
from corpuslake.schemas import SCORED
from corpuslake.signal_select import SignalJoin
from corpuslake.snapshots import definition_from_mapping
from corpuslake.spill import connect, dump_relation, union_all
from corpuslake.store import Lake
from orchestration.partitions import DUMP_PARTITIONS_NAME
from orchestration.resources import ComputeResource, LakeResource

EXAMPLES = Path(__file__).resolve().parent.parent / "samples" / "quality" / "examples.jsonl.gz"
SCHEMA = pa.schema([f.with_nullable(True) for f in SCORED])
CONFIG = DomainModelConfig(k=4, min_df=2, dims=16, sample_size=300)
HOSTS = {"python-docs": "docs.python.org", "sotu": "www.presidency.ucsb.edu", "moby-dick": "www.gutenberg.org"}


@pytest.fixture(scope="module")
def examples() -> list[dict[str, str]]:
    """Documents of three prose sources (each with its own site), and mail from a mail archive."""
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    picked = []
    for row in rows:
        kind = row["source"].split("/")[0]
        host = HOSTS.get(kind, "mail.example.co.uk")
        picked.append({"text": row["text"], "kind": kind, "url": f"https://{host}/{row['source']}"})
    return picked[::6]


def write_scored(lake: Lake, dump: str, rows: list[dict[str, str]]) -> int:
    table_rows: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        doc: dict[str, Any] = {f.name: None for f in SCORED}
        doc |= {"id": hashlib.sha256(f"{dump}/{i}".encode()).hexdigest()[:32], "dump": dump}
        doc |= {"url": row["url"], "text": row["text"], "language": "en", "quality_score": 0.5}
        table_rows.append(doc)
    table = pa.Table.from_pylist(table_rows, schema=SCHEMA)
    return lake.write_partition("scored", table, Lineage("scored", dump, "test", "t", {}), {"dump": dump})


@pytest.fixture
def lake(tmp_path: Path, examples: list[dict[str, str]]) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    half = len(examples) // 2
    write_scored(lake, "D1", examples[:half])
    write_scored(lake, "D2", examples[half:])
    return lake


def test_same_training_set_and_seed_give_the_same_model(examples: list[dict[str, str]], tmp_path: Path) -> None:
    texts: list[str | None] = [e["text"] for e in examples]
    urls: list[str | None] = [e["url"] for e in examples]
    first, second = (train(texts, urls, CONFIG, {"table": "t"}) for _ in range(2))
    first.save(tmp_path / "a.zip")
    second.save(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    loaded = DomainModel.load(tmp_path / "a.zip")
    assert loaded.label(texts).tolist() == first.label(texts).tolist()
    # another seed is another model (k-means starts elsewhere)
    other = train(texts, urls, DomainModelConfig(k=4, min_df=2, dims=16, seed=7), {"table": "t"})
    other.save(tmp_path / "c.zip")
    assert (tmp_path / "c.zip").read_bytes() != (tmp_path / "a.zip").read_bytes()


def test_domains_are_ranked_by_size_and_named_by_their_terms(examples: list[dict[str, str]]) -> None:
    model = train([e["text"] for e in examples], [e["url"] for e in examples], CONFIG, {"table": "t"})
    sizes = [d.documents for d in model.domains]
    assert [d.domain for d in model.domains] == ["c00", "c01", "c02", "c03"]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == len(examples)
    # the Python documentation is a topic of its own: one domain holds most of it, named by its words
    labels = model.label([e["text"] for e in examples]).tolist()
    python = [label for label, e in zip(labels, examples, strict=True) if e["kind"] == "python-docs"]
    top = max(set(python), key=python.count)
    assert python.count(top) >= 0.8 * len(python)
    assert "python" in model.domains[top].name.split(", ")
    assert all(u.startswith("https://") for u in model.domains[top].urls) and model.domains[top].urls


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DomainModelError, match="at least k documents"):
        train(["one text"], [None], CONFIG, {})
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(DomainModelError, match="is not a domain model"):
        DomainModel.load(tmp_path / "x.zip")


def test_the_stage_labels_every_document_and_selection_reads_it(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no domain model yet"):
        label_dump(lake, "D1", "run", 1, "test")
    registry, model, digest = train_model(lake, "run", CONFIG, "test")
    scored = lake.version("scored")
    assert lake.lineage("domain_models", registry).upstream == (TableVersion("scored", scored or 0),)
    assert lake.lineage("domain_models", registry).config["model_hash"] == digest
    assert lake.local_path(f"_models/domains/{digest}.zip").is_file()
    for dump in ("D1", "D2"):
        report = label_dump(lake, dump, "run", 1, "test")
        assert (
            report.rows == lake.read("scored", scored).filter(pa.compute.equal(pa.compute.field("dump"), dump)).num_rows
        )
    rows = lake.read("domains").to_pylist()
    assert len(rows) == lake.read("scored").num_rows
    assert {r["domain_model"] for r in rows} == {digest}
    names = {d.domain: d.name for d in model.domains}
    assert all(names[r["domain"]] == r["domain_name"] for r in rows)
    python = [r for r in rows if r["registered_domain"] == "python.org"]
    assert python and {r["tld"] for r in python} == {"org"}
    assert {r["registered_domain"] for r in rows if r["tld"] == "uk"} == {"example.co.uk"}
    # re-labelling a dump replaces its partition (same rows, same labels)
    label_dump(lake, "D1", "run-2", 1, "test")
    assert sorted(lake.read("domains").to_pylist(), key=str) == sorted(rows, key=str)
    # a definition selecting one domain gets exactly that domain's documents, with the label carried
    top = max(names, key=lambda d: sum(r["domain"] == d for r in rows))
    definition = definition_from_mapping(
        {
            "name": "top",
            "where": [{"table": "domains", "column": "domain", "in": [top]}],
            "columns": ["id", "dump", "text", "domains.domain_name"],
        },
        "top.yaml",
    )
    signals = SignalJoin(lake, definition)
    con = connect(tmp_path / "s")
    schema = lake.dataset("scored").schema
    parts = [
        signals.join(con, dump_relation(con, lake, "scored", scored or 0, d, i, ["id", "dump", "text"], schema), d)
        for i, d in enumerate(["D1", "D2"])
    ]
    selected, selection = signals.select(union_all(parts), ["id", "dump", "text"])
    assert sorted(r[0] for r in selected.fetchall()) == sorted(r["id"] for r in rows if r["domain"] == top)
    assert selection["without_signal"] == {f"domains@v{lake.version('domains')}": 0}
    assert set(selected.columns) == {"id", "dump", "text", "domain_name"}


def test_model_then_labels_materialize_as_assets(tmp_path: Path, examples: list[dict[str, str]]) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", examples)
    resources = {"lake": LakeResource(root=lake.root), "compute": ComputeResource(workers=1)}
    config = {"k": 3, "min_df": 2, "dims": 8}
    with dg.instance_for_test() as instance:
        run_config = {"ops": {"domain_model": {"config": config}}}
        trained = dg.materialize([domain_model], instance=instance, resources=resources, run_config=run_config)
        [model_event] = trained.get_asset_materialization_events()
        metadata = model_event.materialization.metadata
        assert metadata["k"].value == 3 and "| c00 |" in str(metadata["domains"].value)
        assert metadata["upstream_versions"].value == f"scored@v{lake.version('scored')}"
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["D1"])
        labelled = dg.materialize([domains], instance=instance, resources=resources, partition_key="D1")
        [event] = labelled.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == len(examples)
    assert event.materialization.metadata["model_hash"].value == metadata["model_hash"].value
    assert lake.read("domains").num_rows == len(examples)


def test_the_command_trains_once_then_labels(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_domains_parser(parser.add_subparsers())
    args = parser.parse_args(["domains", "--lake", lake.root, "--k", "3", "--workers", "1"])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "training documents" in printed and "  c02  " in printed and "[D2]:" in printed
    assert args.handler(parser.parse_args(["domains", "--lake", lake.root, "--dump", "D1", "--workers", "1"])) == 0
    assert "(registered)" in capsys.readouterr().out and lake.version("domain_models") == 0
