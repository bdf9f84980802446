"""Checking a folder of dataset definitions without publishing anything.

``corpuslake validate`` reads every snapshot definition (``snapshots/*.yaml``) and mixture recipe
(``mixtures/*.yaml``) the way publishing does, and lists every problem, one sentence each, naming the
file and the key. Publishing uses :func:`load_valid_definitions`: a file with a problem is left out (and
its problems reported) while the others still publish.
"""

from dataclasses import dataclass, field
from pathlib import Path

from corpuslake.datasets import Definitions
from corpuslake.mixtures import MixtureRecipe, recipe_from_mapping
from corpuslake.snapshots import SnapshotDefinition, definition_from_mapping, load_each


@dataclass(frozen=True)
class Validation:
    """What a definitions folder holds: the usable definitions and recipes, and every problem found."""

    folder: Path
    """The definitions folder read."""
    snapshots: list[SnapshotDefinition] = field(default_factory=list)
    """The snapshot definitions without a problem."""
    mixtures: list[MixtureRecipe] = field(default_factory=list)
    """The mixture recipes without a problem."""
    problems: list[str] = field(default_factory=list)
    """One sentence per problem, each naming the file (and the key, when one is at fault)."""

    @property
    def valid(self) -> bool:
        return not self.problems


def validate_definitions(folder: str | Path) -> Validation:
    """Every definition and recipe under ``folder`` parsed and type-checked; nothing is read from a lake."""
    root = Path(folder)
    if not root.is_dir():
        return Validation(root, problems=[f"{root}: the dataset definitions folder does not exist"])
    snapshots, snapshot_errors = load_each(root / "snapshots", definition_from_mapping, "snapshot")
    mixtures, mixture_errors = load_each(root / "mixtures", recipe_from_mapping, "mixture")
    problems = [p for error in (*snapshot_errors, *mixture_errors) for p in error.problems]
    # A snapshot and a mixture of one name would share (and interleave) the catalog's numbers.
    shared = sorted({d.name for d in snapshots} & {r.name for r in mixtures})
    for name in shared:
        problems.append(f"{root / 'mixtures'}: {name} is also the name of a snapshot definition; rename one")
    mixtures = [r for r in mixtures if r.name not in shared]
    if not (root / "snapshots").is_dir() and not (root / "mixtures").is_dir():
        problems.append(f"{root}: holds neither snapshots/ nor mixtures/: is this a dataset definitions folder?")
    return Validation(root, snapshots, mixtures, problems)


def load_valid_definitions(folder: str | Path) -> tuple[Definitions, list[str]]:
    """The definitions and recipes under ``folder`` that can be published, and the problems of the others:
    a bad file is left out instead of stopping every publication."""
    validation = validate_definitions(folder)
    return Definitions(validation.snapshots, validation.mixtures), validation.problems
