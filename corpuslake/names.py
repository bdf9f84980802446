"""Names that become paths or SQL literals: dumps, tables, snapshots.

A dump name ends up in a directory name, a Delta partition value and a delete predicate, so only a
conservative alphabet is accepted; anything else is refused with the offending name in the message.
"""

import re

from corpuslake.errors import InputError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class InvalidNameError(InputError, ValueError):
    """A dump, table or snapshot name that could escape the lake root or a predicate."""


def check_name(name: str, kind: str = "name") -> str:
    """Return ``name`` unchanged if it is safe as a path part and SQL literal, else raise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidNameError(
            f"invalid {kind} {name!r}: use letters, digits, '.', '_' or '-' (at most 128, "
            "starting with a letter or digit, no '..')"
        )
    return name
