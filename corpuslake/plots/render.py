"""PNG plots of a dump's distributions, drawn with matplotlib's Agg renderer (no display, no pyplot state).

Every figure is written with fixed sizes and no timestamp or software field, so the same numbers give
the same bytes. The funnel is 1600 pixels wide with labels large enough to read at that width.
"""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from corpuslake.plots.bins import Histogram
from corpuslake.plots.compute import FunnelStep
from corpuslake.plots.domains import DomainCount

DPI = 100
_COLORS = {"kept": "#2f7d32", "dropped": "#c62828", "documents": "#1f5fa8"}
_PNG_METADATA: dict[str, str | None] = {"Software": None}  # no version string: the same plot, the same bytes


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI, metadata=_PNG_METADATA)
    return path


_STEPS = [1, 2, 2.5, 5, 10]  # matplotlib's default tick steps (0.2, 0.25, 0.5...), fewer of them
_LOG_TICKS = (0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)


def _axis(histogram: Histogram) -> tuple[np.ndarray, Callable[[float], float]]:
    """Bin edges on the drawn axis: counts are drawn over log10(1 + x) with ticks at powers of ten
    (matplotlib's own symlog scale costs several times the drawing time of the whole plot)."""
    if histogram.scale == "log":
        return np.log10(1.0 + np.asarray(histogram.edges)), lambda v: float(np.log10(1.0 + max(v, 0.0)))
    return np.asarray(histogram.edges), float


def draw_histogram(ax: Axes, histogram: Histogram, *, small: bool = False) -> None:
    """One signal's series as outlined steps (kept over dropped), with its thresholds as vertical lines."""
    edges, where = _axis(histogram)
    for series in sorted(histogram.counts, key=lambda s: (s != "dropped", s)):
        counts = histogram.counts[series]
        label = f"{series} ({histogram.total(series):,})"
        color = _COLORS.get(series, "#555555")
        # one patch filled translucent and outlined opaque: half the artists of a fill and an outline drawn
        # apart (each added patch costs matplotlib a walk of its path for the data limits)
        ax.stairs(counts, edges, fill=True, facecolor=to_rgba(color, 0.35), edgecolor=color, linewidth=1.0, label=label)
    if histogram.scale == "log":
        ax.set_xticks(
            [where(t) for t in _LOG_TICKS], [f"{t:,}" if t < 10_000 else f"1e{len(str(t)) - 1}" for t in _LOG_TICKS]
        )
    for threshold in histogram.thresholds:
        style = "--" if threshold.enabled else ":"
        ax.axvline(
            where(threshold.value),
            color="black",
            linestyle=style,
            linewidth=1.2,
            alpha=1.0 if threshold.enabled else 0.4,
        )
        if not small:
            keep = "keep ≥" if threshold.keep == "above" else "keep ≤"
            ax.annotate(
                f"{threshold.label}\n{keep} {threshold.value:g}",
                xy=(where(threshold.value), 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=8,
            )
    if small:
        # a few ticks per axis: tick objects are most of a small multiple's cost, and at this size more
        # labels would overlap
        if histogram.scale != "log":
            ax.xaxis.set_major_locator(MaxNLocator(4, steps=_STEPS))
        ax.yaxis.set_major_locator(MaxNLocator(4, steps=_STEPS))
    # a fixed title position: matplotlib's automatic one measures every tick label of the axes first
    ax.set_title(histogram.column, fontsize=9 if small else 12, pad=4 if small else 24, y=1.0)
    ax.tick_params(labelsize=7 if small else 9)
    if not small:
        ax.set_xlabel(f"{histogram.column}   (from {histogram.source})", fontsize=9)
        ax.set_ylabel("documents")
        # above the plot, where no threshold's label can be
        ax.legend(fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)


def histogram_png(histogram: Histogram, path: Path) -> Path:
    figure = Figure(figsize=(10, 5))
    draw_histogram(figure.add_subplot(), histogram)
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.88)
    return _save(figure, path)


def overview_png(histograms: Sequence[Histogram], title: str, path: Path) -> Path:
    """Every histogram of a table as small multiples, four to a row (the page an asset shows)."""
    columns = 4
    rows = max(1, -(-len(histograms) // columns))
    height = 2.6 * rows + 1.0
    figure = Figure(figsize=(16, height))
    for index, histogram in enumerate(histograms):
        draw_histogram(figure.add_subplot(rows, columns, index + 1), histogram, small=True)
    figure.suptitle(f"{title}   (kept green, dropped red; dashed: thresholds)", fontsize=13, y=1 - 0.2 / height)
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.4 / height, top=1 - 0.9 / height, hspace=0.45)
    return _save(figure, path)


def domains_png(parts: Sequence[tuple[str, list[DomainCount], DomainCount]], title: str, path: Path) -> Path:
    """Side by side, per domain kind: the top domains as kept + dropped bars, the rest as ``(other)``."""
    height = max(len(top) + 1 for _, top, _ in parts) * 0.32 + 1.5
    figure = Figure(figsize=(16, height))
    for index, (label, top, other) in enumerate(parts):
        ax = figure.add_subplot(1, len(parts), index + 1)
        shown = [*top, other]
        names = [d.domain for d in shown][::-1]
        kept = np.array([d.kept for d in shown][::-1])
        dropped = np.array([d.dropped for d in shown][::-1])
        ax.barh(names, kept, color=_COLORS["kept"], label="kept")
        ax.barh(names, dropped, left=kept, color=_COLORS["dropped"], alpha=0.7, label="dropped")
        ax.set_title(label, fontsize=12)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("documents")
        ax.legend(fontsize=9, loc="lower right")
    figure.suptitle(title, fontsize=13)
    figure.tight_layout()
    return _save(figure, path)


def funnel_png(steps: Sequence[FunnelStep], title: str, path: Path) -> Path:
    """The documents left at each step, as bars 1600 pixels wide with counts and shares written in."""
    figure = Figure(figsize=(16, 1.6 + 0.7 * max(1, len(steps))))
    ax = figure.add_subplot()
    first = steps[0].documents if steps and steps[0].documents else 1
    labels = [f"{s.label}\n{s.source}" for s in steps][::-1]
    counts = [s.documents for s in steps][::-1]
    bars = ax.barh(labels, counts, color=_COLORS["documents"])
    for bar, count in zip(bars, counts, strict=True):
        ax.annotate(
            f"{count:,}  ({100 * count / first:.1f}%)",
            xy=(bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=13,
        )
    ax.set_xlim(0, max(counts or [1]) * 1.25)
    ax.tick_params(labelsize=12)
    ax.set_xlabel("documents", fontsize=12)
    ax.set_title(title, fontsize=15)
    figure.tight_layout()
    return _save(figure, path)
