"""Where a lake lives, told from its root alone (no storage SDK imported to ask)."""

LAKEFS_SCHEME = "lakefs://"
"""A lake root in a lakeFS repository: ``lakefs://<repository>/<branch, tag or commit>/<folder>``."""


def is_lakefs(root: str) -> bool:
    """Whether ``root`` is on lakeFS."""
    return root.startswith(LAKEFS_SCHEME)


def is_local(root: str) -> bool:
    """Whether ``root`` is a folder of this machine's filesystem."""
    return "://" not in root or root.startswith("file://")
