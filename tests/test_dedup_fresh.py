"""The dedup cluster step run in a process of its own (what the driver does with more than one worker)
decides exactly as the in-memory union-find reference and as the same step run in the calling process,
on a crafted dump of transitive chains, exact copies and unrelated texts; its failures reach the caller."""

import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from corpuslake.dedup.clusters import ClusterAlarmError
from corpuslake.dedup.pages import APART_FROM, largest_clusters
from corpuslake.dedup.run import ClusterJob, cluster_elsewhere, deduplicate_dump
from corpuslake.fresh import in_fresh_process, run_apart
from corpuslake.inspect.markdown import deduplicated_clusters_markdown
from corpuslake.lineage import Lineage
from corpuslake.schemas import FILTERED
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.store import Lake
from tests.dedup_reference import Earlier, Hashed, cluster_dump, hash_files
from tests.test_dedup_clusters import VOCAB

CHAIN = 9


def chained_dump(rng: random.Random) -> list[str]:
    """Chains of near copies (each link changes one more word, so the ends of a chain share few shingles
    and are joined only through the links), exact copies of chain members, and unrelated texts."""
    texts: list[str] = []
    for _ in range(6):
        words = rng.sample(VOCAB[:5_000], 200)
        for link in range(CHAIN):
            words = list(words)
            words[link * 20 + 7] = rng.choice(VOCAB[5_000:])  # far apart: each change breaks its own shingles
            texts.append(" ".join(words))
        texts.append(texts[-3].upper() + " 2024!")  # an exact copy of a link
    texts += [" ".join(rng.sample(VOCAB, 80)) for _ in range(60)]
    rng.shuffle(texts)
    return texts


def decisions(staging: Path) -> pa.Table:
    table = pads.dataset(staging / "decisions", partitioning="hive").to_table()
    return table.sort_by([("seq", "ascending"), ("row", "ascending")])


def test_the_fresh_process_decides_as_the_reference_and_in_process(tmp_path: Path) -> None:
    config = DedupConfig(batch_rows=37)
    texts = chained_dump(random.Random(5))
    ids = [f"D-{i:05d}" for i in range(len(texts))]
    runs = {}
    for workers in (2, 1):  # a fresh process, then this one
        staging = tmp_path / f"workers-{workers}"
        staging.mkdir()
        files = hash_files(staging, ids, texts, config)
        job = ClusterJob(Lake(str(tmp_path / "lake")), "D", tuple(files), config, str(staging), 1, None)
        outcome = cluster_elsewhere(job, workers)
        runs[workers] = (decisions(staging), outcome.sizes)
        assert outcome.peak_rss > 0
    reference = cluster_dump("D", Hashed.read(files, config), Earlier.none(), config)
    got, sizes = runs[2]
    assert got.equals(runs[1][0]) and sizes == runs[1][1]
    assert got.column("id").to_pylist() == ids
    assert got.column("kept").to_pylist() == reference.kept.tolist()
    assert got.column("cluster_id").to_pylist() == reference.cluster_id
    assert got.column("cluster_size").to_pylist() == reference.cluster_size.tolist()
    assert got.column("kind").to_pylist() == reference.kind
    assert got.column("duplicate_of").to_pylist() == reference.duplicate_of
    assert got.column("duplicate_dump").to_pylist() == reference.duplicate_dump
    assert sizes == reference.clusters_by_size
    # the chains were closed transitively: whole chains and their exact copy in one cluster each
    assert sizes.get(CHAIN + 1, 0) >= 4


def test_a_runaway_cluster_in_the_fresh_process_stops_the_caller(tmp_path: Path) -> None:
    config = DedupConfig(batch_rows=50, max_cluster_size=3)
    texts = chained_dump(random.Random(8))
    files = hash_files(tmp_path, [f"D-{i:05d}" for i in range(len(texts))], texts, config)
    job = ClusterJob(Lake(str(tmp_path / "lake")), "D", tuple(files), config, str(tmp_path), 1, None)
    with pytest.raises(ClusterAlarmError, match="exceeds max_cluster_size=3"):
        cluster_elsewhere(job, 2)


def pid(_: object) -> int:
    return os.getpid()


def test_the_job_runs_in_another_process_unless_one_worker() -> None:
    assert in_fresh_process(pid, None) != os.getpid()
    assert run_apart(pid, None, 2) != os.getpid()
    assert run_apart(pid, None, object()) != os.getpid()  # a Ray executor: never the driver
    assert run_apart(pid, None, 1) == os.getpid()


def filtered_lake(root: Path, texts: list[str]) -> Lake:
    """A lake whose ``filtered`` table holds ``texts`` as one dump, in row groups of 40."""
    lake = Lake(str(root))
    schema = pa.schema([f for f in FILTERED if f.name != "dump"])
    writer = lake.file_writer("filtered", "dump=D/part-0.parquet", schema)
    for at in range(0, len(texts), 40):
        chunk = texts[at : at + 40]
        given = {
            "id": [f"D-{i:05d}" for i in range(at, at + len(chunk))],
            "text": chunk,
            "text_chars": [len(t) for t in chunk],
        }
        writer.write(
            pa.table([pa.array(given.get(f.name, [filler(f)] * len(chunk)), f.type) for f in schema], schema=schema)
        )
    lake.commit_files("filtered", [writer.close()], FILTERED, Lineage("filtered", "D", "t", "t", {}), {"dump": "D"})
    return lake


def filler(field: pa.Field) -> object:
    if pa.types.is_string(field.type):
        return "x"
    return [] if pa.types.is_list(field.type) else 0


def test_the_stage_with_workers_writes_what_it_writes_in_one_process(tmp_path: Path) -> None:
    texts = chained_dump(random.Random(9))
    tables = {}
    for workers in (2, 1):
        lake = filtered_lake(tmp_path / f"lake-{workers}", texts)
        result = deduplicate_dump(lake, "D", "run", DedupConfig(batch_rows=40), workers, "test")
        assert result["clusters_by_size"].get(CHAIN + 1, 0) >= 4
        kept = lake.read("deduplicated", columns=["id", "cluster_id", "cluster_size", "dup_kind"]).sort_by("id")
        index = lake.read("minhash_index", columns=["band", "key", "id"]).sort_by(
            [("id", "ascending"), ("band", "ascending")]
        )
        page = largest_clusters(lake, "D", result["version"], workers, APART_FROM)  # apart with workers
        assert page == deduplicated_clusters_markdown(lake, "D", result["version"])
        tables[workers] = (kept, index, page)
    assert tables[2][0].equals(tables[1][0]) and tables[2][1].equals(tables[1][1])
    assert tables[2][2] == tables[1][2] and "documents" in tables[2][2]
