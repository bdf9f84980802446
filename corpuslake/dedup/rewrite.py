"""The dedup stage's second job per batch: apply the decisions of the cluster step to the batch's rows.

Each job (one row group of the filtered partition, run by :func:`corpuslake.runner.run_stage`) reads its
row group's decisions folder (and, with paragraph dedup, the lines the Bloom pass found seen before) and
writes three outputs straight into their tables' folders: the kept rows with their cluster columns, the
rejections naming the document each duplicates, and the kept documents' band-index rows. The driver
commits the files; it never holds the rows.
"""

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpuslake.runner import Sink
from corpuslake.schemas import DEDUPLICATED, MINHASH_INDEX, REJECTIONS
from corpuslake.stages.deduplicated import EXACT_BAND, STAGE, hash_path


@dataclass(frozen=True)
class RewriteJob:
    seq: int
    dump: str
    rows: pa.Table  # every filtered column of one row group, the one hashed under the same seq
    decisions: str  # the row group's decisions folder
    hashes: str  # the row group's hash file (band keys of the index rows)
    paragraphs: str | None  # the row group's removed paragraphs, when paragraph dedup is on


@dataclass(frozen=True)
class RewriteSettings:
    """What a rewriting job needs besides its rows: where the cluster step and the hashing pass wrote."""

    dump: str
    staging: str
    paragraphs: tuple[str, ...] | None  # per job number, when paragraph dedup is on


def rewrite_rows(rows: pa.Table, settings: RewriteSettings, sink: Sink) -> None:
    """The stage function of the rewriting pass: apply the row group's decisions."""
    job = RewriteJob(
        seq=sink.seq,
        dump=settings.dump,
        rows=rows,
        decisions=f"{settings.staging}/decisions/seq={sink.seq}",
        hashes=hash_path(settings.staging, sink.seq),
        paragraphs=settings.paragraphs[sink.seq] if settings.paragraphs else None,
    )
    kept, rejections, index, counters = rewrite(job)
    sink.write("rejections", rejections)
    sink.write("index", index)
    sink.write("kept", kept)
    for name, n in counters.items():
        sink.count(name, n)


def rewrite(job: RewriteJob) -> tuple[pa.Table, pa.Table, pa.Table, dict[str, int]]:
    """Apply the batch's decisions: kept rows (paragraph dedup applied), rejections, band-index rows."""
    rows = job.rows
    decisions = _aligned(rows, pq.read_table(job.decisions), job)
    kept = decisions.column("kept").to_numpy(zero_copy_only=False).copy()
    counters: dict[str, int] = {}
    for kind in decisions.filter(pc.invert(decisions.column("kept"))).column("kind").to_pylist():
        counters[f"removed.{kind}"] = counters.get(f"removed.{kind}", 0) + 1
    rejections = [_rejection(row, d) for row, d in _rejected(rows, decisions, kept)]
    updated = {
        "cluster_id": decisions.column("cluster_id"),
        "cluster_size": decisions.column("cluster_size").cast(pa.int32()),
        "dup_kind": decisions.column("kind"),
    }
    lengths = rows.column("text_chars").to_numpy()
    removed_lines = np.zeros(rows.num_rows, np.int32)
    if job.paragraphs is not None:
        seen = _aligned(rows, pq.read_table(job.paragraphs), job, partial=True).column("removed").to_pylist()
        before = int(kept.sum())
        texts = _drop_seen(rows, seen, kept, removed_lines, rejections)
        counters["removed.paragraphs"] = before - int(kept.sum())
        counters["paragraphs_removed"] = int(removed_lines[kept].sum())
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        updated |= {"text": pa.array(texts, pa.string()), "text_chars": pa.array(lengths)}
    updated["paragraphs_removed"] = pa.array(removed_lines)
    mask = pa.array(kept)
    table = pa.table(
        [updated[f.name] if f.name in updated else rows.column(f.name) for f in DEDUPLICATED], schema=DEDUPLICATED
    )
    hashes = _aligned(rows, pq.read_table(job.hashes, columns=["id", "exact", "bands"]), job).filter(mask)
    index = _index_rows(job.dump, hashes, lengths[kept])
    return table.filter(mask), pa.Table.from_pylist(rejections, schema=REJECTIONS), index, counters


def _drop_seen(
    rows: pa.Table,
    seen: list[list[int] | None],
    kept: np.ndarray,
    removed: np.ndarray,
    rejections: list[dict[str, Any]],
) -> list[str]:
    """The texts with the seen lines of kept documents dropped; a kept document left without text is
    rejected (``kept``, ``removed`` and ``rejections`` are updated in place)."""
    texts: list[str] = rows.column("text").to_pylist()
    for i in np.flatnonzero(kept).tolist():
        lines = seen[i] or []
        texts[i] = drop_lines(texts[i], lines)  # every kept text is rejoined and stripped
        removed[i] = len(lines)
        if not texts[i].strip():
            kept[i] = False
            rejections.append(_paragraph_rejection(rows.slice(i, 1).to_pylist()[0], len(lines)))
    return texts


def drop_lines(text: str, removed: list[int]) -> str:
    """``text`` without the lines (paragraphs) at the ``removed`` positions."""
    gone = set(removed)
    return "\n".join(line for at, line in enumerate(text.split("\n")) if at not in gone).strip()


def _aligned(rows: pa.Table, table: pa.Table, job: RewriteJob, partial: bool = False) -> pa.Table:
    """``table``'s rows in the order of ``rows``, matched by id (null rows for ids absent, if ``partial``)."""
    at = pc.index_in(rows.column("id"), value_set=table.column("id").combine_chunks())
    if not partial and at.null_count:
        raise RuntimeError(f"batch {job.seq} of {job.dump} changed between hashing and rewriting: re-run the stage")
    return table.take(at)


def _rejected(rows: pa.Table, decisions: pa.Table, kept: np.ndarray) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    dropped = pa.array(~kept)
    fields = ["id", "dump", "url", "warc_record_id", "source_file", "warc_offset"]
    return list(
        zip(rows.select(fields).filter(dropped).to_pylist(), decisions.filter(dropped).to_pylist(), strict=True)
    )


def _rejection(row: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    kind, similarity = d["kind"], d["similarity"]
    where = "" if d["duplicate_dump"] == row["dump"] else f" in {d['duplicate_dump']}"
    detail = f"{kind} duplicate of {d['duplicate_of']}{where}, cluster of {d['cluster_size']}"
    if similarity is not None:
        detail += f", Jaccard {similarity:.3f}"
    signals = {
        "cluster_id": d["cluster_id"],
        "cluster_size": d["cluster_size"],
        "duplicate_of": d["duplicate_of"],
        "duplicate_dump": d["duplicate_dump"],
        "jaccard": similarity,
    }
    return _base(row) | {
        "filter": "dedup",
        "reason": f"{kind}_duplicate",
        "detail": detail,
        "signals": json.dumps(signals),
    }


def _paragraph_rejection(row: dict[str, Any], removed: int) -> dict[str, Any]:
    detail = f"all {removed} paragraphs seen before"
    signals = json.dumps({"paragraphs_removed": removed})
    return _base(row) | {"filter": "dedup", "reason": "paragraph_duplicate", "detail": detail, "signals": signals}


def _base(row: dict[str, Any]) -> dict[str, Any]:
    fields = ("id", "dump", "url", "warc_record_id", "source_file", "warc_offset")
    return {name: row[name] for name in fields} | {"stage": STAGE}


def _index_rows(dump: str, hashes: pa.Table, lengths: np.ndarray) -> pa.Table:
    """Per kept document its exact-key row, then one row per band when it has band keys."""
    bands = hashes.column("bands").combine_chunks()
    with_bands = pc.invert(pc.is_null(bands)).to_numpy(zero_copy_only=False)
    per_doc = pc.list_value_length(bands).fill_null(0).to_numpy()
    ids = hashes.column("id").combine_chunks()
    band_ids = pc.take(ids, pa.array(np.repeat(np.flatnonzero(with_bands), per_doc[with_bands])))
    positions = np.concatenate([np.arange(k, dtype=np.int16) for k in per_doc[with_bands]] or [np.zeros(0, np.int16)])
    exact_rows = len(ids)
    return pa.table(
        {
            "dump": pa.array([dump] * (exact_rows + len(band_ids)), pa.string()),
            "band": pa.array(np.concatenate([np.full(exact_rows, EXACT_BAND, np.int16), positions]), pa.int16()),
            "key": pa.concat_arrays([hashes.column("exact").combine_chunks(), pc.list_flatten(bands)]),
            "id": pa.concat_arrays([ids, band_ids]),
            "text_chars": pa.array(np.concatenate([lengths, np.repeat(lengths[with_bands], per_doc[with_bands])])),
        },
        schema=MINHASH_INDEX,
    )
