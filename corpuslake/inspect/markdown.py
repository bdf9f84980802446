"""Samples as Markdown for an asset's metadata: a few documents per top reason, per largest cluster, per decile.

The text is escaped so a page's own Markdown or HTML shows as text, and excerpts are kept short: the
metadata is read in the asset's page, beside the counts.
"""

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pads

from corpuslake.inspect.samples import (
    SAMPLE_COLUMNS,
    SampleQuery,
    SampleResult,
    cluster_members,
    document,
    parse_bucket,
    rejected_documents,
    removed_members,
    sample,
)
from corpuslake.inspect.scan import both, drawn, dump_filter, excerpt, keep_smallest, rows_by_id, stream, table_version
from corpuslake.store import Lake

EXCERPT_CHARS = 160
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def escape(text: str) -> str:
    """Markdown's special characters escaped, line breaks flattened: a table cell or list item stays one."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def filtered_samples_markdown(
    lake: Lake,
    dump: str,
    rejections_version: int | None = None,
    *,
    reasons: int = 5,
    per_reason: int = 3,
    seed: int = 0,
) -> str:
    """A section per top reason the filtered stage dropped documents of ``dump`` for, with a few of them.

    One pass over the dump's rejections counts every reason and draws each one's documents (as
    :func:`corpuslake.inspect.samples.sample` draws them), and one lookup reads the drawn rows."""
    version = table_version(lake, "rejections", rejections_version)
    where = both(pads.field("stage") == "filtered", dump_filter(dump))
    counts: Counter[str] = Counter()
    draws: dict[str, list[tuple[int, str]]] = {}
    for batch in stream(lake, "rejections", version, where, ["id", "filter", "reason"]):
        columns = (batch.column(name).to_pylist() for name in ("id", "filter", "reason"))
        for doc_id, unit, reason in zip(*columns, strict=True):
            code = f"{unit}/{reason}"
            counts[code] += 1
            keep_smallest(draws.setdefault(code, []), doc_id, per_reason, seed)
    if not counts:
        return f"No document of {escape(dump)} was dropped by a filter (rejections@v{version})."
    top = counts.most_common(reasons)
    chosen = {code: drawn(draws[code]) for code, _ in top}
    drawn_from = SampleResult(SampleQuery("reason", None, "rejections", version, dump, seed), "rejections", version)
    every = [i for ids in chosen.values() for i in ids]
    found = {d["id"]: d for d in rejected_documents(lake, drawn_from, every)}
    lines = [f"**Dropped by a filter, top reasons** (rejections@v{version}, seed {seed})"]
    for code, count in top:
        lines += ["", f"#### `{code}`: {count:,} documents", ""]
        lines += [_item(found[i], found[i].get("detail")) for i in chosen[code] if i in found]
    return "\n".join(lines)


def deduplicated_clusters_markdown(
    lake: Lake, dump: str, version: int | None = None, *, clusters: int = 3, members: int = 4, seed: int = 0
) -> str:
    """The largest duplicate clusters of ``dump``: each cluster's kept document and a few removed members."""
    largest = sample(lake, SampleQuery("cluster", None, "deduplicated", version, dump, seed, clusters))
    if not largest.documents:
        return f"No duplicate cluster in {escape(dump)} (deduplicated@v{largest.version})."
    lines = [f"**Largest duplicate clusters** (deduplicated@v{largest.version}, seed {seed})"]
    removed: dict[str, dict[str, dict[str, Any]]] = {}
    for head in largest.documents:
        result = SampleResult(
            SampleQuery("cluster", head["id"], "deduplicated", largest.version, dump, seed, members),
            "deduplicated",
            largest.version,
        )
        if not removed:  # one scan of the rejections for every cluster (a kept document's id names its cluster)
            removed = removed_members(lake, result, [d["id"] for d in largest.documents], dump)
        lines += ["", f"#### Cluster `{head['id']}`: {head['signals']['cluster_size']} documents", ""]
        lines += ["| member | Jaccard | URL | excerpt |", "| --- | --- | --- | --- |"]
        for m in cluster_members(lake, result, read=removed):
            cells = [
                m["member"],
                f"{m['jaccard']:.3f}",
                escape(m["url"] or "-"),
                escape(excerpt(m["excerpt"], EXCERPT_CHARS)),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scored_deciles_markdown(
    lake: Lake, dump: str, version: int | None = None, *, per_decile: int = 2, seed: int = 0
) -> str:
    """A few documents of ``dump`` per quality-score decile, lowest first: one pass over the dump's scores
    draws every decile's documents (as :func:`corpuslake.inspect.samples.sample` draws a score bucket's),
    and one lookup reads them."""
    at = table_version(lake, "scored", version)
    buckets = [f"{decile / 10:.1f}:{(decile + 1) / 10:.1f}" for decile in range(10)]
    bounds = [parse_bucket(bucket) for bucket in buckets]
    draws: list[list[tuple[int, str]]] = [[] for _ in buckets]
    where = both(pads.field("quality_score").is_valid(), dump_filter(dump))
    for batch in stream(lake, "scored", at, where, ["id", "quality_score"]):
        scores = batch.column("quality_score")
        for heap, (low, high) in zip(draws, bounds, strict=True):
            below = pc.less_equal(scores, high) if high >= 1.0 else pc.less(scores, high)  # as a bucket's sample
            for doc_id in batch.column("id").filter(pc.and_(pc.greater_equal(scores, low), below)).to_pylist():
                keep_smallest(heap, doc_id, per_decile, seed)
    chosen = [drawn(heap) for heap in draws]
    rows = rows_by_id(lake, "scored", at, [i for ids in chosen for i in ids], SAMPLE_COLUMNS, dump)
    lines = [f"**Documents per quality-score decile** (scored@v{at}, seed {seed})"]
    for bucket, ids in zip(buckets, chosen, strict=True):
        found = [document(rows[i], ["quality_score"]) for i in ids if i in rows]
        lines += ["", f"#### Score {bucket.replace(':', ' to ')}", ""]
        lines += [_item(d, f"score {d['signals']['quality_score']:.3f}") for d in found] or ["_none_"]
    return "\n".join(lines)


def _item(document: dict[str, Any], note: str | None) -> str:
    """One document as a list item: URL, what decided it, a short excerpt."""
    parts: Iterable[str] = (
        f"`{document['id'][:12]}`",
        escape(document.get("url") or "(no URL)"),
        f"({escape(note)})" if note else "",
        f"\n  > {escape(excerpt(document['excerpt'], EXCERPT_CHARS)) or '_(no text)_'}",
    )
    return "- " + " ".join(p for p in parts if p)
