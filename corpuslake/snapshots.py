"""Snapshot definitions: which documents of a stage table a published dataset holds.

A definition is a YAML file (one per snapshot) naming a source stage and a selection: dumps, languages,
a quality threshold or a top percent of the quality score over the chosen dumps, and content policies
(drop documents that overlap an evaluation set, cap the bad-word rate, redact personal data). Selecting
is a pure function of the source table's version and the definition, so publishing twice from the same
versions gives the same rows, and the catalog mints no new number for them.

Rows are ordered by ``id`` and carry a ``tokens`` column counted with the recorded tokenizer.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from corpuslake.lineage import TableVersion
from corpuslake.names import check_name
from corpuslake.policies import pii
from corpuslake.quality.select import top_percent_threshold
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer

SOURCES = ("scored", "deduplicated", "filtered", "documents")
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


class DefinitionError(ValueError):
    """A snapshot or mixture definition that cannot be used, with the file and the key at fault."""


@dataclass(frozen=True)
class SnapshotDefinition:
    """One published dataset: a selection from one stage table."""

    name: str
    """The snapshot's name: pins read ``corpuslake://<name>@<number>``."""
    description: str = ""
    source: str = "scored"
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
    """The source columns the snapshot keeps (``tokens`` is always added)."""

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

    @property
    def needs_signals(self) -> bool:
        return self.drop_contaminated or self.max_badword_rate is not None or self.redact_pii

    def as_config(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def definition_from_mapping(data: Mapping[str, Any], where: str) -> SnapshotDefinition:
    """A definition from parsed YAML; unknown keys and wrong types name ``where`` and the key."""
    if not isinstance(data, Mapping):
        raise DefinitionError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    known = {f.name for f in fields(SnapshotDefinition)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DefinitionError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    values = dict(data)
    for key in ("dumps", "languages", "columns"):
        if values.get(key) is not None:
            if not isinstance(values[key], list) or not all(isinstance(v, str) for v in values[key]):
                raise DefinitionError(f"{where}: {key} must be a list of strings")
            values[key] = tuple(values[key])
    try:
        return SnapshotDefinition(**values)
    except (TypeError, ValueError) as error:
        raise DefinitionError(f"{where}: {error}") from error


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise DefinitionError(f"{path}: not valid YAML: {error}") from error


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasName)


def load_named(folder: Path, parse: Callable[[Any, str], _Named], kind: str) -> list[_Named]:
    """Every ``*.yaml`` file in ``folder`` parsed by ``parse`` (none when the folder does not exist); the
    names they define must be unique."""
    loaded = [parse(load_yaml(p), str(p)) for p in sorted(folder.glob("*.yaml"))]
    repeated = [n for n, c in Counter(d.name for d in loaded).items() if c > 1]
    if repeated:
        raise DefinitionError(f"{folder}: {kind} name(s) defined twice: {', '.join(repeated)}")
    return loaded


def load_snapshot_definitions(folder: Path) -> list[SnapshotDefinition]:
    """Every ``*.yaml`` definition in ``folder`` (none when it does not exist); names must be unique."""
    return load_named(folder, definition_from_mapping, "snapshot")


@dataclass(frozen=True)
class Selection:
    rows: pa.Table
    upstream: tuple[TableVersion, ...]
    report: dict[str, Any]
    read: dict[str, list[str]] = field(default_factory=dict)
    """The dumps read from each upstream table (what the publication gate checks)."""


def select_snapshot(lake: Lake, definition: SnapshotDefinition, tokenizer: Tokenizer) -> Selection:
    """The rows a definition selects from the latest version of its source, ordered by id, with tokens."""
    version = lake.version(definition.source)
    if version is None:
        raise LookupError(f"snapshot {definition.name}: table {definition.source} does not exist yet")
    upstream = [TableVersion(definition.source, version)]
    available = set(lake.dataset(definition.source, version).schema.names)
    wanted = list(definition.columns)
    absent = [c for c in wanted if c not in available]
    if absent:
        raise DefinitionError(f"snapshot {definition.name}: {definition.source} has no column(s) {', '.join(absent)}")
    needed = list(
        dict.fromkeys(
            [*wanted, "language", "language_score"] + (["quality_score"] if _uses_quality(definition) else [])
        )
    )
    if "quality_score" in needed and "quality_score" not in available:
        raise DefinitionError(
            f"snapshot {definition.name}: quality selection needs source scored, not {definition.source}"
        )
    rows = lake.read(definition.source, version, dumps=definition.dumps, columns=needed)
    read_dumps = sorted(set(rows["dump"].to_pylist()))
    read = {definition.source: read_dumps}
    steps: dict[str, int] = {"source_rows": rows.num_rows}
    if definition.languages is not None:
        rows = rows.filter(pc.is_in(rows["language"], value_set=pa.array(definition.languages, pa.string())))
        steps["after_languages"] = rows.num_rows
    if definition.min_language_score is not None:
        rows = rows.filter(pc.greater_equal(rows["language_score"], definition.min_language_score))
        steps["after_language_score"] = rows.num_rows
    report: dict[str, Any] = {}
    if definition.quality_threshold is not None:
        rows = rows.filter(pc.greater_equal(rows["quality_score"], definition.quality_threshold))
        steps["after_quality"] = rows.num_rows
    elif definition.quality_top_percent is not None:
        cut, keep = top_percent_threshold(
            rows["quality_score"].to_numpy(), rows["id"].to_pylist(), definition.quality_top_percent
        )
        rows = rows.filter(pc.is_in(rows["id"], value_set=pa.array(sorted(keep), pa.string())))
        steps["after_quality"] = rows.num_rows
        report["quality_cut"] = round(cut, 6)
    if definition.needs_signals:
        rows, signals_version, redacted = _apply_policies(lake, definition, rows)
        upstream.append(TableVersion("content_signals", signals_version))
        read["content_signals"] = read_dumps
        steps["after_policies"] = rows.num_rows
        report["pii_redacted_documents"] = redacted
    rows = rows.select(wanted).sort_by("id")
    rows = rows.append_column("tokens", tokenizer.count(rows["text"]))
    by_dump = rows.group_by("dump").aggregate([("id", "count"), ("tokens", "sum")]).sort_by("dump")
    report |= {
        "steps": steps,
        "by_dump": {
            d: {"documents": n, "tokens": t}
            for d, n, t in zip(
                by_dump["dump"].to_pylist(),
                by_dump["id_count"].to_pylist(),
                by_dump["tokens_sum"].to_pylist(),
                strict=True,
            )
        },
    }
    return Selection(rows, tuple(upstream), report, read)


def _uses_quality(definition: SnapshotDefinition) -> bool:
    return definition.quality_threshold is not None or definition.quality_top_percent is not None


def _apply_policies(lake: Lake, definition: SnapshotDefinition, rows: pa.Table) -> tuple[pa.Table, int, int]:
    version = lake.version("content_signals")
    if version is None:
        raise LookupError(f"snapshot {definition.name}: its content policies need the content_signals table")
    dumps = sorted(set(rows["dump"].to_pylist()))
    signals = lake.read(
        "content_signals",
        version,
        dumps=dumps,
        columns=["id", "pii_emails", "pii_ips", "pii_phones", "pii_cards", "badword_rate", "contamination_ngrams"],
    )
    joined = rows.join(signals, keys="id", join_type="left outer")
    unscanned = joined.filter(pc.is_null(joined["badword_rate"]))
    if unscanned.num_rows:
        missing = sorted(set(unscanned["dump"].to_pylist()))
        raise LookupError(
            f"snapshot {definition.name}: {unscanned.num_rows} documents have no content signals "
            f"(materialize content_signals for dump(s) {', '.join(missing)})"
        )
    if definition.drop_contaminated:
        joined = joined.filter(pc.equal(joined["contamination_ngrams"], 0))
    if definition.max_badword_rate is not None:
        joined = joined.filter(pc.less_equal(joined["badword_rate"], definition.max_badword_rate))
    redacted = 0
    if definition.redact_pii:
        found = pc.add(
            pc.add(joined["pii_emails"], joined["pii_ips"]), pc.add(joined["pii_phones"], joined["pii_cards"])
        ).to_pylist()
        texts = joined["text"].to_pylist()
        redacted = sum(1 for n in found if n)
        cleaned = [pii.redact(t) if n else t for t, n in zip(texts, found, strict=True)]
        joined = joined.set_column(joined.schema.get_field_index("text"), "text", pa.array(cleaned, pa.string()))
    return joined.select(rows.column_names), version, redacted
