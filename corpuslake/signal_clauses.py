"""``where:`` clauses and carried signal columns of a snapshot definition, checked as the YAML is read.

A clause keeps the documents whose row in a per-document signal table (``domains``, ``perplexity``,
``model_scores``) passes a test on one column: ``in`` a list of values, or ``min`` / ``max`` bounds. A
definition's ``columns`` may also name ``<table>.<column>`` to carry a signal into the published rows;
the column is published under its own name (``domains.domain`` becomes ``domain``). The join itself is
:mod:`corpuslake.signal_select`; this module imports no query engine, so the client can read definitions.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from corpuslake.typed import DefinitionError, near_key

SignalTable = Literal["domains", "perplexity", "model_scores"]

SIGNAL_TABLES: tuple[str, ...] = get_args(SignalTable)
_KEYS = ("table", "column", "in", "min", "max")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
Value = str | int | float


@dataclass(frozen=True)
class SignalClause:
    """Keep a document only if its row in ``table`` passes the test on ``column``."""

    table: SignalTable
    """The signal table joined on id, per dump (its latest version)."""
    column: str
    """The column tested."""
    values: tuple[Value, ...] | None = None
    """``in``: the column's value is one of these (all strings or all numbers)."""
    min: float | None = None
    """The column is at least this."""
    max: float | None = None
    """The column is at most this."""

    def as_config(self) -> dict[str, Any]:
        """The clause as written in YAML (``in`` for :attr:`values`), unset bounds left out."""
        config: dict[str, Any] = {"table": self.table, "column": self.column}
        if self.values is not None:
            config["in"] = list(self.values)
        config |= {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}
        return config


@dataclass(frozen=True)
class CarriedColumn:
    """A signal column published beside the source columns."""

    table: SignalTable
    """The signal table it is read from."""
    column: str
    """Its name in that table, and in the published rows."""


def check_table(table: Any, where: str) -> SignalTable:
    if table not in SIGNAL_TABLES:
        raise DefinitionError(
            f"{where}: unknown signal table {table!r}{near_key(str(table), SIGNAL_TABLES)};"
            f" known: {', '.join(SIGNAL_TABLES)}"
        )
    return table  # type: ignore[no-any-return]  # checked against the closed set just above


def _check_column(column: Any, where: str) -> str:
    if not isinstance(column, str) or not _COLUMN.fullmatch(column):
        raise DefinitionError(f"{where}: column must be a lower-case column name, not {column!r}")
    return column


def _values(raw: Any, where: str) -> tuple[Value, ...]:
    # Booleans are ints in Python and YAML reads yes/no as booleans: refused, like everywhere else.
    if not isinstance(raw, list) or not raw or any(isinstance(v, bool) for v in raw):
        raise DefinitionError(f"{where}: in must be a non-empty list of strings or of numbers, not {raw!r}")
    if not (all(isinstance(v, str) for v in raw) or all(isinstance(v, int | float) for v in raw)):
        raise DefinitionError(f"{where}: in must hold only strings or only numbers, not {raw!r}")
    return tuple(raw)


def _bound(raw: Any, key: str, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise DefinitionError(f"{where}: {key} must be a number, not {raw!r}")
    return float(raw)


def parse_clause(raw: Any, where: str) -> SignalClause:
    """One ``where:`` item, e.g. ``{table: domains, column: domain, in: [c03, c07]}``."""
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where}: a clause must be a mapping with table, column and in/min/max, not {raw!r}")
    unknown = [k for k in raw if k not in _KEYS]
    if unknown:
        key = str(unknown[0])
        raise DefinitionError(f"{where}: unknown clause key {key!r}{near_key(key, _KEYS)}; known: {', '.join(_KEYS)}")
    table = check_table(raw.get("table"), where)
    column = _check_column(raw.get("column"), where)
    values = _values(raw["in"], where) if "in" in raw else None
    low, high = _bound(raw.get("min"), "min", where), _bound(raw.get("max"), "max", where)
    if values is None and low is None and high is None:
        raise DefinitionError(f"{where}: a clause needs in, min or max")
    if values is not None and (low is not None or high is not None):
        raise DefinitionError(f"{where}: give in, or min/max, not both")
    if low is not None and high is not None and low > high:
        raise DefinitionError(f"{where}: min {low} is above max {high}")
    return SignalClause(table, column, values, low, high)


def parse_where(raw: Any, where: str) -> tuple[SignalClause, ...]:
    """The ``where:`` list; every bad clause is one problem naming its index."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise DefinitionError(f"{where}: where must be a list of clauses, not {raw!r}")
    clauses, problems = [], []
    for index, item in enumerate(raw):
        try:
            clauses.append(parse_clause(item, f"{where}: where[{index}]"))
        except DefinitionError as error:
            problems += error.problems
    if problems:
        raise DefinitionError("; ".join(problems), problems)
    return tuple(clauses)


def carried_columns(columns: Sequence[str], where: str) -> tuple[CarriedColumn, ...]:
    """The ``<table>.<column>`` entries of a definition's ``columns``; a published name must be unique."""
    carried = []
    for entry in columns:
        if "." not in entry:
            continue
        table, _, column = entry.partition(".")
        carried.append(CarriedColumn(check_table(table, f"{where}: columns"), _check_column(column, where)))
    names = [c for c in columns if "." not in c] + [c.column for c in carried]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise DefinitionError(
            f"{where}: columns would publish {', '.join(clashes)} twice (a signal column by its name)"
        )
    return tuple(carried)


def source_columns(columns: Sequence[str]) -> list[str]:
    """The entries of ``columns`` read from the source table (those not naming a signal table)."""
    return [c for c in columns if "." not in c]
