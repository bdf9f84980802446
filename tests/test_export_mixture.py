"""Exporting a mixture pin: its own rows like a snapshot's, its sources' exports, and its blends.

Touches: corpuslake.export on the mixtures tests' lake (``web@1`` and ``web-hq@1`` from the committed
quality examples) with a two-phase mixture ``mix@1`` published over them, exported with GPT-2's
``tokenizer.json``. Checks the sidecar's sources and order, each source's own export, the blend weights
(train tokens per phase and source under the export's tokenizer) and that every Megatron path prefix of
``blend.megatron.txt`` is a dataset megatron-core's reader opens.
"""

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpuslake import client
from corpuslake.datasets import publish_mixture
from corpuslake.export.manifest import read_manifest, verify_export
from corpuslake.export.pin_export import ExportOptions, export_pin
from corpuslake.export.sidecar import held_out
from corpuslake.mixtures import recipe_from_mapping
from corpuslake.store import Lake
from tests.test_export import GPT2, _megatron
from tests.test_mixtures import lake, recipe
from tests.test_snapshots import texts, tokenizer

__all__ = ["lake", "texts", "tokenizer"]  # the shared fixtures

FRACTION = 0.1


@pytest.fixture
def exported(lake: Lake, tmp_path: Path) -> Path:
    publish_mixture(lake, recipe_from_mapping(recipe(), "mix.yaml"), "run")
    out = tmp_path / "out"
    export_pin("corpuslake://mix@1", out, GPT2, ExportOptions(validation_fraction=FRACTION, batch_rows=32), lake=lake)
    return out


def test_mixture_exports_its_rows_sources_and_blends(lake: Lake, exported: Path) -> None:
    rows = client.open("corpuslake://mix@1", lake).to_table(["id", "phase", "source"]).to_pylist()
    seed = read_manifest(exported)["options"]["validation_seed"]
    train = [r for r, out in zip(rows, held_out([r["id"] for r in rows], FRACTION, seed), strict=True) if not out]
    sidecar = pq.read_table(exported / "train.docs.parquet").to_pylist()
    # The mixture's rows in their published order; each row's source is the snapshot it was drawn from.
    assert [s["id"] for s in sidecar] == [r["id"] for r in train]
    assert [s["source"] for s in sidecar] == [r["source"].removeprefix("corpuslake://") for r in train]
    assert {s["pin"] for s in sidecar} == {"corpuslake://mix@1"}
    assert verify_export(exported) == []

    tokens: Counter[tuple[str, str]] = Counter()
    for row, side in zip(train, sidecar, strict=True):
        tokens[(row["phase"], row["source"])] += side["token_count"]
    blend = json.loads((exported / "blend.json").read_text(encoding="utf-8"))
    assert [p["name"] for p in blend["phases"]] == ["main", "anneal"]
    lines = (exported / "blend.megatron.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for phase, line in zip(blend["phases"], lines, strict=True):
        total = sum(tokens[(phase["name"], s["pin"])] for s in phase["sources"])
        assert phase["tokens"] == total
        for source in phase["sources"]:
            assert source["tokens"] == tokens[(phase["name"], source["pin"])]
            assert source["weight"] == pytest.approx(source["tokens"] / total)
            assert source["prefix"] == f"sources/{source['pin'].removeprefix('corpuslake://')}/train"
        words = line.split()
        assert [float(w) for w in words[0::2]] == pytest.approx([s["weight"] for s in phase["sources"]])
        for prefix in words[1::2]:
            assert _megatron(exported / prefix)  # a dataset megatron-core opens, with documents


def test_each_source_is_exported_with_its_own_manifest(lake: Lake, exported: Path) -> None:
    for name in ("web@1", "web-hq@1"):
        folder = exported / "sources" / name
        manifest = read_manifest(folder)
        assert manifest["pin"] == f"corpuslake://{name}"
        assert verify_export(folder) == []
        ids = client.open(f"corpuslake://{name}", lake).to_table(["id"]).column("id").to_pylist()
        train = [
            i
            for i, out in zip(ids, held_out(ids, FRACTION, manifest["options"]["validation_seed"]), strict=True)
            if not out
        ]
        assert pq.read_table(folder / "train.docs.parquet").column("id").to_pylist() == train
        assert len(_megatron(folder / "train")) == len(train)
