"""A torch ``IterableDataset`` over a published snapshot: sharded by rank and worker, resumable elastically.

The samples form one global stream (:mod:`corpuslake.sample_order`): the rows in published order, or with
``shuffle_seed`` the files in a seeded order and each file's rows in a seeded order, the same whatever
the number of ranks and workers. Rank ``r`` of ``w`` takes the global samples ``start + r``,
``start + r + w``, ... and deals them to its DataLoader workers in blocks of ``block_rows``; a DataLoader
with ``batch_size=block_rows`` fetches from its workers in turn, so it yields the rank's samples in the
stream's order (published order unless shuffled) whatever the number of workers.

The position a run saves is a global sample index: when each rank has consumed ``c`` samples, the ranks
together consumed the global samples ``start .. start + c*w - 1``, and :meth:`SnapshotDataset.state_dict`
records ``start + c*w``. A run with any world size and number of workers resumes at exactly that sample
(:meth:`SnapshotDataset.from_state`, :meth:`SnapshotDataset.load_state_dict`, or ``start_sample=``).

Each worker reads (and verifies) the files that hold its samples and keeps only its own: since every rank
takes every ``w``-th sample, each worker reads the stream's whole remaining range (shuffled: file by file,
one decoded file in memory). The read is repeated per rank and worker, the samples are not.

By default a row holds ``id``, ``text`` and ``tokens``, which torch's ``default_collate`` batches (lists of
strings, a tensor of counts). Other columns may hold timestamps (``warc_date``) or nulls, which it refuses:
ask for them with ``columns=`` and batch with ``collate_fn=collate_rows``.

torch is imported only here: the rest of the client works without it.
"""

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import torch
import torch.utils.data

from corpuslake.client import UnknownColumnError
from corpuslake.sample_order import Share, file_order, rows_in_file

if TYPE_CHECKING:
    from corpuslake.client import Snapshot

DEFAULT_COLUMNS = ("id", "text", "tokens")
"""What a row holds unless ``columns`` says otherwise: every snapshot and mixture has them, and
``default_collate`` batches them."""

_READ_ROWS = 8192
"""At most this many rows decoded at once while streaming in published order."""


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


class SnapshotDataset(torch.utils.data.IterableDataset[dict[str, Any]]):
    """Samples of one snapshot as dicts (``columns``, by default :data:`DEFAULT_COLUMNS`), for a DataLoader
    with ``batch_size=block_rows``; ``start_sample`` is the global sample to begin at."""

    def __init__(
        self,
        snapshot: "Snapshot",
        rank: int = 0,
        world_size: int = 1,
        block_rows: int = 32,
        start_sample: int = 0,
        columns: Sequence[str] | None = None,
        shuffle_seed: int | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.rank, self.world_size = rank, world_size
        self.block_rows, self.shuffle_seed = block_rows, shuffle_seed
        available = snapshot.schema.names
        self.columns = list(columns) if columns else [c for c in DEFAULT_COLUMNS if c in available]
        missing = [c for c in self.columns if c not in available]
        if missing:  # here, not in a DataLoader worker whose error torch would wrap
            raise UnknownColumnError(snapshot.uri, missing, available)
        self.start_sample = start_sample
        self._share()  # refuse a bad rank or start now, not in a worker

    def _share(self, worker: int = 0, workers: int = 1) -> Share:
        total = self.snapshot.entry.documents
        return Share(total, self.start_sample, self.rank, self.world_size, self.block_rows, worker, workers)

    def __len__(self) -> int:
        return self._share().rank_samples()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        share = self._share(*((0, 1) if info is None else (info.id, info.num_workers)))
        first, stop = share.span()
        if first == stop:
            return
        check = info is None  # a worker's parent opened the snapshot, which compared the Delta log once
        if self.shuffle_seed is None:
            yield from self._in_order(share, first, stop, check)
        else:
            yield from self._shuffled(share, first, stop, check)

    def _in_order(self, share: Share, first: int, stop: int, check: bool) -> Iterator[dict[str, Any]]:
        """The worker's samples from one stream of the rows ``[first, stop)``: global sample = row."""
        batch_rows = min(_READ_ROWS, self.block_rows * self.world_size * max(share.workers, 1))
        position = first
        for batch in self.snapshot.batches(self.columns, batch_rows, first, stop, check_version=check):
            keep = np.flatnonzero(share.mine(np.arange(position, position + batch.num_rows, dtype=np.int64)))
            position += batch.num_rows
            if len(keep):
                yield from batch.take(pa.array(keep)).to_pylist()

    def _shuffled(self, share: Share, first: int, stop: int, check: bool) -> Iterator[dict[str, Any]]:
        """The worker's samples file by file in the seeded order: one decoded file in memory at a time."""
        file_rows = [file.rows for file in self.snapshot.entry.manifest]
        for span in file_order(file_rows, self.shuffle_seed):
            begin, end = max(first, span.first_sample), min(stop, span.first_sample + span.rows)
            if begin >= end:
                continue
            samples = np.arange(begin, end, dtype=np.int64)
            positions = samples[share.mine(samples)] - span.first_sample
            if not len(positions):
                continue
            wanted = rows_in_file(span, self.shuffle_seed)[positions]
            batches = self.snapshot.batches(
                self.columns, max(span.rows, 1), span.first_row, span.first_row + span.rows, check_version=check
            )
            table = pa.Table.from_batches(list(batches))
            yield from table.take(pa.array(wanted)).to_pylist()

    def state_dict(self, samples_consumed: int) -> dict[str, Any]:
        """What a checkpoint saves after this rank consumed ``samples_consumed`` samples of this dataset (as
        every rank did, in synchronous data-parallel training): the pin, its manifest, the order and the
        next global sample."""
        if not 0 <= samples_consumed <= len(self):
            raise ValueError(f"samples_consumed must be in [0, {len(self)}], got {samples_consumed}")
        total = self.snapshot.entry.documents
        return {
            "uri": self.snapshot.uri,
            "manifest_sha256": self.snapshot.entry.manifest_sha256,
            "shuffle_seed": self.shuffle_seed,
            "next_sample": min(total, self.start_sample + samples_consumed * self.world_size),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue at the saved next global sample; the snapshot and the order must be the saved ones."""
        if (state["uri"], state["manifest_sha256"]) != (self.snapshot.uri, self.snapshot.entry.manifest_sha256):
            raise ValueError(f"the saved position is for {state['uri']}, not {self.snapshot.uri} with this manifest")
        if state["shuffle_seed"] != self.shuffle_seed:
            raise ValueError(f"the saved position is in the order of shuffle_seed={state['shuffle_seed']}")
        previous, self.start_sample = self.start_sample, int(state["next_sample"])
        try:
            self._share()
        except ValueError:
            self.start_sample = previous
            raise

    @classmethod
    def from_state(
        cls,
        snapshot: "Snapshot",
        state: dict[str, Any],
        *,
        rank: int = 0,
        world_size: int = 1,
        block_rows: int = 32,
        columns: Sequence[str] | None = None,
    ) -> "SnapshotDataset":
        """Resume from :meth:`state_dict` with this run's own rank, world size and block size."""
        dataset = cls(snapshot, rank, world_size, block_rows, columns=columns, shuffle_seed=state.get("shuffle_seed"))
        dataset.load_state_dict(state)
        return dataset
