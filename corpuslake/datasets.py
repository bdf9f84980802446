"""Publishing the configured datasets: every snapshot definition, then every mixture recipe.

A definitions folder holds ``snapshots/*.yaml`` and ``mixtures/*.yaml``. Snapshots publish first, so a
recipe can pin a number that this same run minted.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpuslake import __version__
from corpuslake.catalog import Catalog
from corpuslake.fresh import run_apart
from corpuslake.lineage import TableVersion
from corpuslake.mixtures import MixtureRecipe, build_mixture, load_recipes
from corpuslake.parallel import Workers
from corpuslake.publish import Audit, Publication, PublicationBlockedError, publish
from corpuslake.quarantine import quarantined
from corpuslake.selection import Selection, select_snapshot
from corpuslake.snapshots import SnapshotDefinition, load_snapshot_definitions
from corpuslake.spill import DEFAULT_SPILL, SpillConfig
from corpuslake.store import ROWS_PER_FILE, Lake
from corpuslake.tokens import Tokenizer, default_tokenizer
from corpuslake.verdicts import gate_failures, record_blocked


@dataclass(frozen=True)
class Definitions:
    snapshots: list[SnapshotDefinition] = field(default_factory=list)
    mixtures: list[MixtureRecipe] = field(default_factory=list)


def load_definitions(folder: str | Path) -> Definitions:
    """The snapshot definitions and mixture recipes under ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset definitions folder {root} does not exist")
    return Definitions(load_snapshot_definitions(root / "snapshots"), load_recipes(root / "mixtures"))


def publish_snapshot(
    lake: Lake,
    definition: SnapshotDefinition,
    run_id: str,
    tokenizer: Tokenizer | None = None,
    audits: Sequence[Audit] | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    required_checks: Mapping[str, Sequence[str]] | None = None,
    *,
    workers: Workers = 1,
    spill: SpillConfig = DEFAULT_SPILL,
) -> Publication:
    """Select, count tokens, gate, write, audit and record one snapshot.

    ``required_checks`` names, per upstream table, the checks that must have passed on every dump read,
    at the version read (see :func:`corpuslake.verdicts.gate_failures`); None requires none. The selection
    is staged in the lake's staging folder and spills there (``spill``), in a process of its own that exits
    when the rows are staged (:mod:`corpuslake.fresh`; in this one when ``workers`` is a number up to 1);
    ``workers`` count the tokens and write the files.

    Quarantined dumps (:func:`corpuslake.quarantine.quarantined`, with ``required_checks``) are left out
    of a definition that does not name its dumps, and the report's ``coverage`` says so; a definition
    that names one is blocked with its reasons, and so is one whose every dump is quarantined.
    """
    counter = tokenizer or default_tokenizer()
    held = quarantined(lake, required_checks)
    _refuse_quarantined(lake, definition, run_id, held)
    with lake.staging() as folder:
        left_out = held if definition.dumps is None else None
        selection = run_apart(_select, _SelectJob(lake, definition, counter, str(folder), spill, left_out), workers)
        coverage = selection.report["coverage"]
        if left_out and not coverage["dumps"]:
            reasons = [r for why in coverage["left_out"].values() for r in why]
            record_blocked(lake, definition.name, run_id, reasons)
            raise PublicationBlockedError(definition.name, "every dump is quarantined", reasons)

        def gate() -> list[str]:
            return [
                reason
                for upstream in selection.upstream
                for reason in gate_failures(
                    lake,
                    upstream.table,
                    upstream.version,
                    selection.read.get(upstream.table, []),
                    (required_checks or {}).get(upstream.table, []),
                )
            ]

        return publish(
            lake,
            definition.name,
            "snapshot",
            selection.rows,
            order_by="id",
            tokenizer=str(counter.info),
            upstream=selection.upstream,
            definition=definition.as_config(),
            report=selection.report,
            run_id=run_id,
            code_version=__version__,
            audits=audits,
            rows_per_file=rows_per_file,
            gate=gate,
            workers=workers,
        )


@dataclass(frozen=True)
class _SelectJob:
    """What a snapshot's selection needs, sent to the process that selects."""

    lake: Lake
    definition: SnapshotDefinition
    tokenizer: Tokenizer
    staging: str
    spill: SpillConfig
    left_out: dict[str, list[str]] | None


def _select(job: _SelectJob) -> Selection:
    """The selection, staged under ``job.staging``. Its cross-dump keys are computed here, in the selecting
    process: that process has no pool of its own to hand them to, and the keys cost about 20 ms per MB of
    text."""
    return select_snapshot(
        job.lake, job.definition, job.tokenizer, Path(job.staging), spill=job.spill, left_out=job.left_out
    )


def _refuse_quarantined(lake: Lake, definition: SnapshotDefinition, run_id: str, held: dict[str, list[str]]) -> None:
    """Block a definition that names a quarantined dump: leaving out a dump asked for by name would
    publish something else than what the definition says."""
    named = [d for d in definition.dumps or () if d in held]
    if named:
        reasons = [r for d in named for r in held[d]]
        record_blocked(lake, definition.name, run_id, reasons)
        raise PublicationBlockedError(definition.name, f"it names quarantined dump(s) {', '.join(named)}", reasons)


def publish_mixture(
    lake: Lake,
    recipe: MixtureRecipe,
    run_id: str,
    audits: Sequence[Audit] | None = None,
    rows_per_file: int = ROWS_PER_FILE,
    *,
    workers: Workers = 1,
    spill: SpillConfig = DEFAULT_SPILL,
    upstream: Sequence[TableVersion] = (),
    report: Mapping[str, Any] | None = None,
) -> Publication:
    """Build, write, audit and record one mixture (its token counts are its sources'); ``upstream`` and
    ``report`` add what else decided the recipe (a mixture search's proxy runs) to its lineage and report."""
    with lake.staging() as folder:
        selection = build_mixture(lake, recipe, folder, spill=spill)
        tokenizers = sorted({source["tokenizer"] for source in selection.report["sources"].values()})
        return publish(
            lake,
            recipe.name,
            "mixture",
            selection.rows,
            order_by="position",
            tokenizer=" | ".join(tokenizers),
            upstream=(*selection.upstream, *upstream),
            definition=recipe.as_config(),
            report={**selection.report, **_sources_coverage(lake, selection.report), **(report or {})},
            run_id=run_id,
            code_version=__version__,
            audits=audits,
            rows_per_file=rows_per_file,
            workers=workers,
        )


def _sources_coverage(lake: Lake, report: Mapping[str, Any]) -> dict[str, Any]:
    """The dumps each pinned source covers and leaves out, as their own publications recorded them: a
    mixture inherits its snapshots' coverage."""
    catalog = Catalog(lake)
    coverage = {uri: catalog.resolve(uri).report.get("coverage") for uri in report.get("sources", {})}
    known = {uri: c for uri, c in coverage.items() if c is not None}
    return {"coverage": {"sources": known}} if known else {}
