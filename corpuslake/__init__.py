"""corpuslake: versioned pretraining corpora built from crawl dumps.

The engine and the client. Nothing in this package imports Dagster: the stages are plain functions over
Arrow data, the store is Delta Lake, and the orchestration layer (``orchestration/``) wires them into
software-defined assets.

A training job reads a published snapshot with :func:`open`::

    import corpuslake
    for batch in corpuslake.open("corpuslake://web-en@1"):
        ...

The plain install (``pip install corpuslake``) is this client: pyarrow, deltalake, the digests, and
torch when the torch dataset is asked for. Building and publishing the lake needs the ``service``
extra; importing this package or opening a pin never loads it.
"""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corpuslake.client import Snapshot
    from corpuslake.store import Lake

try:
    __version__ = version("corpuslake")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"


def open(
    uri: str, lake: "str | Lake | None" = None, *, lock: str | Path | None = None, name: str | None = None
) -> "Snapshot":
    """A published snapshot by pin (``corpuslake://name@N``) or lock file, verified as it streams; in a
    lock file that locks several pins, ``name`` picks one (a snapshot name or a pin).

    See :func:`corpuslake.client.open`; the client is imported on first use, so ``import corpuslake``
    stays light.
    """
    from corpuslake.client import open as open_snapshot

    return open_snapshot(uri, lake, lock=lock, name=name)


__all__ = ["__version__", "open"]
