"""The filtered stage: every document of a dump is scored by the filter chain, then kept or dropped.

A stage function over batches of documents (run by :func:`corpuslake.runner.run_stage` over the row
groups of the documents table at a pinned version). It writes the kept rows (text after C4's edits,
every signal) and the rejections (the first enabled failing unit, every failure in the detail, every
signal).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake.filters.chain import SIGNALS, Document, FilterChain, FilterConfig, Verdict
from corpuslake.runner import Sink
from corpuslake.schemas import FILTERED

STAGE = "filtered"
# Bumped when the stage's output for the same input and config changes: it goes into lineage.
STAGE_VERSION = "1"


@dataclass(frozen=True)
class FilterSettings:
    """What a worker needs besides its batch: the chain's config and where its compiled lists are."""

    chain: FilterConfig
    cache_dir: str


# The document columns a rejection row repeats.
_REJECTION_SOURCE = ("id", "dump", "url", "warc_record_id", "source_file", "warc_offset", "language", "language_score")

_CHAIN: FilterChain | None = None  # one chain (and one loaded blocklist) per worker process


def _chain(settings: FilterSettings) -> FilterChain:
    global _CHAIN
    if _CHAIN is None or _CHAIN.config != settings.chain:
        _CHAIN = FilterChain(settings.chain, Path(settings.cache_dir))
    return _CHAIN


def filter_batch(docs: pa.Table, settings: FilterSettings, sink: Sink) -> None:
    """Score and judge one batch of documents; write its kept rows to ``kept`` and its dropped rows to
    ``rejections``.

    Only the four columns the filters read are turned into Python objects; the kept rows' other columns
    are taken from the Arrow batch as they are.
    """
    chain = _chain(settings)
    kept_rows: list[int] = []
    kept_texts: list[str] = []
    kept_flags: list[list[str]] = []
    signals: dict[str, list[Any]] = {column.name: [] for column in SIGNALS}
    columns = [docs.column(name).to_pylist() for name in ("text", "url", "language", "language_score")]
    inputs = [Document(*values) for values in zip(*columns, strict=True)]
    sink.count("documents", docs.num_rows)
    for row, (doc, verdict) in enumerate(zip(inputs, chain.judge_batch(inputs), strict=True)):
        for failure in verdict.failures:
            sink.count(f"fails.{failure.code}")
        if verdict.rejected_by is None:
            kept_rows.append(row)
            kept_texts.append(verdict.text)
            kept_flags.append(verdict.flags)
            for name, values in signals.items():
                values.append(verdict.signals[name])
            sink.count(f"language.{doc.language}")
        else:
            sink.add("rejections", _rejection_row(docs, row, verdict))
            sink.count(f"rejected.{verdict.rejected_by.code}")
    sink.count("kept", len(kept_rows))
    if kept_rows:
        sink.write("kept", _kept_table(docs.take(kept_rows), kept_texts, signals, kept_flags))


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
