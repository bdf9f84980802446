"""Settings read from YAML, checked against the type hints of the dataclass they fill.

YAML guesses types: ``redact_pii: "no"`` is the string ``no`` (a true value in Python), ``seed: "42"`` a
string that fails deep inside Arrow, ``languages: [no]`` the boolean false. Every value is therefore
checked against its field's annotation before the dataclass is built, and every problem of a file is
collected, each naming the file and the key, so that one pass over a folder reports them all.
"""

import difflib
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from corpuslake.errors import InputError


class DefinitionError(InputError, ValueError):
    """A snapshot or mixture definition that cannot be used, with the file and the key at fault."""

    def __init__(self, message: str, problems: Iterable[str] | None = None) -> None:
        self.problems = list(problems) if problems is not None else [message]
        """One sentence per problem, each naming the file and the key (a single one for most errors)."""
        super().__init__(message)


def near_key(key: str, known: Iterable[str]) -> str:
    """`` (did you mean X?)`` when a known key is close to ``key``, else nothing."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_keys(data: Mapping[str, Any], known: Iterable[str], where: str) -> list[str]:
    """One problem per key that is not a known setting, with the nearest known key."""
    names = set(known)
    return [
        f"{where}: unknown setting {key!r}{near_key(str(key), names)}"
        for key in sorted(data, key=str)
        if key not in names
    ]


def _describe(value: Any) -> str:
    kind = "a string" if isinstance(value, str) else type(value).__name__
    return f"{value!r} ({kind})"


def _hint(value: Any) -> str:
    """Why a number came out as text: quotes, or an exponent without a dot (PyYAML reads ``5e7`` as text)."""
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    if "e" in value.lower() and "." not in value:
        return f": YAML reads {value} as text, write {float(value):.1e} or {float(value):.0f}"
    return ": remove the quotes"


_PLURAL = {str: "strings", int: "whole numbers", float: "numbers"}


def _check(value: Any, annotation: Any) -> tuple[Any, str | None]:
    """``value`` converted to ``annotation`` (ints to floats, lists to tuples), or what was expected."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None, None
        inner = [a for a in args if a is not type(None)]
        return _check(value, inner[0]) if len(inner) == 1 else (value, None)
    if origin is Literal:
        return (value, None) if value in args else (value, "one of " + ", ".join(map(str, args)))
    if origin is tuple:
        if not isinstance(value, list):
            return value, "a list"
        converted = []
        for item in value:
            checked, expected = _check(item, args[0])
            if expected:
                why = (
                    f"{item!r} is a boolean: quote it, YAML reads yes/no/on/off as booleans"
                    if isinstance(item, bool)
                    else f"{_describe(item)} is not one"
                )
                return value, f"a list of {_PLURAL.get(args[0], 'values')} ({why})"
            converted.append(checked)
        return tuple(converted), None
    if annotation is bool:
        return (value, None) if isinstance(value, bool) else (value, "true or false")
    if annotation in (int, float):
        # bool is an int in Python; a number in quotes is a string: both are refused, not coerced.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, "a number" if annotation is float else "a whole number"
        if annotation is int and isinstance(value, float) and not value.is_integer():
            return value, "a whole number"
        return annotation(value), None
    if annotation is str:
        return (value, None) if isinstance(value, str) else (value, "a string (put it in quotes)")
    return value, None


def typed_values(cls: type, data: Mapping[str, Any], where: str, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The settings of ``data`` checked against the fields of dataclass ``cls`` (``skip``: parsed by the
    caller). Unknown keys, missing required keys and wrong types all raise one :class:`DefinitionError`
    listing every problem."""
    if not isinstance(data, Mapping):
        raise DefinitionError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    hints = get_type_hints(cls)
    skipped = set(skip)
    known = {f.name for f in fields(cls)} | skipped
    problems = Problems(unknown_keys(data, known, where))
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in skipped:
            continue
        if f.name not in data:
            if f.default is f.default_factory:  # both MISSING: the setting is required
                problems.add(f"{where}: {f.name} is required")
            continue
        value, expected = _check(data[f.name], hints[f.name])
        if expected:
            problems.add(f"{where}: {f.name} must be {expected}, not {_describe(data[f.name])}{_hint(value)}")
        values[f.name] = value
    problems.raise_any()
    return values


_Parsed = TypeVar("_Parsed")


class Problems:
    """The problems of one file, collected as its parts are read so that one pass reports them all, then
    raised together as one :class:`DefinitionError`."""

    def __init__(self, found: Iterable[str] = ()) -> None:
        self.found = list(found)

    def add(self, problem: str) -> None:
        self.found.append(problem)

    def values(self, cls: type, data: Any, where: str, *, skip: Iterable[str] = ()) -> dict[str, Any]:
        """:func:`typed_values`, its problems collected (nothing is returned then). Data that is not a
        mapping raises at once: nothing more of it can be read."""
        try:
            return typed_values(cls, data, where, skip=skip)
        except DefinitionError as error:
            if not isinstance(data, Mapping):
                raise
            self.found += error.problems
            return {}

    def each(self, parse: Callable[[int, Any], _Parsed], items: Sequence[Any]) -> list[_Parsed]:
        """``parse(index, item)`` of every item that parses; the problems of the others collected."""
        parsed = []
        for index, item in enumerate(items):
            try:
                parsed.append(parse(index, item))
            except DefinitionError as error:
                self.found += error.problems
        return parsed

    def raise_any(self) -> None:
        if self.found:
            raise DefinitionError("; ".join(self.found), self.found)
