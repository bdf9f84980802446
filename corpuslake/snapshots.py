"""Snapshot definitions: which documents of a stage table a published dataset holds.

A definition is a YAML file (one per snapshot) naming a source stage and a selection: dumps, languages,
a quality threshold or a top percent of the quality score over the chosen dumps, and content policies
(drop documents that overlap an evaluation set, cap the bad-word rate, redact personal data), and ``where:``
clauses on per-document signal tables (:mod:`corpuslake.signal_clauses`). Selecting
is a pure function of the source table's version and the definition, so publishing twice from the same
versions gives the same rows, and the catalog mints no new number for them.

Rows are ordered by ``id`` and carry a ``tokens`` column counted with the recorded tokenizer. A snapshot
over several dumps holds one document per normalized text and per URL unless its definition keeps the
cross-dump duplicates (see :mod:`corpuslake.crossdump`). Selecting streams: see :mod:`corpuslake.selection`.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, get_args

import yaml

from corpuslake.names import check_name
from corpuslake.signal_clauses import CarriedColumn, SignalClause, carried_columns, parse_where
from corpuslake.typed import DefinitionError as DefinitionError  # re-exported: callers import it from here
from corpuslake.typed import Problems

CrossDump = Literal["drop", "keep"]
Source = Literal["scored", "deduplicated", "filtered", "documents"]

SOURCES: tuple[str, ...] = get_args(Source)
DEFAULT_COLUMNS = (
    "id",
    "dump",
    "url",
    "warc_record_id",
    "warc_date",
    "source_file",
    "text",
    "language",
    "language_score",
    "quality_score",
    "quality_model",
    "cluster_size",
)
REQUIRED_COLUMNS = ("id", "dump", "text")


@dataclass(frozen=True)
class SnapshotDefinition:
    """One published dataset: a selection from one stage table."""

    name: str
    """The snapshot's name: pins read ``corpuslake://<name>@<number>``."""
    description: str = ""
    source: Source = "scored"
    """The stage table selected from: scored, deduplicated, filtered or documents."""
    dumps: tuple[str, ...] | None = None
    """Only these dumps (default: every dump in the source table's version)."""
    languages: tuple[str, ...] | None = None
    """Only documents identified as one of these languages (default: any)."""
    min_language_score: float | None = None
    """Only documents whose language score is at least this."""
    quality_threshold: float | None = None
    """Only documents whose quality score is at least this (needs source ``scored``)."""
    quality_top_percent: float | None = None
    """Only the top X percent by quality score over the selected dumps, ties broken by id (DCLM: 10)."""
    drop_contaminated: bool = False
    """Drop documents that share a 13-gram with an evaluation set (reads ``content_signals``)."""
    max_badword_rate: float | None = None
    """Drop documents whose bad-word matches per word exceed this (reads ``content_signals``)."""
    redact_pii: bool = False
    """Replace e-mail addresses, public IPs, phone and card numbers with placeholders."""
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    """The source columns the snapshot keeps (``tokens`` is always added); ``<table>.<column>`` carries a
    signal column under its own name (``domains.domain`` publishes ``domain``)."""
    cross_dump_duplicates: CrossDump = "drop"
    """Across several dumps: ``drop`` keeps one document per normalized text and per URL (the first by
    dump order, then id); ``keep`` publishes every dump's copy (exact dedup is per dump)."""
    where: tuple[SignalClause, ...] = ()
    """Signal clauses, all applied: each joins its table's latest version on id, per dump; a document
    with no row there is left out (and counted)."""

    def __post_init__(self) -> None:
        check_name(self.name, "snapshot name")
        if self.source not in SOURCES:
            raise DefinitionError(
                f"snapshot {self.name}: source must be one of {', '.join(SOURCES)}, not {self.source!r}"
            )
        if self.quality_threshold is not None and self.quality_top_percent is not None:
            raise DefinitionError(f"snapshot {self.name}: give quality_threshold or quality_top_percent, not both")
        if self.quality_top_percent is not None and not 0 < self.quality_top_percent <= 100:
            raise DefinitionError(f"snapshot {self.name}: quality_top_percent must be in (0, 100]")
        missing = [c for c in REQUIRED_COLUMNS if c not in self.columns]
        if missing:
            raise DefinitionError(f"snapshot {self.name}: columns must include {', '.join(missing)}")
        for dump in self.dumps or ():
            check_name(dump, "dump")
        for clause in self.where:
            if not isinstance(clause, SignalClause):
                raise DefinitionError(f"snapshot {self.name}: where must hold signal clauses, not {clause!r}")
        carried_columns(self.columns, f"snapshot {self.name}")
        if self.cross_dump_duplicates not in ("drop", "keep"):
            raise DefinitionError(
                f"snapshot {self.name}: cross_dump_duplicates must be drop or keep, not {self.cross_dump_duplicates!r}"
            )

    @property
    def needs_signals(self) -> bool:
        return self.drop_contaminated or self.max_badword_rate is not None or self.redact_pii

    @property
    def carried(self) -> tuple[CarriedColumn, ...]:
        """The signal columns the snapshot publishes beside its source columns."""
        return carried_columns(self.columns, f"snapshot {self.name}")

    def as_config(self) -> dict[str, Any]:
        config = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "where"}
        # Only a definition with clauses records them: older definitions keep their recorded config.
        return config | ({"where": [c.as_config() for c in self.where]} if self.where else {})


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def definition_from_mapping(data: Mapping[str, Any], where: str) -> SnapshotDefinition:
    """A definition from parsed YAML: every value is checked against its field's type (a quoted ``"no"``
    is not a boolean, a quoted number is not a number), and every error names ``where`` and the key."""
    problems = Problems()
    values = problems.values(SnapshotDefinition, data, where, skip=("where",))
    try:
        values["where"] = parse_where(data.get("where"), where)
    except DefinitionError as error:
        problems.found += error.problems
    problems.raise_any()
    try:
        return SnapshotDefinition(**values)
    except (TypeError, ValueError) as error:
        raise DefinitionError(f"{where}: {error}") from error


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise DefinitionError(f"{path}: not valid YAML: {_yaml_problem(error)}") from error


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line: where the parser stopped and why (PyYAML's own message spans several lines)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is not None and problem:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasName)


def load_each(
    folder: Path, parse: Callable[[Any, str], _Named], kind: str
) -> tuple[list[_Named], list[DefinitionError]]:
    """Every ``*.yaml`` file in ``folder`` parsed by ``parse`` (none when the folder does not exist), and
    the errors of the files that could not be used: one bad file does not hide the others. A name
    defined by two files is an error of both, and neither is used."""
    loaded: list[tuple[Path, _Named]] = []
    errors: list[DefinitionError] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            loaded.append((path, parse(load_yaml(path), str(path))))
        except DefinitionError as error:
            errors.append(error)
    counts = Counter(d.name for _, d in loaded)
    for path, d in loaded:
        if counts[d.name] > 1:
            errors.append(DefinitionError(f"{path}: {kind} name {d.name} is defined by {counts[d.name]} files"))
    return [d for _, d in loaded if counts[d.name] == 1], errors


def load_named(folder: Path, parse: Callable[[Any, str], _Named], kind: str) -> list[_Named]:
    """Every ``*.yaml`` file in ``folder`` parsed by ``parse``; any error raises one :class:`DefinitionError`
    whose ``problems`` list every problem of every file."""
    loaded, errors = load_each(folder, parse, kind)
    if errors:
        problems = [p for e in errors for p in e.problems]
        raise DefinitionError("; ".join(problems), problems)
    return loaded


def load_snapshot_definitions(folder: Path) -> list[SnapshotDefinition]:
    """Every ``*.yaml`` definition in ``folder`` (none when it does not exist); names must be unique."""
    return load_named(folder, definition_from_mapping, "snapshot")
