"""A dump's distributions as plots: a histogram per stored signal with its thresholds, documents per
domain kept against dropped, and the funnel, as PNG files beside the lake with their numbers in JSON
and Markdown (:func:`corpuslake.plots.report.write_plots`).

Rendering needs matplotlib (the service's): importing this package loads none of it.
"""

from typing import Literal, get_args

Part = Literal[
    "filtered", "scored", "content_signals", "domains", "funnel", "perplexity", "domain_labels", "perplexity_by_domain"
]
"""What can be plotted: a table's histograms, the domains, the funnel, the stored signals' plots."""
PARTS: tuple[Part, ...] = get_args(Part)
