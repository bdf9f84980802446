"""Turning a stage report into the standard materialization metadata shown in the UI."""

from typing import Any

import dagster as dg
import pyarrow as pa

from corpuslake.catalog import CatalogEntry
from corpuslake.plots import Part
from corpuslake.quarantine import quarantined
from corpuslake.runner import StageReport
from corpuslake.store import Lake


def report_metadata(report: StageReport, lake: str, preview: pa.Table | None = None) -> dict[str, Any]:
    """The lake written, row count, table version, upstream versions, counters as a table, and a preview
    of rows."""
    metadata: dict[str, Any] = {
        "lake": lake,
        "dagster/row_count": report.rows,
        "table_version": report.data_version,
        "upstream_versions": ", ".join(str(u) for u in report.upstream) or "(landing zone)",
        "seconds": round(report.seconds, 2),
        "counters": dg.MetadataValue.md(_counters_markdown(report.counters)),
    }
    for table, version in report.extra_versions.items():
        metadata[f"{table}_version"] = f"{table}@v{version}"
    if report.places:
        metadata["jobs_per_place"] = dict(sorted(report.places.items()))
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


def funnel_metadata(report: StageReport, order: tuple[str, ...]) -> dict[str, Any]:
    """The filter funnel: documents in, dropped per filter and reason in chain order, documents out.

    As a table (one row per reason), as a bar chart in monospace text (readable in the run view), and
    as one number per filter (``funnel/<filter>``), which the UI plots across materializations.
    """
    counters = report.counters
    remaining = counters.get("documents", 0)
    rows = [dg.TableRecord({"step": "documents in", "filter": "", "reason": "", "dropped": 0, "remaining": remaining})]
    bars: list[tuple[str, int]] = [("documents in", remaining)]
    metadata: dict[str, Any] = {}
    for unit in order:
        prefix = f"rejected.{unit}/"
        reasons = sorted(
            ((k[len(prefix) :], n) for k, n in counters.items() if k.startswith(prefix)), key=lambda x: -x[1]
        )
        dropped = sum(n for _, n in reasons)
        metadata[f"funnel/{unit}"] = dropped
        for reason, n in reasons:
            remaining -= n
            rows.append(
                dg.TableRecord(
                    {"step": "dropped", "filter": unit, "reason": reason, "dropped": n, "remaining": remaining}
                )
            )
        bars.append((f"after {unit}", remaining))
    rows.append(
        dg.TableRecord({"step": "documents out", "filter": "", "reason": "", "dropped": 0, "remaining": remaining})
    )
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("step", "string"),
            dg.TableColumn("filter", "string"),
            dg.TableColumn("reason", "string"),
            dg.TableColumn("dropped", "int"),
            dg.TableColumn("remaining", "int"),
        ]
    )
    metadata["funnel"] = dg.MetadataValue.table(rows, schema)
    metadata["funnel_chart"] = dg.MetadataValue.md(_bar_chart(bars))
    metadata["kept_fraction"] = round(remaining / counters["documents"], 4) if counters.get("documents") else 0.0
    return metadata


def _bar_chart(bars: list[tuple[str, int]], width: int = 40) -> str:
    top = max((n for _, n in bars), default=0) or 1
    label = max(len(name) for name, _ in bars)
    lines = [f"{name.ljust(label)} {'█' * round(width * n / top):<{width}} {n:,}" for name, n in bars]
    return "```\n" + "\n".join(lines) + "\n```"


def quarantine_metadata(lake: Lake) -> dict[str, Any]:
    """The quarantined dumps (``quarantined``: each with the blocking checks that failed) and their count."""
    held = quarantined(lake)
    metadata: dict[str, Any] = {"quarantined_dumps": len(held)}
    if held:
        lines = [f"- **{dump}**: " + "; ".join(reasons) for dump, reasons in held.items()]
        metadata["quarantined"] = dg.MetadataValue.md("\n".join(lines))
    return metadata


def coverage_metadata(entry: CatalogEntry) -> dict[str, Any]:
    """The dumps a publication covers (``<name>/dumps``) and, when some were left out, which and why
    (``<name>/left_out``); for a mixture, those of the snapshots it pins, each named by its pin. Nothing
    for an entry whose report records no coverage."""
    coverage = entry.report.get("coverage") or {}
    covered = coverage.get("sources", {"": coverage} if "dumps" in coverage else {})
    if not covered:
        return {}
    dumps = [
        (f"{uri}: " if uri else "") + (", ".join(c.get("dumps", [])) or "(none)") for uri, c in sorted(covered.items())
    ]
    metadata: dict[str, Any] = {f"{entry.name}/dumps": "; ".join(dumps)}
    left_out = [
        f"- **{f'{uri} ' if uri else ''}{dump}**: " + "; ".join(reasons)
        for uri, c in sorted(covered.items())
        for dump, reasons in sorted(c.get("left_out", {}).items())
    ]
    if left_out:
        metadata[f"{entry.name}/left_out"] = dg.MetadataValue.md("\n".join(left_out))
    return metadata


def plots_metadata(lake: Lake, dump: str, versions: dict[str, int], parts: tuple[Part, ...]) -> dict[str, Any]:
    """The dump's distributions drawn as PNG files beside the lake (thresholds marked), embedded in Markdown
    with their numbers: nothing on a lake with no local folder to write them beside."""
    from corpuslake.plots.report import asset_plots  # deferred: matplotlib loads at the first plot, not at start-up

    try:
        shown = asset_plots(lake, dump, versions, parts)
    except (OSError, LookupError, ValueError) as error:  # a plot never fails the stage whose rows it draws
        return {"distributions": dg.MetadataValue.md(f"The distributions could not be drawn: {error}")}
    if shown is None:
        return {}
    markdown, folder = shown
    return {"distributions": dg.MetadataValue.md(markdown), "plots": dg.MetadataValue.path(folder)}


def samples_metadata(key: str, markdown: str) -> dict[str, Any]:
    """A few documents behind the step's decisions, as readable Markdown (an empty section is left out)."""
    return {key: dg.MetadataValue.md(markdown)} if markdown.strip() else {}
