"""Plain-text summaries of the lake, printed by the CLI."""

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

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
    """Documents per dump and language, rejections by stage and reason, and table versions."""
    lines: list[str] = []
    versions = table_versions(lake)
    if versions["documents"] is not None:
        docs = lake.read("documents", dumps=dumps, columns=["dump", "language"])
        by = docs.group_by(["dump", "language"]).aggregate([("language", "count")])
        lines.append("documents per dump and language:")
        for dump in sorted(set(by["dump"].to_pylist())):
            rows = [r for r in by.to_pylist() if r["dump"] == dump]
            rows.sort(key=lambda r: -r["language_count"])
            total = sum(r["language_count"] for r in rows)
            shown = ", ".join(f"{r['language']} {r['language_count']}" for r in rows[:top_languages])
            rest = len(rows) - top_languages
            lines.append(f"  {dump}: {total} documents ({shown}{f', +{rest} more' if rest > 0 else ''})")
    if versions["filtered"] is not None:
        kept = lake.read("filtered", dumps=dumps, columns=["dump", "text_chars"])
        lines.append("kept by the filters, per dump:")
        by_dump = kept.group_by("dump").aggregate([("text_chars", "count"), ("text_chars", "sum")])
        for row in sorted(by_dump.to_pylist(), key=lambda r: r["dump"]):
            lines.append(f"  {row['dump']}: {row['text_chars_count']} documents, {row['text_chars_sum']:,} characters")
    if versions["deduplicated"] is not None:
        kept = lake.read("deduplicated", dumps=dumps, columns=["dump", "cluster_size"])
        lines.append("kept after dedup, per dump:")
        by_dump = kept.group_by("dump").aggregate([("cluster_size", "count"), ("cluster_size", "sum")])
        for row in sorted(by_dump.to_pylist(), key=lambda r: r["dump"]):
            lines.append(
                f"  {row['dump']}: {row['cluster_size_count']} documents ({row['cluster_size_sum']} before dedup)"
            )
    if versions["content_signals"] is not None:
        lines.append("content signals (documents with e-mails / IPs / phones / cards / bad words / benchmark overlap):")
        lines += _signal_counts(lake.read("content_signals", dumps=dumps, columns=["dump", *_SIGNALS]))
    if versions["quality_models"] is not None:
        model = lake.read("quality_models").sort_by([("trained_at", "descending")]).to_pylist()[0]
        lines.append(
            f"quality model {model['model_hash'][:16]}: held-out precision {model['precision']:.3f}, "
            f"recall {model['recall']:.3f}, AUC {model['auc']:.3f} ({model['heldout']} examples)"
        )
    if versions["scored"] is not None:
        scored = lake.read("scored", dumps=dumps, columns=["dump", "quality_score"])
        scored = scored.append_column("high", pc.cast(pc.greater_equal(scored["quality_score"], 0.5), pa.int64()))
        by_dump = scored.group_by("dump").aggregate(
            [("quality_score", "count"), ("quality_score", "mean"), ("high", "sum")]
        )
        lines.append("quality scores, per dump (mean, share >= 0.5):")
        for row in sorted(by_dump.to_pylist(), key=lambda r: r["dump"]):
            n = row["quality_score_count"]
            lines.append(
                f"  {row['dump']}: {n} documents, mean {row['quality_score_mean'] or 0.0:.3f}, "
                f"{row['high_sum'] / max(n, 1):.0%} >= 0.5"
            )
    if versions["rejections"] is not None:
        rej = lake.read("rejections", dumps=dumps, columns=["dump", "stage", "filter", "reason"])
        lines.append("rejections by dump, stage, filter and reason:")
        lines += _grouped_counts(rej, ["dump", "stage", "filter", "reason"])
    lines.append("table versions: " + ", ".join(f"{t}@v{v}" for t, v in versions.items() if v is not None))
    return "\n".join(lines)


_SIGNALS = ("pii_emails", "pii_ips", "pii_phones", "pii_cards", "badword_matches", "contaminated")


def _signal_counts(signals: pa.Table) -> list[str]:
    """Per dump, the documents with at least one of each signal: counted in Arrow, never as Python rows (a
    dump's signals are millions of rows)."""
    flags = {
        k: pc.greater(pc.list_value_length(signals[k]) if k == "contaminated" else signals[k], 0) for k in _SIGNALS
    }
    counted = pa.table({"dump": signals["dump"], **{k: pc.cast(v, pa.int64()) for k, v in flags.items()}})
    by_dump = counted.group_by("dump").aggregate([("dump", "count"), *((k, "sum") for k in _SIGNALS)])
    return [
        f"  {r['dump']}: {r['dump_count']} documents: " + " / ".join(str(r[f"{k}_sum"]) for k in _SIGNALS)
        for r in sorted(by_dump.to_pylist(), key=lambda r: r["dump"])
    ]


def _grouped_counts(table: pa.Table, keys: list[str]) -> list[str]:
    counted = table.group_by(keys).aggregate([(keys[-1], "count")]).to_pylist()
    counted.sort(key=lambda r: ([r[k] for k in keys[:-1]], -r[f"{keys[-1]}_count"]))
    return [f"  {' / '.join(str(r[k]) for k in keys)}: {r[f'{keys[-1]}_count']}" for r in counted]
