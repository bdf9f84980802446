"""Where the lake, the landing zone and the Dagster home are: read from the environment in one place.

Nothing here runs at import time; callers ask when they need a value, so tests and the CLI can point a
process at another lake by setting a variable or passing an argument.
"""

import os
from dataclasses import dataclass
from pathlib import Path

# The sample crawl committed with the repository: the embedded default landing zone.
SAMPLE_LANDING = Path(__file__).resolve().parent.parent / "samples" / "crawl"
# The snapshot definitions and mixture recipes published from the sample lake.
SAMPLE_DATASETS = Path(__file__).resolve().parent.parent / "samples" / "datasets"


@dataclass(frozen=True)
class Settings:
    """Locations a corpuslake process works with."""

    lake: str
    """Lake root: a local directory (default ``./lake``) or a URL deltalake understands."""
    landing: str
    """Landing zone holding one folder per dump with its WARC files."""
    dagster_home: str
    """The Dagster instance shared by the CLI and the UI (runs, event logs, partitions)."""
    cache: str = ""
    """Derived files worth keeping between runs (the compiled URL blocklist); default ``~/.cache/corpuslake``."""
    datasets: str = str(SAMPLE_DATASETS)
    """Folder of dataset definitions: ``snapshots/*.yaml`` and ``mixtures/*.yaml``."""
    executor: str = "local"
    """How stages run their jobs: ``local`` (process pool) or ``ray`` (``CORPUSLAKE_EXECUTOR``)."""
    ray_address: str = ""
    """The Ray cluster for ``ray`` (``RAY_ADDRESS``); empty starts a local Ray instance."""


def load_settings(
    lake: str | None = None,
    landing: str | None = None,
    environ: dict[str, str] | None = None,
    datasets: str | None = None,
    executor: str | None = None,
) -> Settings:
    """Resolve settings: explicit arguments, then ``CORPUSLAKE_*`` / ``DAGSTER_HOME``, then defaults."""
    env = os.environ if environ is None else environ
    lake = lake or env.get("CORPUSLAKE_LAKE") or str(Path.cwd() / "lake")
    landing = landing or env.get("CORPUSLAKE_LANDING") or str(SAMPLE_LANDING)
    home = env.get("DAGSTER_HOME") or str(Path.cwd() / ".dagster")
    cache = env.get("CORPUSLAKE_CACHE") or str(Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "corpuslake")
    datasets = datasets or env.get("CORPUSLAKE_DATASETS") or str(SAMPLE_DATASETS)
    return Settings(
        lake=_absolute(lake),
        landing=_absolute(landing),
        dagster_home=_absolute(home),
        cache=_absolute(cache),
        datasets=_absolute(datasets),
        executor=executor or env.get("CORPUSLAKE_EXECUTOR") or "local",
        ray_address=env.get("RAY_ADDRESS", ""),
    )


def _absolute(location: str) -> str:
    if "://" in location:
        return location
    return str(Path(location).expanduser().resolve())
