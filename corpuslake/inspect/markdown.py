"""Samples as Markdown for an asset's metadata: a few documents per top reason, per largest cluster, per decile.

The text is escaped so a page's own Markdown or HTML shows as text, and excerpts are kept short: the
metadata is read in the asset's page, beside the counts.
"""

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow.dataset as pads

from corpuslake.inspect.samples import SampleQuery, SampleResult, cluster_members, sample
from corpuslake.inspect.scan import both, dump_filter, excerpt, stream, table_version
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
    """A section per top reason the filtered stage dropped documents of ``dump`` for, with a few of them."""
    version = table_version(lake, "rejections", rejections_version)
    where = both(pads.field("stage") == "filtered", dump_filter(dump))
    counts: Counter[str] = Counter()
    for batch in stream(lake, "rejections", version, where, ["filter", "reason"]):
        units, codes = batch.column("filter").to_pylist(), batch.column("reason").to_pylist()
        counts.update(f"{u}/{c}" for u, c in zip(units, codes, strict=True))
    if not counts:
        return f"No document of {escape(dump)} was dropped by a filter (rejections@v{version})."
    lines = [f"**Dropped by a filter, top reasons** (rejections@v{version}, seed {seed})"]
    for code, count in counts.most_common(reasons):
        query = SampleQuery("reason", code, "rejections", version, dump, seed, per_reason)
        lines += ["", f"#### `{code}`: {count:,} documents", ""]
        lines += [_item(d, d.get("detail")) for d in sample(lake, query).documents]
    return "\n".join(lines)


def deduplicated_clusters_markdown(
    lake: Lake, dump: str, version: int | None = None, *, clusters: int = 3, members: int = 4, seed: int = 0
) -> str:
    """The largest duplicate clusters of ``dump``: each cluster's kept document and a few removed members."""
    largest = sample(lake, SampleQuery("cluster", None, "deduplicated", version, dump, seed, clusters))
    if not largest.documents:
        return f"No duplicate cluster in {escape(dump)} (deduplicated@v{largest.version})."
    lines = [f"**Largest duplicate clusters** (deduplicated@v{largest.version}, seed {seed})"]
    for head in largest.documents:
        result = SampleResult(
            SampleQuery("cluster", head["id"], "deduplicated", largest.version, dump, seed, members),
            "deduplicated",
            largest.version,
        )
        lines += ["", f"#### Cluster `{head['id']}`: {head['signals']['cluster_size']} documents", ""]
        lines += ["| member | Jaccard | URL | excerpt |", "| --- | --- | --- | --- |"]
        for m in cluster_members(lake, result):
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
    """A few documents of ``dump`` per quality-score decile, lowest first."""
    at = table_version(lake, "scored", version)
    lines = [f"**Documents per quality-score decile** (scored@v{at}, seed {seed})"]
    for decile in range(10):
        bucket = f"{decile / 10:.1f}:{(decile + 1) / 10:.1f}"
        found = sample(lake, SampleQuery("score", bucket, "scored", at, dump, seed, per_decile)).documents
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
