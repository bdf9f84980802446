"""The filtered stage: every document of a dump is scored by the filter chain, then kept or dropped.

One job per batch of documents (read by the caller from the documents table at a pinned version). A
worker scores its batch and writes one Parquet part of kept rows (text after C4's edits, every signal)
and one of rejections (the first enabled failing unit, every failure in the detail, every signal).
"""

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.filters.chain import SIGNALS, Document, FilterChain, FilterConfig, Verdict
from corpuslake.schemas import FILTERED, REJECTIONS

STAGE = "filtered"
# Bumped when the stage's output for the same input and config changes: it goes into lineage.
STAGE_VERSION = "1"


@dataclass(frozen=True)
class BatchJob:
    dump: str
    seq: int
    documents: pa.Table
    staging_dir: str
    cache_dir: str
    config: FilterConfig


@dataclass
class BatchOutcome:
    """What one batch gave: counts, and the Parquet parts holding the rows."""

    seq: int
    documents: int = 0
    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # first enabled failure "filter/reason"
    fails: Counter[str] = field(default_factory=Counter)  # every failure, in any unit, enabled or not
    kept_languages: Counter[str] = field(default_factory=Counter)
    kept_part: str | None = None
    rejection_part: str | None = None
    seconds: float = 0.0

    @property
    def source_file(self) -> str:  # what the progress line names
        return f"batch {self.seq}"


# The document columns a rejection row repeats.
_REJECTION_SOURCE = ("id", "dump", "url", "warc_record_id", "source_file", "warc_offset", "language", "language_score")

_CHAIN: FilterChain | None = None  # one chain (and one loaded blocklist) per worker process


def _chain(job: BatchJob) -> FilterChain:
    global _CHAIN
    if _CHAIN is None or _CHAIN.config != job.config:
        _CHAIN = FilterChain(job.config, Path(job.cache_dir))
    return _CHAIN


def filter_batch(job: BatchJob) -> BatchOutcome:
    """Score and judge one batch of documents; write its kept and rejected rows as Parquet parts.

    Only the four columns the filters read are turned into Python objects; the kept rows' other columns
    are taken from the Arrow batch as they are.
    """
    started = time.perf_counter()
    chain = _chain(job)
    docs = job.documents
    outcome = BatchOutcome(seq=job.seq, documents=docs.num_rows)
    kept_rows: list[int] = []
    kept_texts: list[str] = []
    kept_flags: list[list[str]] = []
    signals: dict[str, list[Any]] = {column.name: [] for column in SIGNALS}
    rejected: list[dict[str, Any]] = []
    columns = [docs.column(name).to_pylist() for name in ("text", "url", "language", "language_score")]
    inputs = [Document(*values) for values in zip(*columns, strict=True)]
    for row, (doc, verdict) in enumerate(zip(inputs, chain.judge_batch(inputs), strict=True)):
        language = doc.language
        for failure in verdict.failures:
            outcome.fails[failure.code] += 1
        if verdict.rejected_by is None:
            kept_rows.append(row)
            kept_texts.append(verdict.text)
            kept_flags.append(verdict.flags)
            for name, values in signals.items():
                values.append(verdict.signals[name])
            outcome.kept_languages[language] += 1
        else:
            rejected.append(_rejection_row(docs, row, verdict))
            outcome.rejected[verdict.rejected_by.code] += 1
    outcome.kept = len(kept_rows)
    folder = Path(job.staging_dir)
    if kept_rows:
        kept = _kept_table(docs.take(kept_rows), kept_texts, signals, kept_flags)
        outcome.kept_part = str(folder / f"filtered.{job.seq:06d}.parquet")
        pq.write_table(kept, outcome.kept_part)
    if rejected:
        outcome.rejection_part = str(folder / f"rejections.{job.seq:06d}.parquet")
        pq.write_table(pa.Table.from_pylist(rejected, schema=REJECTIONS), outcome.rejection_part)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _kept_table(docs: pa.Table, texts: list[str], signals: dict[str, list[Any]], flags: list[list[str]]) -> pa.Table:
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: docs.column(name) for name in docs.column_names}
    columns["original_chars"] = docs.column("text_chars")
    columns["text"] = pa.array(texts, pa.string())
    columns["text_chars"] = pa.array([len(t) for t in texts], pa.int64())
    columns["flags"] = pa.array(flags, pa.list_(pa.string()))
    for column in SIGNALS:
        columns[column.name] = pa.array(signals[column.name], column.type)
    return pa.table([columns[f.name] for f in FILTERED], schema=FILTERED)


def _rejection_row(docs: pa.Table, row: int, verdict: Verdict) -> dict[str, Any]:
    first = verdict.rejected_by
    assert first is not None
    doc = {name: docs.column(name)[row].as_py() for name in _REJECTION_SOURCE}
    signals = {k: round(v, 5) if isinstance(v, float) else v for k, v in verdict.signals.items()}
    signals |= {"language": doc["language"], "language_score": round(doc["language_score"], 5)}
    signals["flags"] = verdict.flags
    return {
        "id": doc["id"],
        "dump": doc["dump"],
        "stage": STAGE,
        "filter": first.filter,
        "reason": first.reason,
        "detail": "; ".join(f"{f.code}: {f.detail}" for f in verdict.failures),
        "url": doc["url"],
        "warc_record_id": doc["warc_record_id"],
        "source_file": doc["source_file"],
        "warc_offset": doc["warc_offset"],
        "signals": json.dumps(signals, sort_keys=True, ensure_ascii=False),
    }
