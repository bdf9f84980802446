"""The perplexity stage on a small lake: one row per scored document, nulls for languages without a model,
the model's identity in lineage, the same numbers on a re-run. Touches corpuslake.perplexity.stage, the
runner and a lake in tmp_path (a ``scored`` partition written directly)."""

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from corpuslake.lineage import Lineage
from corpuslake.perplexity.stage import PerplexityConfig, perplexity_dump
from corpuslake.store import Lake
from tests.test_perplexity import PROSE, write_reference

SPAM = "FREE!!! $$$ click >>> www now 100% off!!!"


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    store = Lake(str(tmp_path / "lake"))
    rows = {
        "id": ["a", "b", "c", "d"],
        "dump": ["D1"] * 4,
        "text": [PROSE, SPAM, "Der Bericht des Jahres.", ""],
        "language": ["en", "en", "de", "en"],
    }
    store.write_partition("scored", pa.table(rows), Lineage("scored", "D1", "r0", "t", {}), {"dump": "D1"})
    return store


@pytest.fixture
def config(tmp_path: Path) -> PerplexityConfig:
    (tmp_path / "refs").mkdir()
    write_reference(tmp_path / "refs" / "en.jsonl.gz")
    return PerplexityConfig(references=str(tmp_path / "refs"), model_dir=str(tmp_path / "models"), batch_rows=2)


def test_stage_writes_perplexity_and_buckets(lake: Lake, config: PerplexityConfig) -> None:
    report = perplexity_dump(lake, "D1", "run-1", config, workers=1, code_version="test")
    rows = {r["id"]: r for r in lake.read("perplexity", report.version).to_pylist()}
    assert set(rows) == {"a", "b", "c", "d"} and report.counters["documents"] == 4
    assert rows["a"]["perplexity"] < rows["b"]["perplexity"] and rows["b"]["perplexity_bucket"] == "tail"
    assert rows["c"]["perplexity"] is None and rows["c"]["perplexity_bucket"] is None  # no German model
    assert rows["d"]["perplexity"] is None  # no tokens
    assert report.counters["bucket.none"] == 2 and report.counters["bucket.tail"] == 2 - report.counters.get(
        "bucket.head", 0
    ) - report.counters.get("bucket.middle", 0)
    lineage = lake.lineage("perplexity", report.version)
    assert [str(u) for u in lineage.upstream] == ["scored@v0"]
    model = lineage.config["models"]["en"]
    assert model["order"] == 3 and len(model["arpa_sha256"]) == 64 and len(model["reference_sha256"]) == 64
    assert len(model["cutoffs"]) == 2


def test_rerun_replaces_the_partition_with_the_same_numbers(lake: Lake, config: PerplexityConfig) -> None:
    first = perplexity_dump(lake, "D1", "run-1", config, workers=1, code_version="test")
    again = perplexity_dump(lake, "D1", "run-2", config, workers=1, code_version="test")
    assert again.version == first.version + 1
    before, after = (lake.read("perplexity", v).sort_by("id").to_pylist() for v in (first.version, again.version))
    assert before == after


def test_other_model_parameters_are_another_model(lake: Lake, config: PerplexityConfig) -> None:
    first = perplexity_dump(lake, "D1", "run-1", config, workers=1, code_version="test")
    bigram = perplexity_dump(lake, "D1", "run-2", dataclasses.replace(config, order=2), workers=1, code_version="t")
    keys = {lake.lineage("perplexity", r.version).config["models"]["en"]["key"] for r in (first, bigram)}
    assert len(keys) == 2


def materialize_perplexity(lake: Lake, config: PerplexityConfig) -> Mapping[str, Any]:
    """The perplexity asset materialized on dump D1 of ``lake`` with ``config``'s models: its page's metadata."""
    import dagster as dg

    from assets.perplexity import perplexity
    from orchestration.partitions import DUMP_PARTITIONS_NAME
    from orchestration.resources import ComputeResource, LakeResource

    run_config = {"ops": {"perplexity": {"config": {"references": config.references, "model_dir": config.model_dir}}}}
    with dg.instance_for_test() as instance:  # removes its temporary folder when the test ends
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["D1"])
        result = dg.materialize(
            [perplexity],
            partition_key="D1",
            instance=instance,
            run_config=run_config,
            resources={"lake": LakeResource(root=lake.root), "compute": ComputeResource(workers=1)},
        )
    return result.asset_materializations_for_node("perplexity")[0].metadata


def test_asset_materializes_with_bucket_counts(lake: Lake, config: PerplexityConfig) -> None:
    metadata = materialize_perplexity(lake, config)
    counts = {key: metadata[key].value for key in ("no_model", "head", "middle", "tail")}
    assert counts["no_model"] == 2 and sum(int(str(v)) for v in counts.values()) == 4, counts
    assert lake.read("perplexity").num_rows == 4


def test_cli_scores_every_dump(lake: Lake, config: PerplexityConfig, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from corpuslake.perplexity import cli, stage

    parser = argparse.ArgumentParser()
    cli.add_perplexity_parser(parser.add_subparsers())
    args = parser.parse_args(["perplexity", "--lake", lake.root, "--workers", "1", "--model-dir", config.model_dir])
    with pytest.MonkeyPatch.context() as patch:  # the shipped reference would take seconds to estimate
        # the command imports the stage's config when it runs (the client's command line never loads kenlm)
        patch.setattr(stage, "PerplexityConfig", lambda model_dir: dataclasses.replace(config, model_dir=model_dir))
        assert args.handler(args) == 0
    assert "[D1]: 4 documents" in capsys.readouterr().out and lake.read("perplexity").num_rows == 4


def test_a_definition_selects_by_bucket(lake: Lake, config: PerplexityConfig, tmp_path: Path) -> None:
    from corpuslake.signal_select import SignalJoin
    from corpuslake.snapshots import definition_from_mapping
    from corpuslake.spill import connect, dump_relation

    report = perplexity_dump(lake, "D1", "run-1", config, workers=1, code_version="test")
    buckets = {r["id"]: r["perplexity_bucket"] for r in lake.read("perplexity", report.version).to_pylist()}
    where = [{"table": "perplexity", "column": "perplexity_bucket", "in": ["tail"]}]
    columns = ["id", "dump", "text"]
    definition = definition_from_mapping({"name": "web", "where": where, "columns": columns}, "web.yaml")
    signals, con = SignalJoin(lake, definition), connect(tmp_path / "staging")
    scored = lake.dataset("scored", 0).schema
    relation = signals.join(con, dump_relation(con, lake, "scored", 0, "D1", 0, columns, scored), "D1")
    selected, _ = signals.select(relation, columns)
    assert sorted(r[0] for r in selected.fetchall()) == sorted(i for i, b in buckets.items() if b == "tail")
    assert [str(u) for u in signals.upstream] == [f"perplexity@v{report.version}"]
