"""A torch ``IterableDataset`` over a published snapshot: sharded by rank and worker, resumable.

The rows of a snapshot are split between ranks in contiguous ranges (rank ``r`` of ``w`` reads rows
``r*n//w`` to ``(r+1)*n//w``, so ranks differ by at most one row). Within a rank, the rows after the
resume position are cut into blocks of ``block_rows`` and block ``k`` goes to DataLoader worker
``k % num_workers``. A DataLoader with ``batch_size=block_rows`` fetches from its workers in turn, so it
yields the rank's rows in their published order whatever the number of workers, and a run that stopped
after ``c`` rows resumes exactly at row ``c`` with ``start_row=c``.

Each worker reads (and verifies) the files of its rank's range and keeps only its own blocks: the read
is repeated per worker, the rows are not.

By default a row holds ``id``, ``text`` and ``tokens``, which torch's ``default_collate`` batches (lists of
strings, a tensor of counts). Other columns may hold timestamps (``warc_date``) or nulls, which it refuses:
ask for them with ``columns=`` and batch with ``collate_fn=collate_rows``.

torch is imported only here: the rest of the client works without it.
"""

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.utils.data

from corpuslake.client import UnknownColumnError

if TYPE_CHECKING:
    from corpuslake.client import Snapshot

DEFAULT_COLUMNS = ("id", "text", "tokens")
"""What a row holds unless ``columns`` says otherwise: every snapshot and mixture has them, and
``default_collate`` batches them."""


def collate_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A batch of rows as one list per column, or a tensor for a column of numbers without nulls: unlike
    ``default_collate``, it takes any column (timestamps, nulls, nested values) as it is."""
    batch: dict[str, Any] = {}
    for column in rows[0] if rows else ():
        values = [row[column] for row in rows]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            batch[column] = torch.tensor(values, dtype=torch.int64)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            batch[column] = torch.tensor(values, dtype=torch.float64)  # as default_collate: no precision lost
        else:
            batch[column] = values
    return batch


def rank_range(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous rows ``[begin, end)`` of ``rank`` among ``world_size`` ranks."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank} world_size={world_size}")
    return total * rank // world_size, total * (rank + 1) // world_size


def worker_blocks(
    begin: int, end: int, block_rows: int, worker: int, num_workers: int, start_row: int = 0
) -> list[tuple[int, int]]:
    """The row blocks ``[b, e)`` of one worker: blocks of ``block_rows`` from ``begin + start_row``."""
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    if start_row < 0 or begin + start_row > end:
        raise ValueError(f"start_row {start_row} is outside this rank's {end - begin} rows")
    first = begin + start_row
    blocks = [(b, min(b + block_rows, end)) for b in range(first, end, block_rows)]
    return blocks[worker::num_workers]


class SnapshotDataset(torch.utils.data.IterableDataset[dict[str, Any]]):
    """Rows of one snapshot as dicts (``columns``, by default :data:`DEFAULT_COLUMNS`), for a DataLoader with
    ``batch_size=block_rows``."""

    def __init__(
        self,
        snapshot: "Snapshot",
        rank: int = 0,
        world_size: int = 1,
        block_rows: int = 32,
        start_row: int = 0,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.rank, self.world_size = rank, world_size
        self.block_rows, self.start_row = block_rows, start_row
        available = snapshot.schema.names
        self.columns = list(columns) if columns else [c for c in DEFAULT_COLUMNS if c in available]
        missing = [c for c in self.columns if c not in available]
        if missing:  # here, not in a DataLoader worker whose error torch would wrap
            raise UnknownColumnError(snapshot.uri, missing, available)
        self.begin, self.end = rank_range(snapshot.entry.documents, rank, world_size)
        worker_blocks(self.begin, self.end, block_rows, 0, 1, start_row)  # refuse a bad start now, not in a worker

    def __len__(self) -> int:
        return self.end - self.begin - self.start_row

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        blocks = worker_blocks(self.begin, self.end, self.block_rows, worker, workers, self.start_row)
        if not blocks:
            return
        position, queue = blocks[0][0], list(blocks)
        batches = self.snapshot.batches(
            self.columns, self.block_rows, blocks[0][0], blocks[-1][1], check_version=info is None
        )
        for batch in batches:
            rows = batch.to_pylist()
            for row in rows:
                while queue and position >= queue[0][1]:
                    queue.pop(0)
                if queue and queue[0][0] <= position:
                    yield row
                position += 1

    def state_dict(self, rows_consumed: int) -> dict[str, Any]:
        """What a checkpoint saves: the pin, its manifest and how many of this rank's rows were consumed."""
        return {
            "uri": self.snapshot.uri,
            "manifest_sha256": self.snapshot.entry.manifest_sha256,
            "rank": self.rank,
            "world_size": self.world_size,
            "block_rows": self.block_rows,
            "rows_consumed": self.start_row + rows_consumed,
        }

    @classmethod
    def from_state(
        cls, snapshot: "Snapshot", state: dict[str, Any], columns: Sequence[str] | None = None
    ) -> "SnapshotDataset":
        """Resume from :meth:`state_dict`; the snapshot must be the same published bytes."""
        if (state["uri"], state["manifest_sha256"]) != (snapshot.uri, snapshot.entry.manifest_sha256):
            raise ValueError(f"the saved position is for {state['uri']}, not {snapshot.uri} with this manifest")
        return cls(
            snapshot,
            rank=state["rank"],
            world_size=state["world_size"],
            block_rows=state["block_rows"],
            start_row=state["rows_consumed"],
            columns=columns,
        )
