"""A mixture's shortfall: what a recipe asked for against what its sources could give.

A source stops at its repetition cap (``max_epochs`` passes over its documents), or has no document to
draw at all (a ``min_quality`` none reaches). Its phase then holds fewer tokens than asked, and the
phase's other sources a larger share than their weights: a recipe asking 50M tokens at 50/50 may realize
2.6M at 73.5/26.5. The shortfall is recorded in the mixture's report (``shortfall``, ``shortfalls``), logged
as a warning, or, with ``on_shortfall: fail``, refuses the publication.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from corpuslake.publish import PublicationBlockedError

log = logging.getLogger(__name__)


class MixtureShortfallError(PublicationBlockedError):
    """A recipe with ``on_shortfall: fail`` whose sources could not give what it asked (nothing is written)."""

    def __init__(self, name: str, reasons: Sequence[str]) -> None:
        super().__init__(name, "on_shortfall: fail, and its sources fall short", reasons)


def _weights(values: Sequence[float]) -> str:
    return "/".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in values)


def _source_message(phase: str, line: Mapping[str, Any]) -> str:
    source = line["source"]
    if not line.get("available_tokens", 1):
        return f"{phase}: {source} gave 0 of {line['requested_tokens']:,} tokens (it has no document to draw)"
    return (
        f"{phase}: {source} gave {line['realized_tokens']:,} of {line['requested_tokens']:,} tokens "
        f"(repetition cap: {line.get('max_epochs', 0):g} passes over its {line.get('available_tokens', 0):,} tokens)"
    )


def shortfall(target_tokens: int, phases: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The shortfall of a drawn mixture, or None when no source fell short. ``phases`` are the report's
    phase lines: requested and realized tokens and shares per source, whether its cap stopped it."""
    short = [p for p in phases if any(line["capped"] for line in p["sources"])]
    if not short:
        return None
    realized = sum(p["realized_tokens"] for p in phases)
    messages = [_source_message(p["phase"], line) for p in short for line in p["sources"] if line["capped"]]
    summary = []
    for p in short:
        lines = p["sources"]
        summary.append(
            {
                "phase": p["phase"],
                "requested_tokens": p["requested_tokens"],
                "realized_tokens": p["realized_tokens"],
                "sources": [line["source"] for line in lines],
                "requested_shares": [line["requested_share"] for line in lines],
                "realized_shares": [line["realized_share"] for line in lines],
                "capped": [line["source"] for line in lines if line["capped"]],
            }
        )
        if len(lines) > 1:
            messages.append(
                f"{p['phase']}: weights {_weights([line['requested_share'] for line in lines])} asked, "
                f"{_weights([line['realized_share'] for line in lines])} realized "
                f"({', '.join(line['source'] for line in lines)})"
            )
    fraction = realized / target_tokens
    messages.append(f"{target_tokens:,} tokens asked, {realized:,} realized ({fraction:.1%})")
    return {
        "requested_tokens": target_tokens,
        "realized_tokens": realized,
        "realized_fraction": round(fraction, 4),
        "phases": summary,
        "messages": messages,
    }


def settle(name: str, found: Mapping[str, Any] | None, on_shortfall: str) -> None:
    """Refuse the mixture (``fail``) or log its shortfall as a warning (``warn``)."""
    if found is None:
        return
    if on_shortfall == "fail":
        raise MixtureShortfallError(name, found["messages"])
    log.warning("mixture %s falls short of its recipe: %s", name, "; ".join(found["messages"]))
