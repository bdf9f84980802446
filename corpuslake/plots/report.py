"""A dump's plots written beside the lake, with their numbers, and the Markdown an asset attaches.

Files go under ``<lake>/_plots/<dump>/``, one folder per table version read, named so that the same
versions always give the same paths::

    filtered@v3/overview.png           every filter signal, kept against dropped, thresholds drawn
    filtered@v3/<signal>.png, .json    one signal: the plot and its bins, counts and thresholds
    scored@v5/quality_score.png, .json with each covering snapshot's cut
    content_signals@v2/...             personal data, bad words, benchmark overlap
    scored@v5/funnel.png, .json        documents -> kept by the filters -> after dedup -> scored -> snapshots
    scored@v5/domains.png, .json       registered and top-level domains, kept (in scored@v5) against dropped
    index.md                           the tables of all of it, with the images linked

The JSON beside each PNG holds exactly the numbers drawn. :func:`plots_markdown` renders the tables
with the images embedded as ``data:`` URIs, which Dagster's Markdown metadata shows inline.
"""

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpuslake.names import check_name
from corpuslake.plots import PARTS, Part
from corpuslake.plots.compute import Distributions, dump_distributions
from corpuslake.plots.render import domains_png, funnel_png, histogram_png, overview_png
from corpuslake.store import Lake

PLOTS_FOLDER = "_plots"


@dataclass
class PlotSet:
    """What was written for one dump: the files, and the Markdown sections that show them."""

    dump: str
    folder: Path
    pngs: list[Path] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    """Per part (``filtered``, ``scored``, ``content_signals``, ``domains``, ``funnel``): Markdown lines,
    with ``{image:<path>}`` where an image goes (:func:`plots_markdown` fills them in)."""


def plots_root(lake: Lake, out: str | Path | None = None) -> Path:
    """Where plots go: ``out``, or ``<lake>/_plots`` for a lake on the local filesystem."""
    if out is not None:
        return Path(out)
    if not lake.is_local:
        raise ValueError(f"{lake.root} is not on the local filesystem: give a folder for the plots")
    return Path(lake.root.removeprefix("file://")) / PLOTS_FOLDER


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_plots(
    lake: Lake,
    dump: str,
    *,
    out: str | Path | None = None,
    versions: dict[str, int] | None = None,
    parts: Sequence[Part] = PARTS,
    each_signal: bool = True,
) -> PlotSet:
    """Compute ``dump``'s distributions (:func:`dump_distributions`) and write their plots and numbers;
    ``each_signal=False`` draws a table's signals on its overview only (their JSON is written all the same)."""
    found = dump_distributions(lake, dump, versions=versions, parts=parts)
    if not found.versions:
        raise LookupError(f"no table of {lake.root} holds dump {dump!r}: nothing to plot")
    plots = PlotSet(dump, plots_root(lake, out) / check_name(dump, "dump"))
    for table, histograms in found.histograms.items():
        _write_histograms(plots, found, table, histograms, each_signal)
    last = found.kept_in or next((s.source for s in reversed(found.funnel) if "@v" in s.source), "")
    if found.funnel and last:
        _write_funnel(plots, found, plots.folder / last)
    if found.domains:
        _write_domains(plots, found, plots.folder / found.kept_in)
    _add_signal_plots(plots, lake, dump, out=out, versions=versions, parts=parts)
    plots.folder.mkdir(parents=True, exist_ok=True)  # a dump with nothing to draw still gets its index
    index = ["# Distributions of dump " + dump, ""]
    for lines in plots.sections.values():
        index += [_link(line, plots.folder) for line in lines] + [""]
    (plots.folder / "index.md").write_text("\n".join(index), encoding="utf-8")
    return plots


def _write_histograms(
    plots: PlotSet, found: Distributions, table: str, histograms: dict[str, Any], each_signal: bool
) -> None:
    folder = plots.folder / f"{table}@v{found.versions[table]}"
    folder.mkdir(parents=True, exist_ok=True)
    overview = overview_png(
        list(histograms.values()), f"{found.dump}: {table}@v{found.versions[table]}", folder / "overview.png"
    )
    plots.pngs.append(overview)
    series = sorted({s for h in histograms.values() for s in h.counts})
    lines = [f"### {table}@v{found.versions[table]}", "", f"{{image:{overview}}}", ""]
    lines += [
        "| signal | " + " | ".join(series) + " | thresholds | plot |",
        "| --- |" + " ---: |" * len(series) + " --- | --- |",
    ]
    for column, histogram in histograms.items():
        if each_signal:
            plots.pngs.append(histogram_png(histogram, folder / f"{column}.png"))
        _write_json(folder / f"{column}.json", histogram.as_json())
        limits = ", ".join(f"{t.label} {t.value:g}" + ("" if t.enabled else " (off)") for t in histogram.thresholds)
        totals = " | ".join(f"{histogram.total(s):,}" for s in series)
        plot = f"{folder.name}/{column}.png" if each_signal else "overview"
        lines.append(f"| {column} | {totals} | {limits or '-'} | {plot} |")
    plots.sections[table] = lines


def _write_funnel(plots: PlotSet, found: Distributions, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    png = funnel_png(found.funnel, f"{found.dump}: documents at each step", folder / "funnel.png")
    plots.pngs.append(png)
    steps = [{"step": s.label, "source": s.source, "documents": s.documents} for s in found.funnel]
    _write_json(folder / "funnel.json", {"dump": found.dump, "steps": steps})
    first = found.funnel[0].documents or 1
    lines = [
        "### Funnel",
        "",
        f"{{image:{png}}}",
        "",
        "| step | from | documents | share |",
        "| --- | --- | ---: | ---: |",
    ]
    lines += [f"| {s.label} | {s.source} | {s.documents:,} | {100 * s.documents / first:.1f}% |" for s in found.funnel]
    plots.sections["funnel"] = lines


def _write_domains(plots: PlotSet, found: Distributions, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    titles = {"registered": "registered domains", "tld": "top-level domains"}
    parts = [
        (f"{titles[k]} ({found.domains[k][2]:,} distinct)", top, other) for k, (top, other, _) in found.domains.items()
    ]
    png = domains_png(
        parts, f"{found.dump}: documents per domain, kept in {found.kept_in} against dropped", folder / "domains.png"
    )
    plots.pngs.append(png)
    data: dict[str, Any] = {"dump": found.dump, "kept_in": found.kept_in}
    lines = ["### Domains", "", f"{{image:{png}}}", ""]
    for kind, (top, other, distinct) in found.domains.items():
        rows = [{"domain": d.domain, "kept": d.kept, "dropped": d.dropped} for d in [*top, other]]
        data[kind] = {"distinct": distinct, "top": rows[:-1], "other": rows[-1]}
        lines += [f"| {titles[kind]} | kept | dropped |", "| --- | ---: | ---: |"]
        lines += [f"| {d.domain} | {d.kept:,} | {d.dropped:,} |" for d in top[:10]] + [""]
    _write_json(folder / "domains.json", data)
    plots.sections["domains"] = lines


def _add_signal_plots(
    plots: PlotSet,
    lake: Lake,
    dump: str,
    *,
    out: str | Path | None,
    versions: dict[str, int] | None,
    parts: Sequence[Part],
) -> None:
    """The stored signals' plots (perplexity, domain labels, perplexity by domain) in the same tree and index."""
    from corpuslake.plots.signals import SIGNAL_PARTS, write_signal_plots  # deferred: it imports this module

    wanted = [p for p in SIGNAL_PARTS if p in parts]
    if wanted:
        signals = write_signal_plots(lake, dump, out=out, versions=versions, parts=wanted)
        plots.pngs += signals.pngs
        plots.sections |= signals.sections


def _link(line: str, base: Path) -> str:
    if line.startswith("{image:"):
        path = Path(line[len("{image:") : -1])
        return f"![{path.stem}]({path.relative_to(base)})"
    return line


def plots_markdown(plots: PlotSet, parts: Sequence[Part] = PARTS, *, embed: bool = True) -> str:
    """The Markdown of ``parts`` for asset metadata: images embedded as ``data:image/png;base64`` URIs
    (``embed``), or linked by their paths on disk."""
    out: list[str] = []
    for part in parts:
        for line in plots.sections.get(part, []):
            if line.startswith("{image:"):
                path = Path(line[len("{image:") : -1])
                src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if embed else str(path)
                line = f"![{path.stem}]({src})"
            out.append(line)
        out.append("")
    return "\n".join(out).strip() + "\n"


def asset_plots(lake: Lake, dump: str, versions: dict[str, int], parts: Sequence[Part]) -> tuple[str, str] | None:
    """What an asset attaches after writing ``versions``: the Markdown of ``parts`` with the images
    embedded, and the folder of the files; None for a lake with no local folder to write them beside.
    Each table's signals are drawn on its overview only: an asset runs for every partition, and one PNG per
    signal is most of the drawing's time (``corpuslake plots`` draws them)."""
    if not lake.is_local:
        return None
    plots = write_plots(lake, dump, versions=versions, parts=parts, each_signal=False)
    return plots_markdown(plots, parts), str(plots.folder)
