"""The torch dataset over a published snapshot: the global sample order, each rank's and worker's share, and
elastic resume.

Checks that ``Share`` gives every global sample after the start to exactly one (rank, worker) and that a
rank's blocks taken from its workers in turn are its samples in order; that the seeded order is a
permutation that does not depend on the world size; that a DataLoader with two spawned workers yields each
rank's samples (``start + r``, ``start + r + w``, ...) in published order; that a run that consumed ``k``
samples with two ranks of two workers resumes at global sample ``k`` with three ranks of one worker and with
one rank of three workers, everything consumed being every sample once; and that a saved position is refused
by another snapshot or order. The snapshot (503 rows in files of 37) is published under tmp_path.
"""

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch.utils.data

import corpuslake.client
from corpuslake.client import Snapshot
from corpuslake.sample_order import Share, file_order, rows_in_file, seeded_permutation
from corpuslake.store import Lake
from corpuslake.torch_dataset import SnapshotDataset
from tests.published import publish_rows

ROWS = 503  # not a multiple of the file size, the block size or the number of ranks
ROWS_PER_FILE = 37
BLOCK_ROWS = 16
SEED = 20240


def _rows(count: int, tag: str) -> pa.Table:
    ids = [f"{tag}-{i:05d}" for i in range(count)]
    texts = [f"document {i} of {tag}: " + "word " * (i % 7 + 1) for i in range(count)]
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "dump": pa.array([f"DUMP-{i % 3}" for i in range(count)], pa.string()),
            "text": pa.array(texts, pa.string()),
            "tokens": pa.array([len(t.split()) for t in texts], pa.int32()),
        }
    ).sort_by("id")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, str, str, pa.Table]:
    """A lake with two snapshots: ``web@1`` (the rows returned) and ``other@1``; their URIs."""
    lake = Lake(str(tmp_path_factory.mktemp("torch") / "lake"))
    rows = _rows(ROWS, "doc")
    uri = publish_rows(lake, "web", rows, ROWS_PER_FILE)
    other = publish_rows(lake, "other", _rows(50, "else"), ROWS_PER_FILE)
    return lake, uri, other, rows


@pytest.fixture(scope="module")
def snapshot(published: tuple[Lake, str, str, pa.Table]) -> Snapshot:
    lake, uri, _, _ = published
    return corpuslake.client.open(uri, lake)


@pytest.fixture(scope="module")
def ids(published: tuple[Lake, str, str, pa.Table]) -> list[str]:
    """The published ids in published order."""
    return [str(i) for i in published[3]["id"].to_pylist()]


def _as_list(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A collate function that keeps a batch as its rows (module level: spawned workers unpickle it)."""
    return batch


def _loader(dataset: SnapshotDataset, workers: int) -> Iterator[list[dict[str, Any]]]:
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=dataset.block_rows,
        num_workers=workers,
        multiprocessing_context="spawn" if workers else None,
        collate_fn=_as_list,
        timeout=120 if workers else 0,
    )
    return iter(loader)


def _in_process(dataset: SnapshotDataset, workers: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids a DataLoader with ``workers`` workers yields, its workers run here one after the other: each
    worker's rows in blocks of ``block_rows``, one block from each worker in turn, as the DataLoader fetches."""
    per_worker = []
    for worker in range(workers):
        info = SimpleNamespace(id=worker, num_workers=workers)
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
        rows = [str(r["id"]) for r in dataset]
        per_worker.append([rows[at : at + dataset.block_rows] for at in range(0, len(rows), dataset.block_rows)])
    monkeypatch.undo()
    turns = [per_worker[k % workers][k // workers] for k in range(sum(map(len, per_worker)))]
    return [i for block in turns for i in block]


@pytest.mark.parametrize("total", [0, 1, 7, 503])
@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_shares_deal_every_sample_after_the_start_once(total: int, world_size: int, workers: int) -> None:
    samples = np.arange(total, dtype=np.int64)
    for start in sorted({0, min(1, total), total // 2, max(total - 1, 0), total}):
        for block in (1, 5, 16):
            seen: list[int] = []
            for rank in range(world_size):
                shares = [Share(total, start, rank, world_size, block, w, workers) for w in range(workers)]
                mine = [samples[share.mine(samples)].tolist() for share in shares]
                for share, own in zip(shares, mine, strict=True):
                    first, stop = share.span()
                    assert all(first <= s < stop for s in own) and (first == stop) == (not own)
                    assert not own or (own[0], own[-1] + 1) == (first, stop)
                blocks = [[own[at : at + block] for at in range(0, len(own), block)] for own in mine]
                turns = [blocks[k % workers][k // workers] for k in range(sum(map(len, blocks)))]
                walked = [s for b in turns for s in b]
                # the rank's samples in order: start + rank, start + rank + world_size, ...
                assert walked == list(range(start + rank, total, world_size)) == sorted(walked)
                assert len(walked) == shares[0].rank_samples()
                seen.extend(walked)
            assert sorted(seen) == list(range(start, total))


def test_a_bad_share_is_refused() -> None:
    for rank, world_size in ((-1, 2), (2, 2), (0, 0)):
        with pytest.raises(ValueError, match="rank must be in"):
            Share(10, 0, rank, world_size, 4)
    for start in (-1, 11):
        with pytest.raises(ValueError, match="outside the stream"):
            Share(10, start, 0, 1, 4)
    with pytest.raises(ValueError, match="block_rows"):
        Share(10, 0, 0, 1, 0)
    with pytest.raises(ValueError, match="worker must be in"):
        Share(10, 0, 0, 1, 4, worker=2, workers=2)


def test_the_seeded_order_is_a_fixed_permutation_of_files_and_rows() -> None:
    permutation = seeded_permutation(SEED, 3, 100)
    assert sorted(permutation.tolist()) == list(range(100)) and permutation.tolist() != list(range(100))
    assert seeded_permutation(SEED, 3, 100).tolist() == permutation.tolist()  # the same order every time
    assert seeded_permutation(SEED + 1, 3, 100).tolist() != permutation.tolist()
    assert seeded_permutation(SEED, 4, 100).tolist() != permutation.tolist()
    # a value pinned here: the order is part of a saved position and must not change between releases
    assert seeded_permutation(7, 0, 6).tolist() == [1, 5, 0, 4, 3, 2]
    file_rows = [37] * 13 + [22]
    for seed in (None, SEED):
        spans = file_order(file_rows, seed)
        rows = [span.first_row + r for span in spans for r in rows_in_file(span, seed).tolist()]
        assert sorted(rows) == list(range(sum(file_rows)))
        assert [s.first_sample for s in spans] == np.cumsum([0] + [s.rows for s in spans])[:-1].tolist()
        assert (rows == list(range(sum(file_rows)))) == (seed is None)


def test_dataset_refuses_a_bad_rank_or_start(snapshot: Snapshot) -> None:
    with pytest.raises(ValueError, match="rank must be in"):
        SnapshotDataset(snapshot, rank=3, world_size=3)
    with pytest.raises(ValueError, match="outside the stream"):
        SnapshotDataset(snapshot, start_sample=ROWS + 1)
    assert len(SnapshotDataset(snapshot, rank=1, world_size=3, start_sample=ROWS)) == 0
    assert len(SnapshotDataset(snapshot, rank=1, world_size=3, start_sample=ROWS - 2)) == 1
    assert list(SnapshotDataset(snapshot, rank=1, world_size=3, start_sample=ROWS)) == []


def test_snapshot_spans_several_files(snapshot: Snapshot) -> None:
    assert len(snapshot.entry.manifest) == -(-ROWS // ROWS_PER_FILE)
    assert snapshot.entry.documents == ROWS


def test_ranks_take_every_wth_sample_in_published_order_whatever_the_workers(
    snapshot: Snapshot, ids: list[str], published: tuple[Lake, str, str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = dict(zip(ids, published[3]["text"].to_pylist(), strict=True))
    for world_size, start in ((1, 0), (3, 0), (2, 101)):
        for rank in range(world_size):
            dataset = SnapshotDataset(
                snapshot, rank=rank, world_size=world_size, block_rows=BLOCK_ROWS, start_sample=start
            )
            first = list(dataset)
            assert [r["id"] for r in first] == ids[start + rank :: world_size] and len(dataset) == len(first)
            assert all(r["text"] == texts[r["id"]] for r in first)
            assert list(dataset) == first  # the same rows in the same order again
            for workers in (2, 3):
                assert _in_process(dataset, workers, monkeypatch) == ids[start + rank :: world_size]


def test_the_shuffled_order_does_not_depend_on_the_world_size_or_workers(
    snapshot: Snapshot, ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    order = [r["id"] for r in SnapshotDataset(snapshot, columns=["id"], shuffle_seed=SEED)]
    assert sorted(order) == ids and order != ids
    assert order != [r["id"] for r in SnapshotDataset(snapshot, columns=["id"], shuffle_seed=SEED + 1)]
    for world_size, workers in ((2, 2), (3, 1), (1, 3)):
        for rank in range(world_size):
            dataset = SnapshotDataset(
                snapshot, rank=rank, world_size=world_size, block_rows=5, columns=["id"], shuffle_seed=SEED
            )
            assert _in_process(dataset, workers, monkeypatch) == order[rank::world_size]


def _consume(
    datasets: list[SnapshotDataset], per_rank: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """The first ``per_rank`` samples of each rank, as a DataLoader with ``workers`` workers yields them."""
    return [i for dataset in datasets for i in _in_process(dataset, workers, monkeypatch)[:per_rank]]


@pytest.mark.parametrize("seed", [None, SEED])
def test_a_run_resumes_at_the_next_global_sample_with_other_ranks_and_workers(
    snapshot: Snapshot, ids: list[str], seed: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = ids if seed is None else [r["id"] for r in SnapshotDataset(snapshot, columns=["id"], shuffle_seed=seed)]
    first = [
        SnapshotDataset(snapshot, rank=r, world_size=2, block_rows=BLOCK_ROWS, columns=["id"], shuffle_seed=seed)
        for r in range(2)
    ]
    per_rank = 3 * BLOCK_ROWS - 5  # a checkpoint in the middle of a block: the rest of it was not trained on
    consumed = _consume(first, per_rank, 2, monkeypatch)
    k = 2 * per_rank
    assert sorted(consumed) == sorted(order[:k])  # two ranks together consumed the first k samples
    state = first[0].state_dict(per_rank)
    assert state["next_sample"] == k and state == first[1].state_dict(per_rank)
    for world_size, workers in ((3, 1), (1, 3)):
        resumed = [
            SnapshotDataset.from_state(snapshot, state, rank=r, world_size=world_size, block_rows=7, columns=["id"])
            for r in range(world_size)
        ]
        assert [d.start_sample for d in resumed] == [k] * world_size
        rest = [_in_process(d, workers, monkeypatch) for d in resumed]
        assert rest[0][0] == order[k]  # the resumed run starts at global sample k
        assert all(got == order[k + r :: world_size] for r, got in enumerate(rest))
        everything = consumed + [i for got in rest for i in got]
        assert sorted(everything) == ids and len(set(everything)) == ROWS  # every sample exactly once
    # a second checkpoint counts from the resume position
    again = SnapshotDataset.from_state(snapshot, state, world_size=3, columns=["id"])
    assert again.state_dict(10)["next_sample"] == k + 30


def test_a_saved_position_is_refused_by_another_snapshot_or_order(
    snapshot: Snapshot, published: tuple[Lake, str, str, pa.Table]
) -> None:
    lake, _, other_uri, _ = published
    state = SnapshotDataset(snapshot, world_size=2).state_dict(10)
    assert state["next_sample"] == 20 and state["uri"] == snapshot.uri
    with pytest.raises(ValueError, match="samples_consumed must be in"):
        SnapshotDataset(snapshot, world_size=2).state_dict(ROWS)
    other = corpuslake.client.open(other_uri, lake)
    with pytest.raises(ValueError, match="saved position is for"):
        SnapshotDataset.from_state(other, state)
    with pytest.raises(ValueError, match="saved position is for"):
        SnapshotDataset.from_state(snapshot, {**state, "manifest_sha256": other.entry.manifest_sha256})
    dataset = SnapshotDataset(snapshot, shuffle_seed=SEED)
    with pytest.raises(ValueError, match="order of shuffle_seed=None"):
        dataset.load_state_dict(state)
    with pytest.raises(ValueError, match="outside the stream"):
        SnapshotDataset(snapshot).load_state_dict({**state, "next_sample": ROWS + 1})


@pytest.mark.slow
# three workers on a machine with fewer cores: torch warns, the split is what a training node would run
@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
def test_dataloaders_resume_elastically_at_the_next_global_sample(snapshot: Snapshot, ids: list[str]) -> None:
    per_rank = 3 * BLOCK_ROWS - 5
    consumed: list[str] = []
    for rank in range(2):
        dataset = snapshot.torch(rank=rank, world_size=2, block_rows=BLOCK_ROWS, columns=["id", "text"])
        rows: list[str] = []
        for batch in _loader(dataset, 2):  # stop early, as a job stopped after a checkpoint
            rows.extend(row["id"] for row in batch)
            if len(rows) >= per_rank:
                break
        assert rows[:per_rank] == ids[rank : 2 * per_rank : 2]  # the rank's samples in published order
        consumed.extend(rows[:per_rank])
        state = dataset.state_dict(per_rank)
    k = 2 * per_rank
    assert state["next_sample"] == k
    for world_size, workers in ((3, 1), (1, 3)):
        rest = []
        for rank in range(world_size):
            resumed = SnapshotDataset.from_state(
                snapshot, state, rank=rank, world_size=world_size, block_rows=BLOCK_ROWS, columns=["id"]
            )
            got = [row["id"] for batch in _loader(resumed, workers) for row in batch]
            assert got == ids[k + rank :: world_size]
            rest.extend(got)
        assert sorted(consumed + rest) == ids and len(consumed + rest) == ROWS
