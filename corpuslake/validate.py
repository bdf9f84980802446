"""Checking a folder of dataset definitions without publishing anything.

``corpuslake validate`` reads every snapshot definition (``snapshots/*.yaml``) and mixture recipe
(``mixtures/*.yaml``) the way publishing does, and lists every problem, one sentence each, naming the
file and the key. Publishing uses :func:`load_valid_definitions`: a file with a problem is left out (and
its problems reported) while the others still publish.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from corpuslake.recipes import MixtureRecipe, recipe_from_mapping
from corpuslake.snapshots import SnapshotDefinition, definition_from_mapping, load_each

if TYPE_CHECKING:  # the publishing side (mixtures, DuckDB) is the service's: checking definitions needs none of it
    from corpuslake.datasets import Definitions


@dataclass(frozen=True)
class Validation:
    """What a definitions folder holds: the usable definitions and recipes, and every problem found."""

    folder: Path
    """The definitions folder read."""
    snapshots: list[SnapshotDefinition] = field(default_factory=list)
    """The snapshot definitions without a problem."""
    mixtures: list[MixtureRecipe] = field(default_factory=list)
    """The mixture recipes without a problem."""
    snapshot_problems: list[str] = field(default_factory=list)
    """One sentence per problem of the snapshot definitions (or of the folder), naming the file and key."""
    mixture_problems: list[str] = field(default_factory=list)
    """One sentence per problem of the mixture recipes (or of the folder), naming the file and key."""

    @property
    def problems(self) -> list[str]:
        """Every problem, once."""
        return list(dict.fromkeys([*self.snapshot_problems, *self.mixture_problems]))

    @property
    def valid(self) -> bool:
        return not self.problems


def validate_definitions(folder: str | Path) -> Validation:
    """Every definition and recipe under ``folder`` parsed and type-checked; nothing is read from a lake."""
    root = Path(folder)
    if not root.is_dir():
        missing = [f"{root}: the dataset definitions folder does not exist"]
        return Validation(root, snapshot_problems=missing, mixture_problems=missing)
    snapshots, snapshot_errors = load_each(root / "snapshots", definition_from_mapping, "snapshot")
    mixtures, mixture_errors = load_each(root / "mixtures", recipe_from_mapping, "mixture")
    snapshot_problems = [p for error in snapshot_errors for p in error.problems]
    mixture_problems = [p for error in mixture_errors for p in error.problems]
    # A snapshot and a mixture of one name would share (and interleave) the catalog's numbers.
    shared = sorted({d.name for d in snapshots} & {r.name for r in mixtures})
    for name in shared:
        mixture_problems.append(f"{root / 'mixtures'}: {name} is also the name of a snapshot definition; rename one")
    mixtures = [r for r in mixtures if r.name not in shared]
    if not (root / "snapshots").is_dir() and not (root / "mixtures").is_dir():
        empty = f"{root}: holds neither snapshots/ nor mixtures/: is this a dataset definitions folder?"
        snapshot_problems.append(empty)
        mixture_problems.append(empty)
    return Validation(root, snapshots, mixtures, snapshot_problems, mixture_problems)


def load_valid_definitions(
    folder: str | Path, only: Literal["snapshots", "mixtures"] | None = None
) -> tuple["Definitions", list[str]]:
    """The definitions and recipes under ``folder`` that can be published, and the problems of the others
    (``only``: of that kind alone, for a step that publishes one kind): a bad file is left out instead of
    stopping every publication."""
    from corpuslake.datasets import Definitions  # deferred: see the TYPE_CHECKING import

    validation = validate_definitions(folder)
    problems = {
        None: validation.problems,
        "snapshots": validation.snapshot_problems,
        "mixtures": validation.mixture_problems,
    }[only]
    return Definitions(validation.snapshots, validation.mixtures), problems
