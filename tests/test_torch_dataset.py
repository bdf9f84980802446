"""The torch dataset over a published snapshot: rank ranges, worker blocks, and the rows a DataLoader yields.

Checks that ``rank_range`` partitions the rows into contiguous ranges that differ by at most one row, that
``worker_blocks`` gives every row after the resume position to exactly one worker, that a DataLoader with
two spawned workers and ``batch_size=block_rows`` yields each rank's rows in published order (ranks
together: every id once), that a saved position resumes at exactly the next row and is refused by
another snapshot, and that iterating twice gives the same rows in the same order. The snapshot (503
rows in files of 37) is published under tmp_path.
"""

from collections.abc import Iterator
from itertools import chain
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
import torch.utils.data

import corpuslake.client
from corpuslake.client import Snapshot
from corpuslake.store import Lake
from corpuslake.torch_dataset import SnapshotDataset, rank_range, worker_blocks
from tests.published import publish_rows

ROWS = 503  # not a multiple of the file size, the block size or the number of ranks
ROWS_PER_FILE = 37
BLOCK_ROWS = 16
WORLD_SIZE = 3


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


def _publish(lake: Lake, name: str, rows: pa.Table) -> str:
    return publish_rows(lake, name, rows, ROWS_PER_FILE)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, str, str, pa.Table]:
    """A lake with two snapshots: ``web@1`` (the rows returned) and ``other@1``; their URIs."""
    lake = Lake(str(tmp_path_factory.mktemp("torch") / "lake"))
    rows = _rows(ROWS, "doc")
    uri = _publish(lake, "web", rows)
    other = _publish(lake, "other", _rows(50, "else"))
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


def _loader(dataset: SnapshotDataset) -> Iterator[list[dict[str, Any]]]:
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=dataset.block_rows,
        num_workers=2,
        multiprocessing_context="spawn",
        collate_fn=_as_list,
        timeout=120,
    )
    return iter(loader)


def test_rank_ranges_partition_the_rows_contiguously() -> None:
    for total in (0, 1, 2, 7, 503, 1000):
        for world_size in range(1, 9):
            ranges = [rank_range(total, rank, world_size) for rank in range(world_size)]
            assert ranges[0][0] == 0 and ranges[-1][1] == total
            assert all(ranges[r][1] == ranges[r + 1][0] for r in range(world_size - 1))
            sizes = [end - begin for begin, end in ranges]
            assert min(sizes) >= 0 and max(sizes) - min(sizes) <= 1 and sum(sizes) == total
    for rank, world_size in ((-1, 2), (2, 2), (5, 3), (0, 0), (0, -1)):
        with pytest.raises(ValueError, match="rank must be in"):
            rank_range(10, rank, world_size)


def test_worker_blocks_cover_the_rows_after_the_start_once() -> None:
    begin, end = 167, 335  # rank 1 of 3 over 503 rows
    for block_rows in (1, 5, 16, 200):
        for workers in (1, 2, 3, 4):
            for start_row in (0, 1, 15, 16, 17, 100, end - begin - 1, end - begin):
                blocks = [worker_blocks(begin, end, block_rows, w, workers, start_row) for w in range(workers)]
                rows = [row for worker in blocks for b, e in worker for row in range(b, e)]
                assert sorted(rows) == list(range(begin + start_row, end))  # every row once
                assert all(0 < e - b <= block_rows for worker in blocks for b, e in worker)
                # taking one block from each worker in turn walks the rows in order
                turns = [blocks[k % workers][k // workers] for k in range(sum(map(len, blocks)))]
                assert [row for b, e in turns for row in range(b, e)] == list(range(begin + start_row, end))
    for start_row in (-1, end - begin + 1):
        with pytest.raises(ValueError, match="outside this rank"):
            worker_blocks(begin, end, 16, 0, 2, start_row)
    with pytest.raises(ValueError, match="block_rows"):
        worker_blocks(begin, end, 0, 0, 2)


def test_dataset_refuses_a_bad_rank_or_start(snapshot: Snapshot) -> None:
    with pytest.raises(ValueError, match="rank must be in"):
        SnapshotDataset(snapshot, rank=3, world_size=3)
    begin, end = rank_range(ROWS, 1, WORLD_SIZE)
    with pytest.raises(ValueError, match="outside this rank"):
        SnapshotDataset(snapshot, rank=1, world_size=WORLD_SIZE, start_row=end - begin + 1)
    assert len(SnapshotDataset(snapshot, rank=1, world_size=WORLD_SIZE, start_row=end - begin)) == 0


def test_snapshot_spans_several_files(snapshot: Snapshot) -> None:
    assert len(snapshot.entry.manifest) == -(-ROWS // ROWS_PER_FILE)
    assert snapshot.entry.documents == ROWS


def test_in_process_workers_split_a_rank_and_iteration_is_deterministic(
    snapshot: Snapshot, ids: list[str], published: tuple[Lake, str, str, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = dict(zip(ids, published[3]["text"].to_pylist(), strict=True))
    for rank in range(WORLD_SIZE):
        begin, end = rank_range(ROWS, rank, WORLD_SIZE)
        dataset = SnapshotDataset(snapshot, rank=rank, world_size=WORLD_SIZE, block_rows=BLOCK_ROWS)
        first = list(dataset)
        assert [r["id"] for r in first] == ids[begin:end] and len(dataset) == end - begin
        assert all(r["text"] == texts[r["id"]] for r in first)
        assert list(dataset) == first  # the same rows in the same order again
    # each of three workers keeps only its own blocks; taken in turn they are the rank's rows in order
    dataset = SnapshotDataset(snapshot, rank=2, world_size=WORLD_SIZE, block_rows=BLOCK_ROWS, columns=["id"])
    per_worker = []
    for worker in range(3):
        info = SimpleNamespace(id=worker, num_workers=3)
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
        rows = [r["id"] for r in dataset]
        per_worker.append([rows[at : at + BLOCK_ROWS] for at in range(0, len(rows), BLOCK_ROWS)])
    begin, end = rank_range(ROWS, 2, WORLD_SIZE)
    assert [len(blocks) for blocks in per_worker] == [4, 4, 3]  # 168 rows: 11 blocks, the last of 8 rows
    turns = [per_worker[k % 3][k // 3] for k in range(sum(map(len, per_worker)))]
    assert list(chain.from_iterable(turns)) == ids[begin:end]


@pytest.mark.slow
def test_dataloader_with_two_workers_yields_each_rank_in_published_order(snapshot: Snapshot, ids: list[str]) -> None:
    seen: list[str] = []
    for rank in range(WORLD_SIZE):
        begin, end = rank_range(ROWS, rank, WORLD_SIZE)
        dataset = snapshot.torch(rank=rank, world_size=WORLD_SIZE, block_rows=BLOCK_ROWS, columns=["id", "text"])
        batches = list(_loader(dataset))
        assert all(len(b) == BLOCK_ROWS for b in batches[:-1]) and 0 < len(batches[-1]) <= BLOCK_ROWS
        rows = [row["id"] for batch in batches for row in batch]
        assert rows == ids[begin:end]
        seen.extend(rows)
    assert sorted(seen) == sorted(ids) and len(set(seen)) == ROWS  # every id, none twice


@pytest.mark.slow
def test_a_saved_position_resumes_at_the_next_row(
    snapshot: Snapshot, ids: list[str], published: tuple[Lake, str, str, pa.Table]
) -> None:
    lake, _, other_uri, _ = published
    begin, end = rank_range(ROWS, 1, WORLD_SIZE)
    dataset = SnapshotDataset(snapshot, rank=1, world_size=WORLD_SIZE, block_rows=BLOCK_ROWS, columns=["id"])
    consumed: list[str] = []
    for batch in _loader(dataset):
        consumed.extend(row["id"] for row in batch)
        if len(consumed) >= 3 * BLOCK_ROWS:
            break
    rows = 3 * BLOCK_ROWS - 5  # a checkpoint in the middle of a block: the rest of it was not trained on
    assert consumed[:rows] == ids[begin : begin + rows]
    state = dataset.state_dict(rows)
    assert state["rows_consumed"] == rows and state["uri"] == snapshot.uri

    resumed = SnapshotDataset.from_state(snapshot, state, columns=["id"])
    assert len(resumed) == end - begin - rows
    rest = [row["id"] for batch in _loader(resumed) for row in batch]
    assert rest == ids[begin + rows : end]
    assert [r["id"] for r in resumed] == rest  # the same rows without workers
    # a second checkpoint counts from the resume position
    again = SnapshotDataset.from_state(snapshot, resumed.state_dict(7))
    assert [r["id"] for r in again] == ids[begin + rows + 7 : end]

    other = corpuslake.client.open(other_uri, lake)
    with pytest.raises(ValueError, match="saved position is for"):
        SnapshotDataset.from_state(other, state)
    with pytest.raises(ValueError, match="saved position is for"):
        SnapshotDataset.from_state(snapshot, {**state, "manifest_sha256": other.entry.manifest_sha256})
