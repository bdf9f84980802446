"""Turning a stage report into the standard materialization metadata shown in the UI."""

from typing import Any

import dagster as dg
import pyarrow as pa

from corpuslake.pipeline import StageReport


def report_metadata(report: StageReport, preview: pa.Table | None = None) -> dict[str, Any]:
    """Row count, table version, upstream versions, counters as a table, and a preview of rows."""
    metadata: dict[str, Any] = {
        "dagster/row_count": report.rows,
        "table_version": report.data_version,
        "upstream_versions": ", ".join(str(u) for u in report.upstream) or "(landing zone)",
        "seconds": round(report.seconds, 2),
        "counters": dg.MetadataValue.md(_counters_markdown(report.counters)),
    }
    for table, version in report.extra_versions.items():
        metadata[f"{table}_version"] = f"{table}@v{version}"
    if report.problems:
        metadata["rejected_inputs"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in report.problems))
    if preview is not None and preview.num_rows:
        metadata["preview"] = dg.MetadataValue.md(_preview_markdown(preview))
    return metadata


def _counters_markdown(counters: dict[str, int]) -> str:
    lines = ["| counter | value |", "| --- | ---: |"]
    lines += [f"| {name} | {value:,} |" for name, value in sorted(counters.items())]
    return "\n".join(lines)


def _preview_markdown(table: pa.Table, max_chars: int = 80) -> str:
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    for row in table.to_pylist():
        cells = [str(row[n]).replace("|", "\\|").replace("\n", " ")[:max_chars] for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
