"""Exports of a pin: the trainers' own readers get exactly the pinned documents' tokens, in published order.

Touches: corpuslake.export on a lake under tmp_path with one published snapshot (``web@1``: the committed
quality examples' English rows with urls and quality scores, in files of 40 rows), exported with GPT-2's
committed ``tokenizer.json`` and mistral-common's SentencePiece model. Megatron exports are read with
megatron-core's ``IndexedDataset``, datatrove exports with datatrove's ``DatatroveFileDataset``; the
sidecars, the validation split, identical bytes on re-export (other batch sizes, a pool of two workers),
``verify`` catching a changed byte, and the exports record in the lake.
"""

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpuslake import client
from corpuslake.datasets import publish_snapshot
from corpuslake.export.manifest import MANIFEST, export_id, verify_export
from corpuslake.export.pin_export import ExportOptions, export_pin
from corpuslake.export.registry import exports
from corpuslake.export.sidecar import DOCS, held_out
from corpuslake.export.tokenizer import ExportTokenizer, TokenPolicy
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from tests.test_snapshots import texts, tokenizer, write_scored

__all__ = ["texts", "tokenizer"]  # the shared fixtures

GPT2 = Path(__file__).resolve().parent.parent / "samples" / "tokenizers" / "gpt2" / "tokenizer.json"
PIN = "corpuslake://web@1"
FRACTION = 0.2  # large enough that a small snapshot has a validation split worth checking


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, texts: list[str], tokenizer: Tokenizer) -> Lake:
    store = Lake(str(tmp_path_factory.mktemp("export") / "lake"))
    write_scored(store, "D1", texts[:120], edit=lambda i, t: "" if i == 7 else t)  # one empty document
    publish_snapshot(store, SnapshotDefinition(name="web", languages=("en",)), "run", tokenizer, rows_per_file=40)
    return store


@pytest.fixture(scope="module")
def pinned(lake: Lake) -> pa.Table:
    return client.open(PIN, lake).to_table(["id", "dump", "url", "text", "quality_score"])


def _export(lake: Lake, out: Path, tokenizer: Path | None = GPT2, **options: Any) -> dict[str, Any]:
    settings = {"validation_fraction": FRACTION, "batch_rows": 16} | options
    return export_pin(PIN, out, tokenizer, ExportOptions(**settings), lake=lake)


def _expected(rows: pa.Table, tokenizer: ExportTokenizer, policy: TokenPolicy) -> dict[str, list[int]]:
    """Each id's tokens as the tokenizer alone encodes its text, framed by the policy."""
    encoded = {}
    for row in rows.to_pylist():
        tokens, _ = tokenizer.encode([row["text"]], policy)
        encoded[row["id"]] = tokens.tolist()
    return encoded


def _megatron(prefix: Path) -> list[list[int]]:
    with warnings.catch_warnings():  # megatron warns that Transformer Engine and Apex are absent
        warnings.simplefilter("ignore")
        from megatron.core.datasets.indexed_dataset import IndexedDataset  # type: ignore[import-untyped]
    dataset = IndexedDataset(str(prefix))
    return [dataset[i].tolist() for i in range(len(dataset))]


@pytest.mark.parametrize("tokenizer_file", [GPT2, None], ids=["huggingface-gpt2", "sentencepiece-mistral"])
def test_megatron_reader_reads_the_pinned_documents_in_published_order(
    lake: Lake, pinned: pa.Table, tmp_path: Path, tokenizer_file: Path | None
) -> None:
    manifest = _export(lake, tmp_path / "out", tokenizer_file)
    tokenizer = ExportTokenizer(tokenizer_file)
    expected = _expected(pinned, tokenizer, TokenPolicy())
    validation = set(
        np.array(pinned.column("id").to_pylist())[
            held_out(pinned.column("id").to_pylist(), FRACTION, manifest["options"]["validation_seed"])
        ]
    )
    for split in ("train", "validation"):
        ids = [i for i in pinned.column("id").to_pylist() if (i in validation) == (split == "validation")]
        documents = _megatron(tmp_path / "out" / split)
        assert documents == [expected[i] for i in ids]  # every document, in published order, EOS at its end
        sidecar = pq.read_table(tmp_path / "out" / f"{split}.docs.parquet")
        assert sidecar.schema == DOCS
        assert sidecar.column("id").to_pylist() == ids
        lengths = [len(d) for d in documents]
        assert sidecar.column("token_count").to_pylist() == lengths
        assert sidecar.column("token_offset").to_pylist() == np.concatenate(([0], np.cumsum(lengths)[:-1])).tolist()
        assert manifest["splits"][split]["tokens"] == sum(lengths)
    text_of = dict(zip(pinned.column("id").to_pylist(), pinned.column("text").to_pylist(), strict=True))
    for doc_id, tokens in expected.items():  # the round trip: decoded tokens are the pinned text, then EOS
        assert tokens[-1] == tokenizer.identity.eos_id
        assert tokenizer.decode(tokens[:-1]) == text_of[doc_id]


def test_sidecar_carries_each_documents_provenance(lake: Lake, pinned: pa.Table, tmp_path: Path) -> None:
    _export(lake, tmp_path / "out", validation_fraction=0.0)
    sidecar = pq.read_table(tmp_path / "out" / "train.docs.parquet").to_pylist()
    rows = {r["id"]: r for r in pinned.to_pylist()}
    # The empty document has one token (its EOS): it is a document of the shard like any other.
    assert [s["id"] for s in sidecar] == list(rows) and [s["document_index"] for s in sidecar] == list(range(len(rows)))
    for side in sidecar:
        row = rows[side["id"]]
        assert (side["pin"], side["source"], side["dump"], side["url"]) == (PIN, "web@1", row["dump"], row["url"])
        assert side["quality"] == pytest.approx(row["quality_score"])


def test_no_eos_leaves_out_empty_documents_and_bos_starts_each(lake: Lake, pinned: pa.Table, tmp_path: Path) -> None:
    bare = _export(lake, tmp_path / "bare", policy=TokenPolicy(append_eos=False), validation_fraction=0.0)
    assert bare["splits"]["train"]["documents"] == pinned.num_rows - 1
    assert bare["splits"]["train"]["empty_documents_left_out"] == 1
    framed = _export(lake, tmp_path / "framed", None, policy=TokenPolicy(append_eos=True, prepend_bos=True))
    assert framed["options"] | {"append_eos": True, "prepend_bos": True} == framed["options"]
    assert all(d[0] == 1 and d[-1] == 2 for d in _megatron(tmp_path / "framed" / "train"))  # SentencePiece <s>, </s>


def test_sentencepiece_export_agrees_with_the_catalogs_token_count(lake: Lake, tmp_path: Path) -> None:
    # The snapshot was counted at publication with the same SentencePiece model: without EOS the export's
    # tokens are exactly the catalog's.
    manifest = _export(lake, tmp_path / "out", None, policy=TokenPolicy(append_eos=False))
    exported = sum(split["tokens"] for split in manifest["splits"].values())
    assert exported == client.open(PIN, lake).entry.tokens


def test_datatrove_reader_reads_the_same_token_stream(lake: Lake, pinned: pa.Table, tmp_path: Path) -> None:
    from datatrove.utils.dataset import DatatroveFileDataset

    _export(lake, tmp_path / "mega")
    manifest = _export(lake, tmp_path / "ds", fmt="datatrove")
    assert manifest["options"]["dtype"] == "uint16"
    documents = _megatron(tmp_path / "mega" / "train")
    stream = [t for d in documents for t in d]
    dataset = DatatroveFileDataset(str(tmp_path / "ds" / "train.ds"), seq_len=len(stream) - 1, return_positions=True)
    assert len(dataset) == 1
    sample = dataset[0]
    assert sample["input_ids"].tolist() == stream  # the whole split as one window: every token, in order
    starts = np.concatenate(([0], np.cumsum([len(d) for d in documents])[:-1]))
    assert (sample["positions"].numpy()[starts] == 0).all()  # positions restart at each document (.ds.index)
    assert sorted(manifest["files"]) == sorted(
        [f"{s}.{x}" for s in ("train", "validation") for x in ("ds", "ds.index", "ds.metadata", "docs.parquet")]
    )


@pytest.mark.slow
def test_same_inputs_give_identical_bytes_whatever_the_batches_and_workers(lake: Lake, tmp_path: Path) -> None:
    first = _export(lake, tmp_path / "a")
    again = _export(lake, tmp_path / "b", batch_rows=7, workers=2)
    assert first == again  # same manifest: same export_id, same digest of every file
    for name in first["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()
    assert _export(lake, tmp_path / "c", validation_seed="other")["export_id"] != first["export_id"]


def test_verify_catches_a_changed_byte(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _export(lake, out)
    assert verify_export(out) == []
    data = bytearray((out / "train.bin").read_bytes())
    data[10] ^= 1
    (out / "train.bin").write_bytes(bytes(data))
    assert verify_export(out) == [f"{out / 'train.bin'} was altered: its SHA-256 differs from {MANIFEST}"]
    (out / "stray.txt").write_text("x")
    assert f"{out / 'stray.txt'} is not listed in {MANIFEST}" in verify_export(out)


def test_validation_split_is_deterministic_and_disjoint(lake: Lake, pinned: pa.Table, tmp_path: Path) -> None:
    manifest = _export(lake, tmp_path / "out")
    ids = {
        s: pq.read_table(tmp_path / "out" / f"{s}.docs.parquet").column("id").to_pylist()
        for s in ("train", "validation")
    }
    assert not set(ids["train"]) & set(ids["validation"])
    assert sorted(ids["train"] + ids["validation"]) == sorted(pinned.column("id").to_pylist())
    assert 0 < len(ids["validation"]) < len(ids["train"])
    all_ids = pinned.column("id").to_pylist()
    assert held_out(all_ids, FRACTION, "s").tolist() == held_out(all_ids, FRACTION, "s").tolist()
    # A larger fraction keeps every id the smaller one held out (the hash is the same, the bar higher).
    small, large = held_out(all_ids, 0.1, "s"), held_out(all_ids, 0.5, "s")
    assert (large | ~small).all() and large.sum() > small.sum()
    assert manifest["splits"]["validation"]["documents"] == len(ids["validation"])


def test_export_is_recorded_in_the_lake_with_its_manifest(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = _export(lake, out)
    on_disk = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert on_disk == manifest and export_id(on_disk) == manifest["export_id"]
    assert list(on_disk) == sorted(on_disk)
    mine = [r for r in exports(lake, PIN) if r["location"] == str(out.resolve())]
    assert len(mine) == 1
    record = mine[0]
    assert record["export_id"] == manifest["export_id"]
    assert record["tokenizer_sha256"] == ExportTokenizer(GPT2).identity.sha256
    assert (record["format"], record["files"], record["options"]) == (
        "megatron",
        manifest["files"],
        manifest["options"],
    )
