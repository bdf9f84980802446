"""Streaming publication against small in-memory references: the same rows, in the same order.

Touches: corpuslake.selection (DuckDB selection, policies, cross-dump pass), corpuslake.quality.select
(the two-pass top-percent cut), corpuslake.ordered and corpuslake.publish (worker-written files, the
content hash of stored files), corpuslake.mixtures (draw on ids and tokens, rows fetched in position
order), on lakes under tmp_path whose ``scored`` tables are written from the committed quality examples.
The references here read whole tables into memory, as publishing did before it streamed.
"""

import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from corpuslake import client, datasets
from corpuslake.content import content_sha256, files_content_sha256
from corpuslake.datasets import publish_mixture, publish_snapshot
from corpuslake.dedup.normalize import normalize_text
from corpuslake.lineage import Lineage
from corpuslake.mixtures import MIXTURE, MixtureRecipe, _mix, _salt, _Stream, recipe_from_mapping
from corpuslake.policies import pii
from corpuslake.policies.run import CONTENT_SIGNALS
from corpuslake.quality.select import top_percent_cut, top_percent_threshold
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from tests.test_snapshots import texts, tokenizer, write_scored

__all__ = ["texts", "tokenizer"]  # the shared fixtures


def reference_selection(lake: Lake, definition: SnapshotDefinition, tokenizer: Tokenizer) -> pa.Table:
    """The rows a definition selects, in memory: filters, a sorted top percent, id order, tokens."""
    rows = lake.read(definition.source, dumps=definition.dumps)
    if definition.languages is not None:
        rows = rows.filter(pc.is_in(rows["language"], value_set=pa.array(definition.languages, pa.string())))
    if definition.quality_threshold is not None:
        rows = rows.filter(pc.greater_equal(rows["quality_score"], definition.quality_threshold))
    elif definition.quality_top_percent is not None:
        scores, ids = rows["quality_score"].to_pylist(), rows["id"].to_pylist()
        count = math.ceil(len(ids) * definition.quality_top_percent / 100)
        kept = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:count]
        rows = rows.take(pa.array(sorted(kept), pa.int64()))
    rows = rows.select(list(definition.columns)).sort_by("id")
    if definition.redact_pii:
        rows = rows.set_column(
            rows.schema.get_field_index("text"), "text", pa.array([pii.redact(t) for t in rows["text"].to_pylist()])
        )
    return rows.append_column("tokens", tokenizer.count(rows["text"]))


@pytest.mark.parametrize(
    "settings",
    [
        {"languages": ("en",), "quality_threshold": 0.3},  # a threshold after a language filter
        {"quality_top_percent": 25},  # ties at the cut (scores repeat every 100 documents), broken by id
        {"languages": ("en", "fr"), "quality_top_percent": 100, "columns": ("id", "dump", "text", "quality_score")},
    ],
)
def test_streamed_selection_equals_the_in_memory_one(
    tmp_path: Path, texts: list[str], tokenizer: Tokenizer, settings: dict[str, Any]
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:180])
    definition = SnapshotDefinition(name="web", **settings)
    entry = publish_snapshot(lake, definition, "run", tokenizer, rows_per_file=13).entry
    published = client.open(entry.uri, lake).to_table()
    expected = reference_selection(lake, definition, tokenizer)
    assert published.equals(expected)
    assert entry.content_sha256 == content_sha256(expected)  # the stored files hash as the rows do
    assert entry.tokens == sum(expected["tokens"].to_pylist()) and len(entry.manifest) == math.ceil(len(expected) / 13)


def test_workers_in_processes_write_the_same_files_content(
    tmp_path: Path, texts: list[str], tokenizer: Tokenizer
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:120])
    definition = SnapshotDefinition(name="web", quality_top_percent=50)
    pooled = publish_snapshot(lake, definition, "run", tokenizer, rows_per_file=11, workers=2).entry
    assert client.open(pooled.uri, lake).to_table().equals(reference_selection(lake, definition, tokenizer))
    again = publish_snapshot(lake, definition, "run", tokenizer, rows_per_file=7, workers=1)
    assert not again.new  # other file sizes, same content: no new number


@pytest.mark.parametrize("percent", [0.5, 10, 33.3, 50, 99.9, 100])
def test_the_two_pass_cut_keeps_what_the_sorted_cut_keeps(tmp_path: Path, percent: float) -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 20, 997).astype(np.float32) / 20  # many ties at every score
    ids = [f"{rng.integers(0, 10**9):09d}-{i}" for i in range(997)]
    table = pa.table({"id": ids, "quality_score": pa.array(scores, pa.float32())})
    con = duckdb.connect()
    con.from_arrow(table).create_view("rows")
    cut = top_percent_cut(con, "rows", percent)
    threshold, keep = top_percent_threshold(scores, ids, percent)
    kept = {
        i for i, s in zip(ids, scores.tolist(), strict=True) if s > cut.score or (s == cut.score and i <= cut.last_id)
    }
    assert (cut.score, kept) == (threshold, keep)


def test_policies_redact_in_the_workers(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    mailed = {3: "write to jane.doe@example.net today", 8: "or call bob@corp.example.org"}
    write_scored(lake, "D1", texts[:40], edit=lambda i, t: f"{t} {mailed[i]}" if i in mailed else t)
    rows = lake.read("scored", columns=["id", "dump", "text"]).to_pylist()
    signals = [
        {f.name: 0 for f in CONTENT_SIGNALS}
        | {"id": r["id"], "dump": r["dump"], "badword_list": None, "badword_rate": 0.0, "contaminated": []}
        | {"contamination": "{}", "adult_url": False, "pii_emails": int("@" in r["text"])}
        for r in rows
    ]
    table = pa.Table.from_pylist(signals, schema=CONTENT_SIGNALS)
    lake.write_partition("content_signals", table, Lineage("content_signals", "D1", "t", "t", {}), {"dump": "D1"})
    definition = SnapshotDefinition(name="clean", redact_pii=True, quality_threshold=0.0)
    entry = publish_snapshot(lake, definition, "run", tokenizer, rows_per_file=9).entry
    published = client.open(entry.uri, lake).to_table()
    assert published.equals(reference_selection(lake, definition, tokenizer))
    assert entry.report["pii_redacted_documents"] == sum("@" in r["text"] for r in rows) >= 2
    assert not any("jane.doe" in t for t in published["text"].to_pylist())


def _planted(lake: Lake, texts: list[str]) -> None:
    """D1 and D2 with planted duplicates: D2 re-crawls five D1 pages (same text up to case, digits and
    punctuation, new URL) and one D1 URL with a new text."""
    write_scored(lake, "D1", texts[:60])
    copies = {2: 10, 5: 11, 7: 20, 11: 33, 13: 41}  # D2 row -> the D1 row it copies

    def edit(i: int, text: str) -> str:
        return texts[copies[i]].upper().replace(".", " !") if i in copies else text

    write_scored(lake, "D2", texts[60:100], edit=edit)
    table = lake.read("scored", dumps=["D2"])
    urls = table["url"].to_pylist()
    urls[17] = "https://example.org/D1/3"  # a URL D1 already has, with another text
    table = table.set_column(table.schema.get_field_index("url"), "url", pa.array(urls, pa.string()))
    lake.write_partition("scored", table, Lineage("scored", "D2", "t", "t", {}), {"dump": "D2"})


def test_cross_dump_duplicates_are_dropped_by_default(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _planted(lake, texts)
    both = publish_snapshot(lake, SnapshotDefinition(name="web", quality_threshold=0.0), "run", tokenizer).entry
    rows = client.open(both.uri, lake).to_table()
    normalized = [normalize_text(t) for t in rows["text"].to_pylist()]
    assert len(set(normalized)) == len(normalized) and len(set(rows["url"].to_pylist())) == rows.num_rows
    assert both.report["cross_dump"] == {"duplicates": "drop", "same_text": 5, "same_url": 1}
    assert rows.num_rows == 100 - 6 and both.report["steps"]["after_cross_dump"] == 94
    first = {r["url"]: r["dump"] for r in rows.to_pylist()}
    assert first["https://example.org/D1/3"] == "D1"  # the first dump's copy wins
    assert rows["id"].to_pylist() == sorted(rows["id"].to_pylist())

    kept = SnapshotDefinition(name="all", quality_threshold=0.0, cross_dump_duplicates="keep")
    assert publish_snapshot(lake, kept, "run", tokenizer).entry.documents == 100


def test_the_selection_runs_in_a_process_of_its_own_with_the_same_rows(
    tmp_path: Path, texts: list[str], tokenizer: Tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _planted(lake, texts)
    here = publish_snapshot(lake, SnapshotDefinition(name="here", quality_threshold=0.0), "run", tokenizer).entry

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("the selection ran in the publishing process")

    monkeypatch.setattr(datasets, "select_snapshot", not_here)  # the spawned process imports its own copy
    apart = publish_snapshot(
        lake, SnapshotDefinition(name="apart", quality_threshold=0.0), "run", tokenizer, workers=2
    ).entry
    assert apart.content_sha256 == here.content_sha256 and apart.documents == here.documents == 94
    assert apart.report["cross_dump"] == here.report["cross_dump"] and apart.tokens == here.tokens
    with pytest.raises(AssertionError, match="publishing process"):  # one worker: selected in this process
        publish_snapshot(lake, SnapshotDefinition(name="here-again", quality_threshold=0.0), "run", tokenizer)


def reference_mixture(lake: Lake, recipe: MixtureRecipe) -> pa.Table:
    """A recipe's rows drawn in memory from whole source tables, as mixtures were built before."""
    tables = {
        uri: client.open(uri, lake).to_table() for uri in sorted({s.uri for p in recipe.phases for s in p.sources})
    }
    streams: dict[tuple[str, float | None], _Stream] = {}
    phases = []
    for phase in recipe.phases:
        weights = sum(s.weight for s in phase.sources)
        parts = []
        for source in phase.sources:
            table = tables[source.uri]
            if (source.uri, source.min_quality) not in streams:
                eligible = pc.greater(table["tokens"], 0)
                if source.min_quality is not None:
                    eligible = pc.and_(eligible, pc.greater_equal(table["quality_score"], source.min_quality))
                indices = np.flatnonzero(eligible.to_numpy(zero_copy_only=False))
                tokens = table["tokens"].to_numpy()[indices].astype(np.int64)
                keys = _keys(table["id"].take(pa.array(indices)).to_pylist())
                uri = source.uri + ("" if source.min_quality is None else f"?min_quality={source.min_quality}")
                cap = (source.max_epochs or recipe.max_epochs) * float(tokens.sum())
                streams[(source.uri, source.min_quality)] = _Stream(uri, recipe.seed, indices, keys, tokens, cap)
            rows, epochs, _, _ = streams[(source.uri, source.min_quality)].take(
                recipe.target_tokens * phase.fraction * source.weight / weights
            )
            part = table.take(pa.array(rows, pa.int64()))
            n = part.num_rows
            parts.append(
                pa.table(
                    {"position": pa.array(np.zeros(n, np.int64)), "phase": [phase.name] * n, "source": [source.uri] * n}
                    | {"epoch": pa.array(epochs, pa.int32())}
                    | {
                        c: part[c] if c in part.column_names else pa.nulls(n)
                        for c in ("id", "dump", "url", "language", "text", "tokens")
                    },
                ).cast(MIXTURE)
            )
        rows_table = pa.concat_tables(parts)
        ids, epochs_, sources = (rows_table[c].to_pylist() for c in ("id", "epoch", "source"))
        keys = _keys([f"{i}/{e}/{s}" for i, e, s in zip(ids, epochs_, sources, strict=True)])
        phases.append(
            rows_table.take(pa.array(np.lexsort((keys, _mix(keys, _salt(recipe.seed, "phase", phase.name))))))
        )
    rows_all = pa.concat_tables(phases)
    return rows_all.set_column(0, "position", pa.array(np.arange(rows_all.num_rows, dtype=np.int64)))


def _keys(values: list[str]) -> np.ndarray:
    import hashlib

    return np.array(
        [int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little") for v in values], np.uint64
    )


def test_streamed_mixture_equals_the_in_memory_draw(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_scored(lake, "D1", texts[:150])
    publish_snapshot(lake, SnapshotDefinition(name="web", languages=("en",)), "run", tokenizer, rows_per_file=17)
    publish_snapshot(lake, SnapshotDefinition(name="hq", quality_top_percent=25), "run", tokenizer, rows_per_file=9)
    publish_snapshot(lake, SnapshotDefinition(name="fr", languages=("fr",)), "run", tokenizer)
    recipe = recipe_from_mapping(
        {
            "name": "mix",
            "target_tokens": 60_000,
            "seed": 11,
            "max_epochs": 3,
            "phases": [
                {
                    "name": "main",
                    "fraction": 0.7,
                    "sources": [
                        {"uri": "corpuslake://web@1", "weight": 2},
                        {"uri": "corpuslake://hq@1", "weight": 1},
                        {"uri": "corpuslake://fr@1", "weight": 1, "min_quality": 0.3},
                    ],
                },
                {"name": "anneal", "fraction": 0.3, "sources": [{"uri": "corpuslake://hq@1"}]},
            ],
        },
        "mix.yaml",
    )
    entry = publish_mixture(lake, recipe, "run", rows_per_file=50).entry
    published = client.open(entry.uri, lake).to_table()
    expected = reference_mixture(lake, recipe)
    assert published.num_rows > 100 and set(published["epoch"].to_pylist()) >= {0, 1}  # hq repeats
    assert content_sha256(published) == content_sha256(expected) == entry.content_sha256
    assert published.equals(expected.cast(MIXTURE))  # built in memory, position was a nullable column


def test_files_content_hash_reads_column_by_column(tmp_path: Path) -> None:
    rows = pa.table({"id": [f"{i:04d}" for i in range(50)], "text": [f'line\n{i} "q" é' for i in range(50)]})
    paths = []
    for index, start in enumerate(range(0, 50, 16)):
        path = tmp_path / f"{index}.parquet"
        pq.write_table(rows.slice(start, 16), path)
        paths.append(path)
    assert files_content_sha256(paths, rows.schema) == content_sha256(rows)


@pytest.fixture
def s3_lake(tmp_path: Path) -> Iterator[Lake]:
    """A lake at ``s3://publish/lake`` on moto's S3 server (its own process on loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                "AWS_ALLOW_HTTP": "true",
            }.items():
                env.setenv(name, value)
            for _ in range(100):
                try:
                    boto3.client("s3").create_bucket(Bucket="publish")
                    break
                except Exception:  # the server is still starting
                    time.sleep(0.1)
            yield Lake("s3://publish/lake", cache=str(tmp_path / "cache"))
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_an_object_store_lake_publishes_the_same_content(
    s3_lake: Lake, tmp_path: Path, texts: list[str], tokenizer: Tokenizer
) -> None:
    """DuckDB cannot open s3:// paths offline: the files stream to it through Arrow's filesystems."""
    local = Lake(str(tmp_path / "lake"))
    definition = SnapshotDefinition(name="web", quality_top_percent=40)
    entries = []
    for lake in (local, s3_lake):
        _planted(lake, texts)
        entries.append(publish_snapshot(lake, definition, "run", tokenizer, rows_per_file=10).entry)
    assert entries[0].content_sha256 == entries[1].content_sha256 and entries[1].report["cross_dump"]["same_text"]
    assert client.open(entries[1].uri, s3_lake).to_table().equals(client.open(entries[0].uri, local).to_table())
