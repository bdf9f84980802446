"""Pins: ``corpuslake://<name>@<number>``, the names training jobs give the snapshots they read.

Here alone, so that every store (the Delta catalog, lakeFS tags) and every reader parse and word them
the same way, and none of them imports another to do so.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from corpuslake.errors import InputError
from corpuslake.names import InvalidNameError, check_name

SCHEME = "corpuslake://"


class PinError(InputError, LookupError):
    """A pin that cannot be served: unknown name or number, or data that no longer matches."""


class InvalidPinError(PinError, ValueError):
    """Text that is not a pin at all."""


class DamagedSnapshotError(PinError):
    """A published snapshot's files are missing or differ from its manifest."""

    def __init__(self, uri: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{uri} cannot be read: " + "; ".join(self.problems))


@dataclass(frozen=True)
class Pin:
    name: str
    number: int | None  # None: latest (lock files only)

    def __str__(self) -> str:
        return f"{SCHEME}{self.name}@{'latest' if self.number is None else self.number}"


_PIN = re.compile(r"^corpuslake://(?P<name>[^@/]+)@(?P<number>[0-9]+|latest)$")


def parse_pin(text: str, allow_latest: bool = False) -> Pin:
    """``corpuslake://name@N`` as a :class:`Pin`; anything else is refused with the reason."""
    match = _PIN.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidPinError(f"{text!r} is not a pin: write corpuslake://<name>@<number>, e.g. corpuslake://web-en@1")
    try:
        name = check_name(match["name"], "snapshot name")
    except InvalidNameError as error:
        raise InvalidPinError(str(error)) from error
    if match["number"] == "latest":
        if not allow_latest:
            raise InvalidPinError(
                f"{text} names no fixed version: pin a number, or run `corpuslake lock` to resolve @latest once"
            )
        return Pin(name, None)
    number = int(match["number"])
    if number < 1:
        raise InvalidPinError(f"{text}: snapshot numbers start at 1")
    return Pin(name, number)
