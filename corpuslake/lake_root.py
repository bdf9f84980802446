"""Whether a lake root exists: a lake that is not there is an input error, an empty one is a lake."""

from pathlib import Path

from corpuslake.errors import LakeNotFoundError


def require_lake(root: str) -> str:
    """``root`` when it can be read as a lake: an existing local folder (with tables or none yet), or a
    remote URL (its store answers for itself when read). Otherwise a one-line :class:`LakeNotFoundError`."""
    if "://" in root and not root.startswith("file://"):
        return root
    path = Path(root.removeprefix("file://"))
    if not path.exists():
        raise LakeNotFoundError(
            f"lake {root} does not exist (check --lake or CORPUSLAKE_LAKE; `corpuslake run` creates a lake)"
        )
    if not path.is_dir():
        raise LakeNotFoundError(f"lake {root} is not a directory")
    return root
