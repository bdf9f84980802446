"""The stored signals' plots (perplexity, domain labels, perplexity by domain) as asset metadata."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg

from corpuslake.store import Lake

if TYPE_CHECKING:
    from corpuslake.plots.signals import SignalPart


def signal_plots_metadata(
    lake: Lake, dump: str, written: dict[str, int], parts: "Sequence[SignalPart]"
) -> dict[str, Any]:
    """``parts`` of ``dump`` drawn from the version just ``written`` and the latest of the other signal table,
    embedded in Markdown with their numbers; a plot that cannot be drawn says why and never fails the stage."""
    try:  # deferred: matplotlib loads at the first plot, not at start-up
        from corpuslake.plots.signals import asset_signal_plots

        shown = asset_signal_plots(lake, dump, written, parts)
    except Exception as error:  # the rows are written: a drawing problem must not undo the materialization
        return {"signal_plots": dg.MetadataValue.md(f"The signal plots could not be drawn: {error!r}")}
    if shown is None:
        return {}
    markdown, folder = shown
    return {"signal_plots": dg.MetadataValue.md(markdown), "signal_plots_folder": dg.MetadataValue.path(folder)}
