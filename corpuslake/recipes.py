"""Mixture recipes: what a mixture asks for, read from YAML and checked before anything is drawn.

A recipe names a target token count, a seed, a default repetition cap, what to do when its sources fall
short (``on_shortfall``), and one or more phases, each a fraction of the target split between pinned
sources by weight. Every value is checked against its field's type (:mod:`corpuslake.typed`), so a quoted
number or an unknown key is an error naming the file and the key; drawing is :mod:`corpuslake.mixtures`.
"""

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from corpuslake.names import check_name
from corpuslake.pins import parse_pin
from corpuslake.snapshots import DefinitionError, load_named
from corpuslake.typed import Problems, typed_values

OnShortfall = Literal["warn", "fail"]


@dataclass(frozen=True)
class MixtureSource:
    """One pinned snapshot a phase draws from."""

    uri: str
    """A pinned snapshot, ``corpuslake://name@N``."""
    weight: float = 1.0
    """Share of the phase's tokens, relative to the phase's other sources."""
    max_epochs: float | None = None
    """Passes over this source at most (default: the recipe's ``max_epochs``)."""
    min_quality: float | None = None
    """Only this source's documents with a quality score of at least this."""
    domains: tuple[str, ...] | None = None
    """Only this source's documents whose ``domain`` is one of these (a snapshot that carries
    ``domains.domain``): the same pin listed once per domain weights the mixture by domain."""


@dataclass(frozen=True)
class Phase:
    """One stretch of the mixture's reading order (a curriculum step)."""

    name: str
    """The phase's name, unique in the recipe (the ``phase`` column of the rows)."""
    fraction: float
    """Share of the recipe's target tokens; the phases' fractions add up to 1."""
    sources: tuple[MixtureSource, ...]
    """The sources the phase's tokens are split between, by weight."""


@dataclass(frozen=True)
class MixtureRecipe:
    """One mixture: published under its name, rebuilt to the same rows from the same pins and seed."""

    name: str
    """The mixture's name: pins read ``corpuslake://<name>@<number>``."""
    target_tokens: int
    """The tokens asked for, over every phase."""
    seed: int
    """Keys every shuffle: another seed, another order and draw."""
    phases: tuple[Phase, ...]
    """The phases in reading order (top-level ``sources`` make one phase named ``main``)."""
    description: str = ""
    """Free text for people reading the catalog."""
    max_epochs: float = 4.0
    """Default repetition cap per source (about 4 passes cost little, Muennighoff et al. 2023)."""
    on_shortfall: OnShortfall = "warn"
    """``warn``: publish what the caps allow, record the shortfall in the report and log a warning;
    ``fail``: refuse to publish, naming each source that fell short."""

    def __post_init__(self) -> None:
        check_name(self.name, "mixture name")
        where = f"mixture {self.name}"
        if self.target_tokens < 1:
            raise DefinitionError(f"{where}: target_tokens must be positive")
        if self.on_shortfall not in ("warn", "fail"):
            raise DefinitionError(f"{where}: on_shortfall must be warn or fail, not {self.on_shortfall!r}")
        if self.max_epochs <= 0:
            raise DefinitionError(f"{where}: max_epochs must be positive")
        if not self.phases:
            raise DefinitionError(f"{where}: needs sources (or phases with sources)")
        if not math.isclose(sum(p.fraction for p in self.phases), 1.0, abs_tol=1e-9):
            raise DefinitionError(f"{where}: phase fractions add up to {sum(p.fraction for p in self.phases)}, not 1")
        repeated = [n for n, c in Counter(p.name for p in self.phases).items() if c > 1]
        if repeated:
            raise DefinitionError(f"{where}: phase name(s) used twice: {', '.join(repeated)}")
        for phase in self.phases:
            check_name(phase.name, "phase name")
            if phase.fraction <= 0 or not phase.sources:
                raise DefinitionError(f"{where}, phase {phase.name}: needs a positive fraction and sources")
            for source in phase.sources:
                parse_pin(source.uri)  # a number, never @latest: a recipe must mean the same bytes forever
                if source.weight <= 0 or (source.max_epochs is not None and source.max_epochs <= 0):
                    raise DefinitionError(f"{where}, {source.uri}: weight and max_epochs must be positive")
                if source.domains is not None and not source.domains:
                    raise DefinitionError(f"{where}, {source.uri}: domains must list at least one domain")

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "target_tokens": self.target_tokens,
            "seed": self.seed,
            "max_epochs": self.max_epochs,
            "on_shortfall": self.on_shortfall,
            "phases": [
                {"name": p.name, "fraction": p.fraction, "sources": [_source_config(s) for s in p.sources]}
                for p in self.phases
            ],
        }


def _source_config(source: MixtureSource) -> dict[str, Any]:
    """A source's fields; ``domains`` only when set, so recipes recorded before it existed read the same."""
    config = {k: v for k, v in vars(source).items() if k != "domains"}
    return config | ({"domains": list(source.domains)} if source.domains is not None else {})


def recipe_from_mapping(data: Any, where: str) -> MixtureRecipe:
    """A recipe from parsed YAML: top-level ``sources`` make one phase named ``main``. Every value is checked
    against its field's type; every problem of the file is listed, each naming ``where`` and the key
    (``phases[1].sources[0]: weight``)."""
    if isinstance(data, Mapping) and data.get("on_shortfall") == "report":
        data = {**data, "on_shortfall": "warn"}  # the earlier name of ``warn``: recipes written with it still load
    problems = Problems()
    values = problems.values(MixtureRecipe, data, where, skip=("phases", "sources"))
    if ("phases" in data) == ("sources" in data):
        problems.add(f"{where}: give either sources (one phase) or phases")
        problems.raise_any()
    key = "phases" if "phases" in data else "sources"
    raw_phases = data["phases"] if key == "phases" else [{"name": "main", "fraction": 1.0, "sources": data["sources"]}]
    if not isinstance(raw_phases, list) or not raw_phases:
        problems.add(f"{where}: {key} must be a non-empty list")
        raw_phases = []
    phases = problems.each(lambda i, raw: _phase(raw, where, f"phases[{i}]." if key == "phases" else ""), raw_phases)
    problems.raise_any()
    try:
        return MixtureRecipe(phases=tuple(phases), **values)
    except (TypeError, ValueError) as error:
        raise DefinitionError(f"{where}: {error}") from error


def _phase(data: Any, where: str, prefix: str) -> Phase:
    """One phase; ``prefix`` locates it in the file (``phases[1].``, or nothing for top-level sources)."""
    problems = Problems()
    values = problems.values(Phase, data, f"{where}: {prefix[:-1]}" if prefix else where, skip=("sources",))
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        problems.add(f"{where}: {prefix}sources must be a non-empty list of {{uri: ..., weight: ...}}")
        raw_sources = []
    sources = problems.each(
        lambda i, raw: MixtureSource(**typed_values(MixtureSource, raw, f"{where}: {prefix}sources[{i}]")), raw_sources
    )
    problems.raise_any()
    return Phase(sources=tuple(sources), **values)


def load_recipes(folder: Path) -> list[MixtureRecipe]:
    """Every ``*.yaml`` recipe in ``folder``; names must be unique."""
    return load_named(folder, recipe_from_mapping, "mixture")
