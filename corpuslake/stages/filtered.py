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

from corpuslake.filters.chain import FilterChain, FilterConfig, Verdict
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


_CHAIN: FilterChain | None = None  # one chain (and one loaded blocklist) per worker process


def _chain(job: BatchJob) -> FilterChain:
    global _CHAIN
    if _CHAIN is None or _CHAIN.config != job.config:
        _CHAIN = FilterChain(job.config, Path(job.cache_dir))
    return _CHAIN


def filter_batch(job: BatchJob) -> BatchOutcome:
    """Score and judge one batch of documents; write its kept and rejected rows as Parquet parts."""
    started = time.perf_counter()
    chain = _chain(job)
    outcome = BatchOutcome(seq=job.seq, documents=job.documents.num_rows)
    kept: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for doc in job.documents.to_pylist():
        verdict = chain.judge(doc["text"], doc["url"], doc["language"], doc["language_score"])
        for failure in verdict.failures:
            outcome.fails[failure.code] += 1
        if verdict.rejected_by is None:
            kept.append(_kept_row(doc, verdict))
            outcome.kept_languages[doc["language"]] += 1
        else:
            rejected.append(_rejection_row(doc, verdict))
            outcome.rejected[verdict.rejected_by.code] += 1
    outcome.kept = len(kept)
    folder = Path(job.staging_dir)
    outcome.kept_part = _write(folder / f"filtered.{job.seq:06d}.parquet", kept, FILTERED)
    outcome.rejection_part = _write(folder / f"rejections.{job.seq:06d}.parquet", rejected, REJECTIONS)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _kept_row(doc: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
    return {
        **doc,
        **verdict.signals,
        "text": verdict.text,
        "text_chars": len(verdict.text),
        "original_chars": len(doc["text"]),
        "flags": verdict.flags,
    }


def _rejection_row(doc: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
    first = verdict.rejected_by
    assert first is not None
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


def _write(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> str | None:
    if not rows:
        return None
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return str(path)
