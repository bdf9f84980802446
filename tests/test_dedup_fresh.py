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
from corpuslake.dedup.fresh import in_fresh_process
from corpuslake.dedup.run import ClusterJob, cluster_elsewhere
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


def test_the_job_runs_in_another_process() -> None:
    assert in_fresh_process(pid, None) != os.getpid()
