"""corpuslake: versioned pretraining corpora built from crawl dumps.

The engine and the client. Nothing in this package imports Dagster: the stages are plain functions over
Arrow data, the store is Delta Lake, and the orchestration layer (``orchestration/``) wires them into
software-defined assets.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("corpuslake")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
