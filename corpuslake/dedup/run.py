"""Running the dedup stage for one dump: hash in workers, look up earlier dumps, cluster, write.

Three commits carry the same lineage: the rejections of the dump's duplicates, the dump's rows of the
band index, and the kept documents. The index and the kept rows are written last, so an incremental
run of a later dump never sees an index without the documents it points to.
"""

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from rbloom import Bloom

from corpuslake.dedup.normalize import normalize_text
from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers, run_jobs
from corpuslake.schemas import DEDUPLICATED, MINHASH_INDEX, REJECTIONS
from corpuslake.stages import deduplicated as stage
from corpuslake.stages.deduplicated import Decision, DedupConfig, Earlier, HashOutcome
from corpuslake.store import Lake, parquet_parts_reader

Note = Callable[[int, Any], None]


def load_earlier(
    lake: Lake,
    index_version: int,
    dedup_version: int | None,
    dump: str,
    outcomes: list[HashOutcome],
    config: DedupConfig,
) -> Earlier:
    """Index rows of dumps sorting before ``dump`` that share a key with it (two reads: keys, then rows)."""
    if not outcomes:
        return Earlier.none()
    wanted = np.concatenate([np.concatenate([o.exact, o.bands.ravel()]) for o in outcomes])
    earlier_dumps = pads.field("dump") < dump
    keys = lake.dataset("minhash_index", index_version).to_table(columns=["key"], filter=earlier_dumps)["key"]
    hits = np.unique(keys.to_numpy()[np.isin(keys.to_numpy(), wanted)])
    if not len(hits):
        return Earlier.none()
    rows = lake.dataset("minhash_index", index_version).to_table(
        filter=earlier_dumps & pads.field("key").isin(pa.array(hits, pa.int64()))
    )
    earlier = Earlier.from_rows(rows.sort_by([("dump", "ascending"), ("id", "ascending"), ("band", "ascending")]))
    if config.verify and earlier.ids:
        # verifying a cross-dump pair needs the earlier document's text: read it from deduplicated
        texts = lake.read("deduplicated", dedup_version, columns=["id", "text"])
        texts = texts.filter(pc.is_in(texts["id"], value_set=pa.array(earlier.ids)))
        by_id = dict(zip(texts["id"].to_pylist(), texts["text"].to_pylist(), strict=True))
        hasher = config.hasher()
        for node, doc_id in enumerate(earlier.ids):
            shingles, _ = hasher.shingles([normalize_text(by_id.get(doc_id, "")).split()], unique=True)
            earlier.shingles[node] = shingles
    return earlier


def write_outputs(
    lake: Lake,
    dump: str,
    filtered_version: int,
    outcomes: list[HashOutcome],
    decision: Decision,
    lineage: Lineage,
    config: DedupConfig,
    staging: str,
) -> tuple[int, int, int, Counter[str], dict[str, float]]:
    """Commit rejections, index rows and kept rows; return their versions, counters and Bloom figures."""
    ids = [i for o in outcomes for i in o.ids]
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    counters: Counter[str] = Counter()
    bloom = Bloom(config.paragraph_capacity, config.paragraph_fp_rate) if config.paragraphs else None
    kept_parts: list[str] = []
    rejected_parts: list[str] = []
    kept_ids: list[str] = []
    kept_lengths: list[int] = []
    for seq, batch in enumerate(lake.partition_batches("filtered", filtered_version, dump, config.batch_rows)):
        rows = batch.to_pylist()
        kept_rows, rejected_rows = [], []
        for row in rows:
            i = position[row["id"]]
            if not decision.kept[i]:
                rejected_rows.append(_rejection(row, decision, i))
                counters[f"removed.{decision.kind[i]}"] += 1
                continue
            removed = 0
            if bloom is not None:
                row["text"], removed = _drop_seen_paragraphs(row["text"], bloom)
                if not row["text"].strip():
                    rejected_rows.append(_paragraph_rejection(row, removed))
                    counters["removed.paragraphs"] += 1
                    continue
                counters["paragraphs_removed"] += removed
                row["text_chars"] = len(row["text"])
            row |= {
                "cluster_id": decision.cluster_id[i],
                "cluster_size": int(decision.cluster_size[i]),
                "dup_kind": decision.kind[i],
                "paragraphs_removed": removed,
            }
            kept_rows.append(row)
            kept_ids.append(row["id"])
            kept_lengths.append(row["text_chars"])
        kept_parts += _write_part(staging, f"deduplicated.{seq:06d}", kept_rows, DEDUPLICATED)
        rejected_parts += _write_part(staging, f"rejections.{seq:06d}", rejected_rows, REJECTIONS)
    rejections_version = lake.write_partition(
        "rejections", parquet_parts_reader(rejected_parts, REJECTIONS), lineage, {"dump": dump, "stage": stage.STAGE}
    )
    index_version = lake.write_partition(
        "minhash_index", _index_rows(dump, outcomes, position, kept_ids, kept_lengths), lineage, {"dump": dump}
    )
    version = lake.write_partition(
        "deduplicated", parquet_parts_reader(kept_parts, DEDUPLICATED), lineage, {"dump": dump}
    )
    figures: dict[str, float] = {}
    if bloom is not None:
        figures = {
            "paragraph_bloom_bits": float(bloom.size_in_bits),
            "paragraph_bloom_bits_per_item": bloom.size_in_bits / config.paragraph_capacity,
        }
    return version, index_version, rejections_version, counters, figures


def _rejection(row: dict[str, Any], decision: Decision, i: int) -> dict[str, Any]:
    kind = decision.kind[i]
    similarity = decision.similarity[i]
    where = "" if decision.duplicate_dump[i] == row["dump"] else f" in {decision.duplicate_dump[i]}"
    detail = f"{kind} duplicate of {decision.duplicate_of[i]}{where}, cluster of {int(decision.cluster_size[i])}"
    if similarity is not None:
        detail += f", Jaccard {similarity:.3f}"
    signals = {
        "cluster_id": decision.cluster_id[i],
        "cluster_size": int(decision.cluster_size[i]),
        "duplicate_of": decision.duplicate_of[i],
        "duplicate_dump": decision.duplicate_dump[i],
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
    return {name: row[name] for name in fields} | {"stage": stage.STAGE}


def _drop_seen_paragraphs(text: str, bloom: Bloom) -> tuple[str, int]:
    lines = text.split("\n")
    kept: list[str] = []
    removed = 0
    for line, key in zip(lines, stage.paragraph_keys(text), strict=True):
        if key == 0:
            kept.append(line)  # blank lines are never duplicates
        elif key in bloom:
            removed += 1
        else:
            bloom.add(key)
            kept.append(line)
    return "\n".join(kept).strip(), removed


def _index_rows(
    dump: str, outcomes: list[HashOutcome], position: dict[str, int], kept_ids: list[str], lengths: list[int]
) -> pa.Table:
    if not kept_ids:
        return MINHASH_INDEX.empty_table()
    exact = np.concatenate([o.exact for o in outcomes])
    bands = np.concatenate([o.bands for o in outcomes])
    counts = np.concatenate([o.shingle_counts for o in outcomes])
    at = np.fromiter((position[i] for i in kept_ids), np.int64, len(kept_ids))
    n_bands = bands.shape[1]
    with_bands = counts[at] > 0  # a document without words has no band keys
    band_docs = at[with_bands]
    band_ids = [doc_id for doc_id, has in zip(kept_ids, with_bands.tolist(), strict=True) if has]
    band_lengths = [n for n, has in zip(lengths, with_bands.tolist(), strict=True) if has]
    return pa.table(
        {
            "dump": pa.array([dump] * (len(at) + len(band_docs) * n_bands), pa.string()),
            "band": pa.array(
                np.concatenate([np.full(len(at), stage.EXACT_BAND), np.tile(np.arange(n_bands), len(band_docs))]),
                pa.int16(),
            ),
            "key": pa.array(np.concatenate([exact[at], bands[band_docs].ravel()]), pa.int64()),
            "id": pa.array(kept_ids + [i for i in band_ids for _ in range(n_bands)], pa.string()),
            "text_chars": pa.array(lengths + [n for n in band_lengths for _ in range(n_bands)], pa.int64()),
        },
        schema=MINHASH_INDEX,
    )


def _write_part(staging: str, stem: str, rows: list[dict[str, Any]], schema: pa.Schema) -> list[str]:
    if not rows:
        return []
    path = f"{staging}/{stem}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return [path]


def hash_jobs(lake: Lake, filtered_version: int, dump: str, config: DedupConfig) -> Iterator[stage.HashJob]:
    batches = lake.partition_batches("filtered", filtered_version, dump, config.batch_rows, ["id", "text"])
    for seq, batch in enumerate(batches):
        yield stage.HashJob(seq, batch.column("id").to_pylist(), batch.column("text").to_pylist(), config)


def deduplicate_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    config: DedupConfig,
    workers: Workers,
    code_version: str,
    note: Note | None = None,
) -> dict[str, Any]:
    """Deduplicate ``dump``'s filtered documents; return versions, counters and figures for the report."""
    started = time.perf_counter()
    check_name(dump, "dump")
    if config.scope not in ("per_dump", "incremental"):
        raise ValueError(f"scope must be per_dump or incremental, not {config.scope!r}")
    filtered_version = lake.partition_version("filtered", dump)
    jobs = hash_jobs(lake, filtered_version, dump, config)
    outcomes = sorted(run_jobs(stage.hash_batch, jobs, workers, note), key=lambda o: o.seq)
    hashing = time.perf_counter() - started
    upstream = [TableVersion("filtered", filtered_version)]
    earlier = Earlier.none()
    if config.scope == "incremental":
        index_version = lake.version("minhash_index")
        dedup_version = lake.version("deduplicated")
        if index_version is not None:
            upstream.append(TableVersion("minhash_index", index_version))
            if dedup_version is not None:
                upstream.append(TableVersion("deduplicated", dedup_version))
            earlier = load_earlier(lake, index_version, dedup_version, dump, outcomes, config)
    decision = stage.cluster_dump(dump, outcomes, earlier, config)
    lineage = Lineage("deduplicated", dump, run_id, code_version, plain(config), tuple(upstream))
    with lake.staging() as staging:
        version, index_version, rejections_version, counters, figures = write_outputs(
            lake, dump, filtered_version, outcomes, decision, lineage, config, str(staging)
        )
    counters["documents"] = len(decision.kept)
    counters["kept"] = int(decision.kept.sum()) - counters["removed.paragraphs"]
    counters["earlier_documents_matched"] = len(earlier.ids)
    figures |= {"hashing_seconds": hashing, "seconds": time.perf_counter() - started}
    return {
        "version": version,
        "upstream": tuple(upstream),
        "index_version": index_version,
        "rejections_version": rejections_version,
        "counters": dict(counters),
        "clusters_by_size": decision.clusters_by_size,
        "figures": figures,
    }
