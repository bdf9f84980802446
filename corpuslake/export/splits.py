"""Tokenizing a pin into its train and validation shards, streaming, in the pin's published order.

The driver reads the pin through the verifying client a batch at a time and sends each batch's texts (a
plain list: compact, never an Arrow slice with its parent buffers) to the pool; workers tokenize and
return the tokens. Results are written in batch order as they come back. At most ``2 * workers`` batches
are in flight, and results that arrive ahead of their turn are held (without texts) until their turn;
when too many are held, no new batch is sent until the earlier ones are written. Memory depends on the
batch size and the number of workers, never on the pin's size.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from corpuslake.client import Snapshot
from corpuslake.export.shards import Format, ShardWriter, open_writer
from corpuslake.export.sidecar import DocsWriter, held_out
from corpuslake.export.tokenizer import ExportTokenizer, TokenArray, TokenPolicy, worker_tokenizer
from corpuslake.parallel import Workers, run_jobs

SPLITS = ("train", "validation")
Progress = Callable[[int, int], None]
"""Called after every batch written with the documents and tokens written so far."""


@dataclass(frozen=True)
class TokenizeJob:
    index: int
    texts: list[str]
    path: str
    sha256: str
    policy: TokenPolicy


@dataclass(frozen=True)
class SplitOptions:
    """How a pin is cut into shards."""

    fmt: Format
    """The shard format."""
    policy: TokenPolicy
    """The special tokens around every document."""
    validation_fraction: float
    """Share of documents (by id hash) held out for validation."""
    validation_seed: str
    """Keys the id hash: another seed, another validation set."""
    batch_rows: int
    """Documents per batch sent to a worker."""
    workers: Workers
    """Local worker processes (1: in this process), or a Ray executor."""


@dataclass(frozen=True)
class SplitsWritten:
    splits: dict[str, dict[str, Any]]
    files: list[str]
    phase_tokens: Counter[tuple[str, str]]
    """Train tokens per (phase, source ``name@N``) of a mixture's rows: the weights of its blends."""


def tokenize(job: TokenizeJob) -> tuple[int, TokenArray, npt.NDArray[np.int32]]:
    """A worker's job: the tokens of one batch's texts, and each text's token count."""
    tokens, lengths = worker_tokenizer(job.path, job.sha256).encode(job.texts, job.policy)
    return job.index, tokens, lengths


def write_splits(
    snapshot: Snapshot, folder: Path, tokenizer: ExportTokenizer, options: SplitOptions, progress: Progress | None
) -> SplitsWritten:
    """Write every split's shard and sidecar into ``folder``; return what they hold."""
    names = snapshot.schema.names
    meta_columns = ["id", "dump"] + [c for c in ("url", "quality_score", "source", "phase") if c in names]
    shards: dict[str, ShardWriter] = {
        s: open_writer(options.fmt, folder, s, tokenizer.dtype, tokenizer.identity.name) for s in SPLITS
    }
    docs = {s: DocsWriter(folder / f"{s}.docs.parquet") for s in SPLITS}
    metas: dict[int, pa.Table] = {}
    identity = tokenizer.identity

    def jobs() -> Iterator[TokenizeJob]:
        for index, batch in enumerate(snapshot.batches(["text", *meta_columns], options.batch_rows)):
            metas[index] = pa.Table.from_batches([batch.select(meta_columns)])
            texts = batch.column("text").to_pylist()
            yield TokenizeJob(index, texts, tokenizer.path, identity.sha256, options.policy)

    try:
        phase_tokens, empty = _write_batches(snapshot, jobs(), metas, shards, docs, options, progress)
    except BaseException:
        for split in SPLITS:  # close the files: the caller removes the folder they are in
            shards[split].abort()
            docs[split].abort()
        raise
    files = [name for s in SPLITS for name in (*shards[s].close(), docs[s].close())]
    splits = {
        s: {"prefix": s, "documents": docs[s].documents, "tokens": docs[s].tokens, "empty_documents_left_out": empty[s]}
        for s in SPLITS
    }
    return SplitsWritten(splits, files, phase_tokens)


def _write_batches(
    snapshot: Snapshot,
    jobs: Iterator[TokenizeJob],
    metas: dict[int, pa.Table],
    shards: dict[str, ShardWriter],
    docs: dict[str, DocsWriter],
    options: SplitOptions,
    progress: Progress | None,
) -> tuple[Counter[tuple[str, str]], dict[str, int]]:
    """Each batch's tokens and sidecar rows, in batch order, to their split's writers; the train tokens
    per (phase, source) and the empty documents left out per split."""
    phase_tokens: Counter[tuple[str, str]] = Counter()
    empty = dict.fromkeys(SPLITS, 0)
    for index, tokens, lengths in in_order(tokenize, jobs, options.workers):
        meta = _sidecar_meta(metas.pop(index), snapshot.entry.uri)
        validation = held_out(meta.column("id").to_pylist(), options.validation_fraction, options.validation_seed)
        per_token = np.repeat(validation, lengths)
        for split, docs_mask, token_mask in (("train", ~validation, ~per_token), ("validation", validation, per_token)):
            keep = docs_mask & (lengths > 0)  # a document with no token (empty text, no EOS) is left out
            empty[split] += int((docs_mask & (lengths == 0)).sum())
            shards[split].add(tokens[token_mask], lengths[keep])
            docs[split].add(meta.filter(pa.array(keep)), lengths[keep])
            if split == "train" and "phase" in meta.column_names:
                _count_phases(phase_tokens, meta.filter(pa.array(keep)), lengths[keep])
        if progress:
            progress(sum(d.documents for d in docs.values()), sum(d.tokens for d in docs.values()))
    return phase_tokens, empty


def in_order(
    fn: Callable[[TokenizeJob], tuple[int, TokenArray, npt.NDArray[np.int32]]],
    jobs: Iterator[TokenizeJob],
    workers: Workers,
) -> Iterator[tuple[int, TokenArray, npt.NDArray[np.int32]]]:
    """``fn`` over the jobs on the pool, results yielded in job order. A job is sent only while fewer
    than ``4 * workers`` results wait for an earlier one; otherwise the pool's round ends, and the next
    round starts once they are written."""
    limit = 4 * (workers if isinstance(workers, int) else 4)
    held: dict[int, tuple[int, TokenArray, npt.NDArray[np.int32]]] = {}
    following = 0
    source = iter(jobs)
    pending: list[TokenizeJob] = []  # a job taken from the source but not sent (the gate closed)

    def gated() -> Iterator[TokenizeJob]:
        while len(held) < limit:
            if pending:
                yield pending.pop()
                continue
            job = next(source, None)
            if job is None:
                return
            yield job

    exhausted = False
    while not exhausted:
        exhausted = True
        for result in run_jobs(fn, gated(), workers):
            held[result[0]] = result
            while following in held:
                yield held.pop(following)
                following += 1
        if held or _has_more(source, pending):
            exhausted = False
    while following in held:
        yield held.pop(following)
        following += 1


def _has_more(source: Iterator[TokenizeJob], pending: list[TokenizeJob]) -> bool:
    if pending:
        return True
    job = next(source, None)
    if job is None:
        return False
    pending.append(job)
    return True


def _sidecar_meta(meta: pa.Table, pin: str) -> pa.Table:
    """The sidecar's provenance columns of a batch: the row's source snapshot as ``name@N``."""
    count = meta.num_rows
    own = pin.removeprefix("corpuslake://")
    source = (
        pa.array([s.removeprefix("corpuslake://") for s in meta.column("source").to_pylist()], pa.string())
        if "source" in meta.column_names
        else pa.array([own] * count, pa.string())
    )
    columns = {
        "pin": pa.array([pin] * count, pa.string()),
        "id": meta.column("id"),
        "dump": meta.column("dump"),
        "url": meta.column("url") if "url" in meta.column_names else pa.nulls(count, pa.string()),
        "source": source,
        "quality": (
            meta.column("quality_score").cast(pa.float64())
            if "quality_score" in meta.column_names
            else pa.nulls(count, pa.float64())
        ),
    }
    if "phase" in meta.column_names:
        columns["phase"] = meta.column("phase")
    return pa.table(columns)


def _count_phases(counter: Counter[tuple[str, str]], meta: pa.Table, lengths: npt.NDArray[np.int32]) -> None:
    for phase, source, count in zip(
        meta.column("phase").to_pylist(), meta.column("source").to_pylist(), lengths.tolist(), strict=True
    ):
        counter[(phase, source)] += count
