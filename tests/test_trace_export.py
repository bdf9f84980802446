"""Tracing a real export of a mixture: ``corpuslake export`` then ``corpuslake trace`` by pin and by folder.

Touches: corpuslake.export and corpuslake.trace on a lake under tmp_path with two dumps of the committed
quality examples, two snapshots (``web@1``, ``web-hq@1``) and a two-phase mixture over them (``mix@1``),
exported as Megatron shards with GPT-2's committed ``tokenizer.json``. The documents a range holds are
computed independently of the sidecar: from megatron-core's reader (each document's length in the
``.idx``) and the mixture's rows in published order without the validation split's ids.
"""

import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpuslake import client
from corpuslake.datasets import publish_mixture, publish_snapshot
from corpuslake.export.pin_export import ExportOptions, export_pin
from corpuslake.export.sidecar import held_out
from corpuslake.mixtures import recipe_from_mapping
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from tests.test_snapshots import texts, tokenizer, write_scored
from tests.test_trace import run_cli

__all__ = ["texts", "tokenizer"]  # the shared fixtures

GPT2 = Path(__file__).resolve().parent.parent / "samples" / "tokenizers" / "gpt2" / "tokenizer.json"
MIX = "corpuslake://mix@1"
FRACTION = 0.1
SEED = "trace-test"
RECIPE = {
    "name": "mix",
    "target_tokens": 30_000,
    "seed": 7,
    "max_epochs": 3,
    "phases": [
        {
            "name": "main",
            "fraction": 0.75,
            "sources": [{"uri": "corpuslake://web@1", "weight": 3}, {"uri": "corpuslake://web-hq@1", "weight": 1}],
        },
        {"name": "anneal", "fraction": 0.25, "sources": [{"uri": "corpuslake://web-hq@1", "weight": 1}]},
    ],
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, texts: list[str], tokenizer: Tokenizer) -> tuple[Lake, Path]:
    root = tmp_path_factory.mktemp("trace-export")
    lake = Lake(str(root / "lake"))
    write_scored(lake, "D1", texts[:120])
    write_scored(lake, "D2", texts[120:240])
    publish_snapshot(lake, SnapshotDefinition(name="web", languages=("en",)), "run", tokenizer)
    publish_snapshot(lake, SnapshotDefinition(name="web-hq", quality_top_percent=25), "run", tokenizer)
    publish_mixture(lake, recipe_from_mapping(RECIPE, "mix.yaml"), "run")
    options = ExportOptions(validation_fraction=FRACTION, validation_seed=SEED, batch_rows=32)
    export_pin(MIX, root / "out", GPT2, options, lake=lake)
    return lake, root / "out"


@pytest.fixture(scope="module")
def stream(exported: tuple[Lake, Path]) -> tuple[list[int], list[dict[str, Any]]]:
    """Each train document's length from megatron-core's reader, and its mixture row, in the shard's order."""
    lake, out = exported
    with warnings.catch_warnings():  # megatron warns that Transformer Engine and Apex are absent
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset  # type: ignore[import-untyped]
    reader = IndexedDataset(str(out / "train"))  # held while its memory-mapped lengths are read
    lengths = [int(n) for n in reader.sequence_lengths]
    rows = client.open(MIX, lake).to_table(["id", "dump", "url", "source"]).to_pylist()
    rows = [r for r, out_ in zip(rows, held_out([r["id"] for r in rows], FRACTION, SEED), strict=True) if not out_]
    assert len(rows) == len(lengths) and len({r["source"] for r in rows}) == 2 and len({r["dump"] for r in rows}) == 2
    return lengths, rows


def _trace(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert run_cli(["trace", *argv, "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_a_traced_range_is_the_documents_the_shard_holds_there(
    exported: tuple[Lake, Path], stream: tuple[list[int], list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, out = exported
    lengths, rows = stream
    owner = np.repeat(np.arange(len(lengths)), lengths)
    total = len(owner)
    for begin, end in ((0, 1), (lengths[0] - 1, lengths[0] + 1), (total // 3, total // 3 + 2500), (total - 9, total)):
        want = sorted(Counter(owner[begin:end].tolist()).items())
        by_pin = _trace([MIX, "--lake", lake.root, "--tokens", f"{begin}:{end}"], capsys)
        assert by_pin == _trace([str(out), "--tokens", f"{begin}:{end}"], capsys)  # the lake records this folder
        documents = by_pin["documents"]
        assert [(d["document_index"], d["tokens_in_range"]) for d in documents] == want
        for document, (index, _) in zip(documents, want, strict=True):
            row = rows[index]
            assert (document["pin"], document["id"], document["dump"], document["url"]) == (
                MIX,
                row["id"],
                row["dump"],
                row["url"],
            )
            assert document["source"] == row["source"].removeprefix("corpuslake://")
        tokens: Counter[str] = Counter()
        for index, inside in want:
            tokens[rows[index]["source"].removeprefix("corpuslake://")] += inside
        assert {k: v["tokens"] for k, v in by_pin["totals"]["source"].items()} == dict(tokens)
        assert by_pin["totals"]["tokens"] == end - begin
        assert set(by_pin["totals"]["quality"]) == {"none"}  # a mixture's rows carry no quality score


def test_samples_of_an_export_and_a_pin_without_an_export(
    exported: tuple[Lake, Path], stream: tuple[list[int], list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, out = exported
    lengths, _ = stream
    owner = np.repeat(np.arange(len(lengths)), lengths)
    traced = _trace([str(out), "--samples", "3:5", "--seq-length", "512"], capsys)
    want = sorted(Counter(owner[3 * 512 : 5 * 512 + 1].tolist()).items())
    assert [(d["document_index"], d["tokens_in_range"]) for d in traced["documents"]] == want
    assert run_cli(["trace", "corpuslake://web@1", "--lake", lake.root, "--tokens", "0:1"]) == 2
    assert "the lake records no export of corpuslake://web@1" in capsys.readouterr().err
