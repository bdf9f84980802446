"""Selecting a snapshot's rows in bounded memory: DuckDB over the source version's files, per dump.

The source's dumps are scanned by DuckDB (only the columns the definition needs; each dump's files of
the exact version read), filtered by language and score, cut at the top percent in two passes over the
score column (:func:`corpuslake.quality.select.top_percent_cut`), joined with the content signals when
policies apply, staged, cleared of cross-dump duplicates (:mod:`corpuslake.crossdump`) as it is sorted by
id into one staged Parquet file (:mod:`corpuslake.widesort`). DuckDB spills to the staging folder past its memory
limit; this process never holds the rows. Tokens are counted later, by the workers that write the published files,
except those the token cache already knows (:mod:`corpuslake.token_cache`): the selection joins them in.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from duckdb import ColumnExpression as C
from duckdb import ConstantExpression as K
from duckdb import FunctionExpression as F

from corpuslake.crossdump import drop_duplicates, dropped_ids
from corpuslake.lineage import TableVersion
from corpuslake.ordered import REDACT_COLUMN, OrderedRows
from corpuslake.parallel import Workers
from corpuslake.quality.select import top_percent_cut
from corpuslake.signal_clauses import source_columns
from corpuslake.signal_select import SignalJoin
from corpuslake.snapshots import DefinitionError, SnapshotDefinition
from corpuslake.spill import DEFAULT_SPILL, SpillConfig, connect, count_rows, dump_relation, union_all
from corpuslake.store import Lake
from corpuslake.text_cache import exact_keys, token_counts, with_cached
from corpuslake.tokens import Tokenizer
from corpuslake.widesort import sort_file, write_unordered

_DOUBLE = duckdb.sqltypes.DOUBLE
_SIGNALS = ["id", "pii_emails", "pii_ips", "pii_phones", "pii_cards", "badword_rate", "contamination_ngrams"]


@dataclass(frozen=True)
class Selection:
    rows: OrderedRows
    upstream: tuple[TableVersion, ...]
    report: dict[str, Any]
    read: dict[str, list[str]] = field(default_factory=dict)
    """The dumps read from each upstream table (what the publication gate checks)."""


def select_snapshot(
    lake: Lake,
    definition: SnapshotDefinition,
    tokenizer: Tokenizer,
    staging: Path,
    *,
    workers: Workers = 1,
    spill: SpillConfig = DEFAULT_SPILL,
    row_group_rows: int = 8192,
    left_out: Mapping[str, Sequence[str]] | None = None,
) -> Selection:
    """The rows a definition selects from the latest version of its source, ordered by id, staged under
    ``staging``; ``tokenizer``'s model counts their tokens when they are published.

    ``left_out`` names dumps not to read, each with its reasons (quarantined dumps); the report's
    ``coverage`` says which dumps were read and which were left out and why."""
    version = lake.version(definition.source)
    if version is None:
        raise LookupError(f"snapshot {definition.name}: table {definition.source} does not exist yet")
    schema = lake.dataset(definition.source, version).schema
    wanted = source_columns(definition.columns)  # columns naming <table>.<column> come from signal tables
    absent = [c for c in wanted if c not in schema.names]
    if absent:
        raise DefinitionError(f"snapshot {definition.name}: {definition.source} has no column(s) {', '.join(absent)}")
    quality = definition.quality_threshold is not None or definition.quality_top_percent is not None
    if quality and "quality_score" not in schema.names:
        raise DefinitionError(
            f"snapshot {definition.name}: quality selection needs source scored, not {definition.source}"
        )
    extra = ["language", "language_score", "url"] + (["quality_score"] if quality else [])
    needed = list(dict.fromkeys([*wanted, *[c for c in extra if c in schema.names]]))
    dumps, skipped = _dumps(lake, definition, version, left_out or {})
    signals = SignalJoin(lake, definition)  # the where: clauses and carried signal columns
    carried = [f.name for f in signals.fields()]
    upstream = [TableVersion(definition.source, version), *signals.upstream]
    con = connect(staging, spill)
    try:
        parts = [
            signals.join(con, dump_relation(con, lake, definition.source, version, d, i, needed, schema), d)
            for i, d in enumerate(dumps)
        ]
        if not parts:
            empty = pa.schema([schema.field(c) for c in needed]).append(pa.field("dump_rank", pa.int32()))
            parts = [signals.join(con, con.from_arrow(empty.empty_table()), None)]
        relation, where = union_all(parts), None
        if signals.active:
            relation, where = signals.select(relation, [*needed, "dump_rank"])
        steps, report, relation = _filter(con, definition, relation)
        if where is not None:
            report["where"] = where
        report["coverage"] = {"dumps": dumps, "left_out": skipped}
        if definition.needs_signals:
            relation, signals_version = _apply_policies(con, lake, definition, relation, dumps)
            upstream.append(TableVersion("content_signals", signals_version))
            steps["after_policies"] = count_rows(relation)
        counts = token_counts(lake, tokenizer.info.sha256)
        cross_dump = definition.cross_dump_duplicates == "drop" and len(dumps) > 1 and "url" in needed
        caches = [counts, exact_keys(lake)] if cross_dump else [counts]
        relation = with_cached(con, relation, caches, REDACT_COLUMN if definition.redact_pii else None)
        staged, unordered = staging / "selected.parquet", staging / "selected-unordered.parquet"
        hidden = ["dump_rank", *[c.column for c in caches]] + ([REDACT_COLUMN] if definition.redact_pii else [])
        kept = [*wanted, *carried]
        kept = list(dict.fromkeys([*kept, "url", *hidden])) if "url" in needed else [*kept, *hidden]
        rows = write_unordered(relation.project(*[C(c) for c in kept]), unordered, row_group_rows)
        # DuckDB keeps the blocks freed by staging the texts (most of its memory limit) until it is closed;
        # the passes below need narrow columns only, and the bucket sort needs that memory.
        con.close()
        con = connect(staging, spill)
        excluded = None
        if cross_dump:  # keyed in the staged order; the duplicates are left out as the rows are ordered
            dropped = drop_duplicates(
                con, unordered, rows, staging / "keys", workers=workers, redact=definition.redact_pii, cache=caches[1]
            )
            report["cross_dump"] = {"duplicates": "drop", "same_text": dropped.same_text, "same_url": dropped.same_url}
            excluded = dropped_ids(con) if dropped.total else None
        rows = sort_file(con, unordered, "id", staged, row_group_rows=row_group_rows, exclude=excluded)
        unordered.unlink()
        if cross_dump:
            steps["after_cross_dump"] = rows
        if definition.redact_pii:
            flagged = con.read_parquet(str(staged)).filter(C(REDACT_COLUMN))
            report["pii_redacted_documents"] = count_rows(flagged)
    finally:
        con.close()
    published = pa.schema([schema.field(c) for c in wanted] + signals.fields()).append(pa.field("tokens", pa.int32()))
    ordered = OrderedRows(
        str(staged), rows, published, tokenizer.path, definition.redact_pii, by_dump=True, token_cache=counts
    )
    read = {t.table: dumps for t in upstream}
    return Selection(ordered, tuple(upstream), {**report, "steps": steps}, read)


def _dumps(
    lake: Lake, definition: SnapshotDefinition, version: int, left_out: Mapping[str, Sequence[str]]
) -> tuple[list[str], dict[str, list[str]]]:
    """The dumps the snapshot reads, in the snapshot's dump order (sorted by name), and the dumps it
    leaves out with the reasons: those in ``left_out`` when the definition does not name its dumps (a
    definition that names a dump reads it, and the publication gate decides), and named dumps the source
    version does not hold."""
    present = {d for f in lake.files(definition.source, version) if isinstance(d := f.get("partition.dump"), str)}
    if definition.dumps is None:
        skipped = {d: list(reasons) for d, reasons in left_out.items()}
        return sorted(present - set(skipped)), dict(sorted(skipped.items()))
    absent = {d: [f"not in {definition.source}@v{version}"] for d in definition.dumps if d not in present}
    return sorted(present & set(definition.dumps)), dict(sorted(absent.items()))


def _filter(
    con: duckdb.DuckDBPyConnection, definition: SnapshotDefinition, relation: duckdb.DuckDBPyRelation
) -> tuple[dict[str, int], dict[str, Any], duckdb.DuckDBPyRelation]:
    """Languages, language score and quality, each step counted."""

    def count(rel: duckdb.DuckDBPyRelation) -> int:
        return count_rows(rel)

    steps = {"source_rows": count(relation)}
    report: dict[str, Any] = {}
    if definition.languages is not None:
        relation = relation.filter(F("list_contains", K(list(definition.languages)), C("language")))
        steps["after_languages"] = count(relation)
    if definition.min_language_score is not None:
        relation = relation.filter(C("language_score").cast(_DOUBLE) >= K(float(definition.min_language_score)))
        steps["after_language_score"] = count(relation)
    if definition.quality_threshold is not None:
        relation = relation.filter(C("quality_score").cast(_DOUBLE) >= K(float(definition.quality_threshold)))
        steps["after_quality"] = count(relation)
    elif definition.quality_top_percent is not None:
        relation.create_view("candidates", replace=True)
        cut = top_percent_cut(con, "candidates", definition.quality_top_percent)
        score = C("quality_score").cast(_DOUBLE)
        relation = relation.filter((score > K(cut.score)) | ((score == K(cut.score)) & (C("id") <= K(cut.last_id))))
        steps["after_quality"] = count(relation)
        report["quality_cut"] = round(cut.score, 6)
    return steps, report, relation


def _apply_policies(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    definition: SnapshotDefinition,
    relation: duckdb.DuckDBPyRelation,
    dumps: list[str],
) -> tuple[duckdb.DuckDBPyRelation, int]:
    version = lake.version("content_signals")
    if version is None:
        raise LookupError(f"snapshot {definition.name}: its content policies need the content_signals table")
    schema = lake.dataset("content_signals", version).schema
    signals = [
        dump_relation(con, lake, "content_signals", version, d, i, _SIGNALS, schema) for i, d in enumerate(dumps)
    ]
    joined = relation.join(
        union_all(signals).project(*[C(c).alias(f"sig_{c}") for c in _SIGNALS]), "id = sig_id", "left"
    )
    joined.create_view("with_signals", replace=True)
    unscanned = con.execute(
        "SELECT dump, count(*) FROM with_signals WHERE sig_badword_rate IS NULL GROUP BY dump ORDER BY dump"
    ).fetchall()
    if unscanned:
        missing = [str(d) for d, _ in unscanned]
        raise LookupError(
            f"snapshot {definition.name}: {sum(n for _, n in unscanned)} documents have no content signals "
            f"(materialize content_signals for dump(s) {', '.join(missing)})"
        )
    if definition.drop_contaminated:
        joined = joined.filter(C("sig_contamination_ngrams") == K(0))
    if definition.max_badword_rate is not None:
        joined = joined.filter(C("sig_badword_rate").cast(_DOUBLE) <= K(float(definition.max_badword_rate)))
    found = C("sig_pii_emails") + C("sig_pii_ips") + C("sig_pii_phones") + C("sig_pii_cards")
    columns = [C(c) for c in relation.columns]
    return joined.project(*columns, (found > K(0)).alias(REDACT_COLUMN)), version
