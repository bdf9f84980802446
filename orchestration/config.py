"""Dagster run config from the engine's config dataclasses: one definition, documented in the UI.

Each stage's settings are a frozen dataclass in ``corpuslake`` with a docstring under every field. This
module builds the matching ``dg.Config`` class (nested sections for nested dataclasses, tuples as
lists, mappings as maps) with each field's docstring as its description, and turns a run's config back
into the dataclass. The defaults therefore live in one place, and the launchpad shows their meaning.
"""

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

import dagster as dg
import pydantic

T = TypeVar("T")


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each annotated field of a class body, by field name."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, following in zip(body.body, body.body[1:], strict=False):
        documented = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and documented:
            docs[node.target.id] = inspect.cleandoc(str(following.value.value))  # type: ignore[attr-defined]
    return docs


def _config_type(tp: Any) -> Any:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return config_class(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        return list[_config_type(args[0])]  # type: ignore[misc]
    if origin in (dict, Mapping, typing.Mapping):
        return dict[args[0], _config_type(args[1])]  # type: ignore[misc,valid-type]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_config_type(a) for a in args)]  # noqa: UP007 (built at run time)
    return tp


def _config_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


@cache
def config_class(cls: type, name: str | None = None) -> type[dg.Config]:
    """The ``dg.Config`` class mirroring dataclass ``cls``: same fields, defaults and docs."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    defaults = cls()
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = _config_type(hints[f.name])
        default = getattr(defaults, f.name)
        if dataclasses.is_dataclass(default):
            spec = pydantic.Field(default_factory=kind, description=docs.get(f.name))
        else:
            spec = pydantic.Field(default=_config_default(default), description=docs.get(f.name))
        fields[f.name] = (kind, spec)
    return pydantic.create_model(name or f"{cls.__name__}Section", __base__=dg.Config, __doc__=cls.__doc__, **fields)


def to_dataclass(cls: type[T], config: Any) -> T:
    """The dataclass ``cls`` holding the values of a run's config (a ``config_class(cls)`` instance)."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            value = to_dataclass(kind, value)
        elif typing.get_origin(kind) is tuple:
            value = tuple(value)
        values[f.name] = value
    return cls(**values)
