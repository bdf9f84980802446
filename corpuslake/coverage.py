"""What a publication covers, in words, from its catalog entry's report.

A snapshot's report records the dumps it read and the dumps it left out with the reasons (``coverage``);
a mixture's records its pinned sources' coverage, and the tokens and shares it asked for against what it
got (see :mod:`corpuslake.mixtures`). Partial coverage and shortfalls are warnings. Entries published
before a field was recorded simply show less.
"""

from collections.abc import Mapping
from typing import Any

from corpuslake.catalog import CatalogEntry


def coverage_lines(entry: CatalogEntry, *, partial_only: bool = False) -> list[str]:
    """One line per covered set of dumps (one for a snapshot, one per source of a mixture), starting
    with ``WARNING`` when dumps were left out; ``partial_only`` keeps only those."""
    coverage = entry.report.get("coverage")
    if not isinstance(coverage, Mapping):
        return []
    sets = sorted(coverage["sources"].items()) if "sources" in coverage else [("", coverage)]
    lines = []
    for uri, covered in sets:
        partial, text = _dumps_sentence(covered)
        if partial or not partial_only:
            lines.append(("WARNING " if partial else "") + (f"{uri}: " if uri else "") + text)
    return lines


def _dumps_sentence(coverage: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether dumps were left out, and the dumps covered and left out (with the reasons) in words."""
    covered = list(coverage.get("dumps", []))
    left_out: Mapping[str, list[str]] = coverage.get("left_out", {})
    text = f"covers {len(covered)} dump(s): {', '.join(covered) or 'none'}"
    if not left_out:
        return False, text
    skipped = "; ".join(f"{dump} ({', '.join(reasons)})" for dump, reasons in sorted(left_out.items()))
    return True, f"{text}; left out {len(left_out)}: {skipped}"


def proportion_lines(entry: CatalogEntry, *, detail: bool = False) -> list[str]:
    """A mixture's requested against realized tokens and shares per phase, and each shortfall as a
    warning; nothing for a snapshot. With ``detail``, one line per phase and source, with tokens; without,
    a shortfall's warnings (which say the same) stand for the rest."""
    report = entry.report
    requested = report.get("target_tokens")
    if not isinstance(requested, int | float):
        return []
    shortfalls = [f"WARNING shortfall: {s}" for s in report.get("shortfalls", [])]
    if shortfalls and not detail:
        return shortfalls
    realized = int(report.get("realized_tokens", entry.tokens))
    fraction = f" ({realized / requested:.1%})" if requested else ""
    lines = [f"tokens: requested {round(requested):,}, realized {realized:,}{fraction}"]
    for phase in report.get("phases", []):
        sources = phase.get("sources", [])
        if detail:
            lines += [f"  {phase.get('phase')}: {_source_line(s)}" for s in sources]
            continue
        asked = "/".join(f"{s.get('requested_share', 0):.3f}" for s in sources)
        got = "/".join(f"{s.get('realized_share', 0):.3f}" for s in sources)
        names = ", ".join(str(s.get("source")) for s in sources)
        lines.append(f"  {phase.get('phase')}: shares requested {asked}, realized {got} ({names})")
    return lines + shortfalls


def _source_line(source: Mapping[str, Any]) -> str:
    capped = ", capped by the repetition limit" if source.get("capped") else ""
    return (
        f"{source.get('source')} share requested {source.get('requested_share', 0):.3f}, "
        f"realized {source.get('realized_share', 0):.3f}; tokens requested {source.get('requested_tokens', 0):,}, "
        f"realized {source.get('realized_tokens', 0):,}{capped}"
    )
