"""RefinedWeb's guard on line edits (Penedo et al. 2023, as reproduced in DCLM): a document whose line
edits removed more than a fraction of its words is dropped, since what is left is no longer the page.

It reads the ``c4_removed_word_fraction`` signal (whitespace words before and after C4's edits).
RefinedWeb's own line corrections (counters, "sign in" lines, all-caps lines) are not reproduced; the
edits measured are C4's.
"""

from dataclasses import dataclass

from corpuslake.filters.base import Failure, Signals

NAME = "refinedweb"


@dataclass(frozen=True)
class RefinedWebConfig:
    """The word-removal guard."""

    enabled: bool = False
    """Apply it. Off by default because FineWeb, whose chain this stage follows, does not; its signal
    is stored either way, so a snapshot can still select on it."""
    max_removed_word_fraction: float = 0.05
    """More than this fraction of words removed by the line edits: ``removed_words``."""


def decide(s: Signals, config: RefinedWebConfig) -> Failure | None:
    value = s["c4_removed_word_fraction"]
    if value > config.max_removed_word_fraction:
        return Failure(NAME, "removed_words", f"{value:.3f} of words removed > {config.max_removed_word_fraction}")
    return None
