"""Selecting by per-document signals: a definition's ``where:`` clauses and carried columns in DuckDB.

Each signal table a definition names (in ``where:`` or as ``<table>.<column>`` in ``columns``) is read at
its latest version, the dump's partition only, and left-joined on ``id`` to that dump's relation of the
source. After the dumps are combined, :meth:`SignalJoin.select` counts the documents without a row in each
table, keeps those that have one in every table and pass every clause, and publishes the carried columns
under their own names. Nothing is collected in this process: the result is a DuckDB relation. A clause whose
``in`` labels are all absent from its table version (labels of a retrained model, say) is a definition error
naming the labels the table has; labels partly absent are listed in the report (``absent_values``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb import ColumnExpression as C
from duckdb import ConstantExpression as K
from duckdb import FunctionExpression as F

from corpuslake.lineage import TableVersion
from corpuslake.signal_clauses import SignalClause, Value
from corpuslake.snapshots import DefinitionError, SnapshotDefinition
from corpuslake.spill import dump_relation
from corpuslake.store import Lake

_DOUBLE = duckdb.sqltypes.DOUBLE
_VARCHAR = duckdb.sqltypes.VARCHAR


@dataclass(frozen=True)
class _Signal:
    """One signal table as read: its version, schema and the columns the definition needs from it."""

    table: str
    version: int
    schema: pa.Schema
    columns: tuple[str, ...]
    prefix: str
    """Joined columns are renamed ``<prefix><column>`` so they never meet a source column's name."""


class SignalJoin:
    """The signal tables of one definition, resolved once per selection (their latest versions)."""

    def __init__(self, lake: Lake, definition: SnapshotDefinition) -> None:
        self.lake, self.definition = lake, definition
        needed: dict[str, list[str]] = {}
        for clause in definition.where:
            needed.setdefault(clause.table, []).append(clause.column)
        for carried in definition.carried:
            needed.setdefault(carried.table, []).append(carried.column)
        self.signals = [
            self._resolve(table, list(dict.fromkeys(cols)), i) for i, (table, cols) in enumerate(needed.items())
        ]
        self.absent_values = self._absent_values()
        source = lake.version(definition.source)
        names = set(lake.dataset(definition.source, source).schema.names) if source is not None else set()
        clashes = [f"{c.table}.{c.column}" for c in definition.carried if c.column in names | {"dump_rank"}]
        if clashes:
            raise DefinitionError(
                f"snapshot {definition.name}: {', '.join(clashes)} would publish a column named like one of "
                f"{definition.source}'s: carry another column, or select by it with where: instead"
            )

    def _resolve(self, table: str, columns: list[str], index: int) -> _Signal:
        name = self.definition.name
        version = self.lake.version(table)
        if version is None:
            raise LookupError(f"snapshot {name}: it selects by {table}, which does not exist yet (materialize {table})")
        schema = self.lake.dataset(table, version).schema
        absent = [c for c in columns if c not in schema.names]
        if absent:
            known = ", ".join(n for n in schema.names if n not in ("id", "dump"))
            raise DefinitionError(
                f"snapshot {name}: {table}@v{version} has no column {', '.join(absent)} (it has {known})"
            )
        return _Signal(table, version, schema, tuple(columns), f"_sig{index}_")

    def _absent_values(self) -> dict[int, list[Value]]:
        """Per clause (by index), the ``in`` strings no row of the table version holds. Labels such as domain
        names change when a model is retrained, so a clause may name values of an older model: if none of
        its values exists the selection is certainly empty, an error naming the values the table has."""
        versions = {s.table: s.version for s in self.signals}
        absent: dict[int, list[Value]] = {}
        for index, clause in enumerate(self.definition.where):
            if clause.values is None or not all(isinstance(v, str) for v in clause.values):
                continue  # numeric buckets may well be empty in a small lake; only labels are checked
            present = _distinct(self.lake, clause.table, versions[clause.table], clause.column)
            missing = [v for v in clause.values if v not in present]
            if len(missing) == len(clause.values):
                shown = ", ".join(sorted(present)[:24]) + (", ..." if len(present) > 24 else "")
                raise DefinitionError(
                    f"snapshot {self.definition.name}: where[{index + 1}]: {clause.table}@v{versions[clause.table]} "
                    f"has no row with {clause.column} in {', '.join(map(str, missing))} (its values: {shown})"
                )
            if missing:
                absent[index] = missing
        return absent

    @property
    def active(self) -> bool:
        return bool(self.signals)

    @property
    def upstream(self) -> tuple[TableVersion, ...]:
        return tuple(TableVersion(s.table, s.version) for s in self.signals)

    def fields(self) -> list[pa.Field]:
        """The carried columns as published (their type in the signal table, under their own name)."""
        by_table = {s.table: s.schema for s in self.signals}
        return [by_table[c.table].field(c.column) for c in self.definition.carried]

    def join(
        self, con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, dump: str | None
    ) -> duckdb.DuckDBPyRelation:
        """One dump's source relation (with an ``id`` column) left-joined with that dump of every signal
        table; ``None`` for a selection that reads no dump (the joined columns, no rows)."""
        for s in self.signals:
            if dump is None:
                rows = con.from_arrow(pa.schema([s.schema.field(c) for c in ("id", *s.columns)]).empty_table())
            else:
                rows = dump_relation(con, self.lake, s.table, s.version, dump, 0, ["id", *s.columns], s.schema)
            # aliased: two relations read alike (two empty partitions) would otherwise share a name
            renamed = rows.project(*[C(c).alias(s.prefix + c) for c in ("id", *s.columns)]).set_alias(s.prefix + "rows")
            relation = relation.join(renamed, C("id") == C(s.prefix + "id"), how="left")
        return relation

    def select(
        self, relation: duckdb.DuckDBPyRelation, columns: Sequence[str]
    ) -> tuple[duckdb.DuckDBPyRelation, dict[str, Any]]:
        """The joined rows that have every signal and pass every clause, projected to ``columns`` plus the
        carried signal columns; the report counts the documents without each table's row and those left."""
        missing = [F("count_if", C(s.prefix + "id").isnull()) for s in self.signals]
        passing = self._condition()
        counts = relation.aggregate([*missing, F("count_if", passing)]).fetchall()[0]
        report: dict[str, Any] = {
            "without_signal": {
                str(TableVersion(s.table, s.version)): int(n) for s, n in zip(self.signals, counts, strict=False)
            },
            "clauses": [c.as_config() for c in self.definition.where],
            "after_where": int(counts[-1]),
        }
        if self.absent_values:
            # values named but found in no row of the table version: most often labels of an older model
            report["absent_values"] = {f"where[{i + 1}]": v for i, v in self.absent_values.items()}
        prefix = {s.table: s.prefix for s in self.signals}
        carried = [C(prefix[c.table] + c.column).alias(c.column) for c in self.definition.carried]
        return relation.filter(passing).project(*[C(c) for c in columns], *carried), report

    def _condition(self) -> duckdb.Expression:
        prefix = {s.table: s.prefix for s in self.signals}
        condition: duckdb.Expression = K(True)
        for s in self.signals:
            condition = condition & C(s.prefix + "id").isnotnull()
        for clause in self.definition.where:
            condition = condition & _test(clause, C(prefix[clause.table] + clause.column))
        return condition


def _distinct(lake: Lake, table: str, version: int, column: str) -> set[str]:
    """The distinct values of one column of a table version, read a batch at a time (labels are few)."""
    values: set[str] = set()
    for batch in lake.dataset(table, version).to_batches(columns=[column]):
        values.update(str(v) for v in pc.unique(batch.column(0)).to_pylist() if v is not None)
    return values


def _test(clause: SignalClause, column: duckdb.Expression) -> duckdb.Expression:
    """The clause on one column; a null value passes no test (the document is left out)."""
    if clause.values is not None:
        if all(isinstance(v, str) for v in clause.values):
            return F("list_contains", K(list(clause.values)), column.cast(_VARCHAR))
        numbers = [float(v) for v in clause.values]
        return F("list_contains", K(numbers), column.cast(_DOUBLE))
    test: duckdb.Expression = column.isnotnull()
    if clause.min is not None:
        test = test & (column.cast(_DOUBLE) >= K(clause.min))
    if clause.max is not None:
        test = test & (column.cast(_DOUBLE) <= K(clause.max))
    return test
