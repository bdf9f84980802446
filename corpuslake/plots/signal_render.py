"""PNG plots of the stored signals' numbers (:mod:`corpuslake.plots.signals`), drawn like the other plots:
fixed sizes and no software field, so the same numbers give the same bytes."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from corpuslake.plots.render import _save

BUCKETS = ("head", "middle", "tail")
_COLORS = {"head": "#2f7d32", "middle": "#f9a825", "tail": "#c62828", "documents": "#1f5fa8"}


def perplexity_png(numbers: Mapping[str, Any], path: Path) -> Path:
    """Outlined steps per bucket over a log axis, each language's cutoffs as dashed lines."""
    figure = Figure(figsize=(10, 5))
    ax = figure.add_subplot()
    edges = np.asarray(numbers["edges"])
    for bucket in BUCKETS:
        label = f"{bucket} ({numbers['totals'][bucket]:,})"
        ax.stairs(numbers["counts"][bucket], edges, color=_COLORS[bucket], linewidth=1.5, label=label)
    ax.set_xscale("log")
    for index, (language, cut) in enumerate(numbers["cutoffs"].items()):
        for step, side in enumerate(("head", "middle")):
            ax.axvline(cut[side], color="black", linestyle="--", linewidth=1.0)
            # stacked down the axis: two cutoffs (or two languages') close together stay readable
            ax.annotate(
                f"{language} {side} ≤ {cut[side]:g}",
                xy=(cut[side], 1.0 - 0.07 * (2 * index + step)),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=8,
            )
    ax.set_xlabel(f"perplexity   (from {numbers['source']}; no perplexity: {numbers['totals']['no_perplexity']:,})")
    ax.set_ylabel("documents")
    ax.set_title(f"{numbers['dump']}: perplexity per bucket", pad=24)
    ax.legend(fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.86)
    return _save(figure, path)


def _label(row: Mapping[str, Any]) -> str:
    name = str(row["name"])
    return f"{row['domain']}  {name[:48] + '…' if len(name) > 48 else name}"


def domains_png(numbers: Mapping[str, Any], path: Path) -> Path:
    """One bar per domain label, named by its top terms, the largest on top."""
    rows = numbers["domains"]
    figure = Figure(figsize=(12, 1.5 + 0.32 * max(1, len(rows))))
    ax = figure.add_subplot()
    ax.barh([_label(r) for r in rows][::-1], [r["documents"] for r in rows][::-1], color=_COLORS["documents"])
    ax.set_xlabel(f"documents   (from {numbers['source']}; other domains: {numbers['other']:,})")
    ax.set_title(f"{numbers['dump']}: documents per domain ({numbers['distinct']} domains)")
    ax.tick_params(labelsize=8)
    figure.tight_layout()
    return _save(figure, path)


def by_domain_png(numbers: Mapping[str, Any], path: Path) -> Path:
    """The median perplexity per domain label as a dot, its quartiles as the line through it; a log axis
    once the quartiles span more than a decade (a narrower one reads better in plain numbers)."""
    rows = numbers["domains"][::-1]
    figure = Figure(figsize=(12, 1.5 + 0.32 * max(1, len(rows))))
    ax = figure.add_subplot()
    medians = np.asarray([r["median"] for r in rows], dtype=np.float64)
    spread = np.asarray([[r["median"] - r["p25"] for r in rows], [r["p75"] - r["median"] for r in rows]])
    labels = [_label(r) for r in rows]
    ax.errorbar(medians, labels, xerr=spread.reshape(2, -1), fmt="o", color=_COLORS["documents"], capsize=3)
    low, high = min((r["p25"] for r in rows), default=1.0), max((r["p75"] for r in rows), default=1.0)
    if low > 0 and high / low > 10:
        ax.set_xscale("log")
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"perplexity: median, line from 25th to 75th percentile   (from {' + '.join(numbers['sources'])})")
    ax.set_title(f"{numbers['dump']}: perplexity by domain")
    ax.tick_params(labelsize=8)
    figure.tight_layout()
    return _save(figure, path)
