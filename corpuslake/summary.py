"""Plain-text summaries of the lake, printed by the CLI."""

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corpuslake import scan
from corpuslake.store import Lake

TABLES = (
    "crawl_files",
    "documents",
    "filtered",
    "content_signals",
    "deduplicated",
    "minhash_index",
    "scored",
    "quality_training_set",
    "quality_models",
    "rejections",
)


def table_versions(lake: Lake) -> dict[str, int | None]:
    return {table: lake.version(table) for table in TABLES}


def lake_summary(lake: Lake, dumps: Sequence[str] | None = None, top_languages: int = 12) -> str:
    """Documents per dump and language, rejections by stage and reason, and table versions.

    Every figure is a count or a sum per group, taken batch by batch over the columns it needs, so memory is
    that of a batch and the groups, whatever the lake's size (reading the columns whole held 315 MiB more at
    the end of a 1.1M-page run: bench/SCALING.md)."""
    lines: list[str] = []
    versions = table_versions(lake)
    if versions["documents"] is not None:
        by = _grouped(lake, "documents", versions["documents"], dumps, ["dump", "language"])
        lines.append("documents per dump and language:")
        for dump in sorted({k[0] for k in by}):
            rows = sorted(((k[1], v[0]) for k, v in by.items() if k[0] == dump), key=lambda r: (-r[1], str(r[0])))
            total = sum(n for _, n in rows)
            shown = ", ".join(f"{language} {n}" for language, n in rows[:top_languages])
            rest = len(rows) - top_languages
            lines.append(f"  {dump}: {total} documents ({shown}{f', +{rest} more' if rest > 0 else ''})")
    if versions["filtered"] is not None:
        lines.append("kept by the filters, per dump:")
        for (dump,), (n, chars) in sorted(
            _grouped(lake, "filtered", versions["filtered"], dumps, ["dump"], ["text_chars"]).items()
        ):
            lines.append(f"  {dump}: {n} documents, {chars:,} characters")
    if versions["deduplicated"] is not None:
        lines.append("kept after dedup, per dump:")
        for (dump,), (n, before) in sorted(
            _grouped(lake, "deduplicated", versions["deduplicated"], dumps, ["dump"], ["cluster_size"]).items()
        ):
            lines.append(f"  {dump}: {n} documents ({before} before dedup)")
    if versions["content_signals"] is not None:
        lines.append("content signals (documents with e-mails / IPs / phones / cards / bad words / benchmark overlap):")
        counted = _grouped(
            lake, "content_signals", versions["content_signals"], dumps, ["dump"], _SIGNALS, prepare=_signal_flags
        )
        for (dump,), (n, *flagged) in sorted(counted.items()):
            lines.append(f"  {dump}: {n} documents: " + " / ".join(str(f) for f in flagged))
    if versions["quality_models"] is not None:
        model = lake.read("quality_models").sort_by([("trained_at", "descending")]).to_pylist()[0]
        lines.append(
            f"quality model {model['model_hash'][:16]}: held-out precision {model['precision']:.3f}, "
            f"recall {model['recall']:.3f}, AUC {model['auc']:.3f} ({model['heldout']} examples)"
        )
    if versions["scored"] is not None:
        scored = _grouped(
            lake, "scored", versions["scored"], dumps, ["dump"], ["quality_score", "high"], prepare=_high_scores
        )
        lines.append("quality scores, per dump (mean, share >= 0.5):")
        for (dump,), (n, total, high) in sorted(scored.items()):
            lines.append(f"  {dump}: {n} documents, mean {total / n if n else 0.0:.3f}, {high / max(n, 1):.0%} >= 0.5")
    if versions["rejections"] is not None:
        keys = ["dump", "stage", "filter", "reason"]
        lines.append("rejections by dump, stage, filter and reason:")
        reasons = sorted(
            _grouped(lake, "rejections", versions["rejections"], dumps, keys).items(),
            key=lambda kv: (tuple(str(k) for k in kv[0][:-1]), -kv[1][0]),
        )
        lines += [f"  {' / '.join(str(k) for k in key)}: {n}" for key, (n,) in reasons]
    lines.append("table versions: " + ", ".join(f"{t}@v{v}" for t, v in versions.items() if v is not None))
    return "\n".join(lines)


_SIGNALS = ["pii_emails", "pii_ips", "pii_phones", "pii_cards", "badword_matches", "contaminated"]
_BATCH_ROWS = 65_536
"""Rows per batch of the summary's narrow columns (a few short strings and numbers per row)."""

Group = tuple[Any, ...]


def _grouped(
    lake: Lake,
    table: str,
    version: int | None,
    dumps: Sequence[str] | None,
    keys: list[str],
    sums: Sequence[str] = (),
    prepare: Callable[[pa.Table], pa.Table] | None = None,
) -> dict[Group, list[int | float]]:
    """Per group of ``keys`` in ``table`` at ``version`` (over ``dumps``, or every dump): the row count,
    then the sum of each of ``sums`` (after ``prepare``, which may add the summed columns), batch by batch."""
    dataset = lake.dataset(table, version)
    partitions = [{"dump": d} for d in dumps] if dumps is not None else [{}]
    read = list(dict.fromkeys([*keys, *(c for c in sums if c in dataset.schema.names)]))
    names = [f"{keys[0]}_count", *(f"{c}_sum" for c in sums)]
    totals: dict[Group, list[int | float]] = {}
    for partition in partitions:
        for batch in scan.batches(dataset, partition, read, batch_rows=_BATCH_ROWS):
            rows = pa.Table.from_batches([batch])
            if prepare is not None:
                rows = prepare(rows)
            aggregated = rows.group_by(keys).aggregate([(keys[0], "count"), *((c, "sum") for c in sums)])
            for row in aggregated.to_pylist():
                total = totals.setdefault(tuple(row[k] for k in keys), [0] * (1 + len(sums)))
                for i, name in enumerate(names):
                    total[i] += row[name] or 0
    return totals


def _signal_flags(signals: pa.Table) -> pa.Table:
    """Each signal as 1 where the document has it (a count above 0, or a benchmark named), else 0."""
    flags = {
        k: pc.greater(pc.list_value_length(signals[k]) if k == "contaminated" else signals[k], 0) for k in _SIGNALS
    }
    return pa.table({"dump": signals["dump"], **{k: pc.cast(v, pa.int64()) for k, v in flags.items()}})


def _high_scores(scored: pa.Table) -> pa.Table:
    """The scores, and 1 where a score is at least 0.5."""
    high = pc.cast(pc.greater_equal(scored["quality_score"], 0.5), pa.int64())
    return pa.table({"dump": scored["dump"], "quality_score": scored["quality_score"], "high": high})
