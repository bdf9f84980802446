"""Exact paragraph dedup over the kept documents of a dump, in crawl order, with a Bloom filter.

"Seen before" depends on every earlier paragraph of the dump, so the pass is sequential; it reads only
the paragraph keys the hashing jobs wrote and the decisions of the cluster step, one batch at a time,
and writes per batch the line positions to remove; the rewriting jobs drop them. Its memory is the
Bloom filter (``paragraph_capacity`` x about 14.4 bits at a 0.1% false-positive rate) and one batch of
keys, whatever the dump's size.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rbloom import Bloom


@dataclass(frozen=True)
class ParagraphJob:
    hashes: tuple[str, ...]  # each batch's hash file, in crawl order
    decisions: tuple[str, ...]  # each batch's decisions folder, same order
    staging: str
    capacity: int
    fp_rate: float


@dataclass(frozen=True)
class ParagraphOutcome:
    parts: tuple[str, ...]  # per batch: id and the positions of its removed lines
    bloom_bits: int
    seconds: float

    @property
    def source_file(self) -> str:
        return "paragraphs"


def seen_lines(keys: list[int], bloom: Bloom) -> list[int]:
    """Positions of the lines whose key the filter has seen; the others' keys are added (0: blank line)."""
    removed = []
    for at, key in enumerate(keys):
        if key == 0:
            continue  # blank lines are never duplicates
        if key in bloom:
            removed.append(at)
        else:
            bloom.add(key)
    return removed


def paragraph_pass(job: ParagraphJob) -> ParagraphOutcome:
    """Run the Bloom filter over the kept documents' paragraph keys, batch after batch."""
    started = time.perf_counter()
    bloom = Bloom(job.capacity, job.fp_rate)
    parts = []
    for seq, (hashes, decisions) in enumerate(zip(job.hashes, job.decisions, strict=True)):
        keys = pq.read_table(hashes, columns=["id", "row", "paragraphs"]).sort_by("row")
        verdicts = pq.read_table(decisions, columns=["id", "kept"])
        kept = verdicts.filter(verdicts.column("kept")).column("id").combine_chunks()
        keys = keys.filter(pc.is_in(keys.column("id"), value_set=kept))
        removed = [seen_lines(doc, bloom) for doc in keys.column("paragraphs").to_pylist()]
        path = f"{job.staging}/paragraphs/{seq:06d}.parquet"
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"id": keys.column("id"), "removed": pa.array(removed, pa.list_(pa.int32()))}), path)
        parts.append(path)
    return ParagraphOutcome(tuple(parts), bloom.size_in_bits, time.perf_counter() - started)
