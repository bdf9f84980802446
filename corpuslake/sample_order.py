"""The global order of a snapshot's samples and which of them one DataLoader worker of one rank yields.

A run reads one global stream of samples: the snapshot's rows in published order, or, with a shuffle
seed, its files in a seeded order and the rows of each file in a seeded order. Neither order depends on
the number of ranks or workers, so a position in the stream (the next global sample) means the same
thing whatever the run that resumes from it.

From the global sample ``start``, rank ``r`` of ``w`` takes the samples ``start + r``, ``start + r + w``,
``start + r + 2w``, ... (its *local* samples ``0, 1, 2, ...``). Dealing single samples in turn, rather than
contiguous per-rank batches, keeps one property whatever the batch size: when every rank has consumed
``c`` samples, together they consumed exactly the global samples ``start .. start + c*w - 1``, so the next
global sample is ``start + c*w`` and any new world size resumes there. Within a rank, the local samples
are cut into blocks of ``block`` and block ``m`` goes to worker ``m % workers``: a DataLoader with
``batch_size=block`` takes one block from each worker in turn and yields the rank's samples in order.

Everything here is arithmetic on indices (numpy, no torch), computed per batch: nothing holds a list of
a worker's samples, whose size grows with the snapshot.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finalizer: a fixed bijection of 64-bit values, the same on every machine and numpy
    version (a ``Generator``'s stream may change between numpy releases; a saved order must not)."""
    with np.errstate(over="ignore"):
        z = values
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def seeded_permutation(seed: int, salt: int, count: int) -> npt.NDArray[np.int64]:
    """A permutation of ``range(count)`` fixed by ``(seed, salt)``: the indices sorted by a keyed hash."""
    with np.errstate(over="ignore"):
        key = _mix64(np.array([seed & (2**64 - 1)], np.uint64) + np.uint64(salt) * _GOLDEN)
        keys = _mix64(key + np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN)
    return np.argsort(keys, kind="stable").astype(np.int64)


@dataclass(frozen=True)
class Share:
    """The global samples one DataLoader worker of one rank yields, from ``start`` to ``total``."""

    total: int
    """Samples in the whole stream (the snapshot's rows)."""
    start: int
    """The first global sample of this run: what earlier runs consumed together."""
    rank: int
    """This process's rank, in ``[0, world_size)``."""
    world_size: int
    """The number of ranks reading the stream together."""
    block: int
    """Local samples per block: a worker's unit, and the DataLoader's ``batch_size``."""
    worker: int = 0
    """This DataLoader worker, in ``[0, workers)``."""
    workers: int = 1
    """The DataLoader's number of workers (1 without workers)."""

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={self.rank} world_size={self.world_size}")
        if self.block < 1:
            raise ValueError("block_rows must be at least 1")
        if not 0 <= self.start <= self.total:
            raise ValueError(f"start_sample {self.start} is outside the stream's {self.total} samples")
        if self.workers < 1 or not 0 <= self.worker < self.workers:
            raise ValueError(f"worker must be in [0, workers), got worker={self.worker} workers={self.workers}")

    def rank_samples(self) -> int:
        """How many samples this rank yields (all its workers together)."""
        return max(0, -(-(self.total - self.start - self.rank) // self.world_size))

    def span(self) -> tuple[int, int]:
        """Global samples ``[first, stop)`` holding all of this worker's samples (``first == stop``: none)."""
        local = self.rank_samples()
        blocks = -(-local // self.block)
        if self.worker >= blocks:
            return 0, 0
        last_block = self.worker + (blocks - 1 - self.worker) // self.workers * self.workers
        first_local, last_local = self.worker * self.block, min((last_block + 1) * self.block, local) - 1
        return self.global_sample(first_local), self.global_sample(last_local) + 1

    def global_sample(self, local: int) -> int:
        """The global index of this rank's ``local``-th sample."""
        return self.start + self.rank + local * self.world_size

    def mine(self, samples: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of these global samples this worker yields."""
        offset = samples - self.start - self.rank
        ours = (offset >= 0) & (offset % self.world_size == 0) & (samples < self.total)
        block = offset // self.world_size // self.block
        result: npt.NDArray[np.bool_] = ours & (block % self.workers == self.worker)
        return result


@dataclass(frozen=True)
class FileSpan:
    """One snapshot file's place in the global stream."""

    index: int
    """The file's position in the manifest (its salt for the in-file order)."""
    first_row: int
    """Its first row in published order."""
    rows: int
    """How many rows it holds."""
    first_sample: int
    """The global sample its first (in the stream's order) row is."""


def file_order(file_rows: list[int], seed: int | None) -> list[FileSpan]:
    """The files in the stream's order: the manifest's, or a seeded permutation of it."""
    offsets = np.concatenate([[0], np.cumsum(file_rows, dtype=np.int64)]).tolist()
    order = range(len(file_rows)) if seed is None else seeded_permutation(seed, 0, len(file_rows)).tolist()
    spans, sample = [], 0
    for index in order:
        spans.append(FileSpan(index, int(offsets[index]), file_rows[index], sample))
        sample += file_rows[index]
    return spans


def rows_in_file(span: FileSpan, seed: int | None) -> npt.NDArray[np.int64]:
    """The file's rows (0-based within it) in the stream's order: as published, or seeded."""
    if seed is None:
        return np.arange(span.rows, dtype=np.int64)
    return seeded_permutation(seed, span.index + 1, span.rows)
