"""Resources: where the lake and the landing zone are, and how much parallelism a stage may use."""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from corpuslake.locations import is_lakefs
from corpuslake.parallel import RayExecutor, Workers, default_workers
from corpuslake.store import Lake
from orchestration.lakefs import run_lake


class LakeResource(dg.ConfigurableResource):
    """The lake root holding one Delta table per stage."""

    root: str
    """A local directory, a URL deltalake can open (s3://...), or a lakeFS branch (lakefs://repo/main/lake):
    then each run works on its own branch, merged into main when its checks passed."""
    cache: str = ""
    """Local folder for derived files kept between runs (the compiled URL blocklist); empty: inside the lake."""

    _run_id: str | None = PrivateAttr(default=None)
    _lake: Lake | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run.run_id if context.run is not None else None

    def lake(self) -> Lake:
        """The lake this run works on: on lakeFS the run's own branch (see orchestration.lakefs)."""
        if self._lake is None:
            if self._run_id is not None:
                self._lake = run_lake(self.root, self._run_id, self.cache or None)
            elif is_lakefs(self.root):
                raise RuntimeError("a lakeFS lake is written only inside a Dagster run (on the run's branch)")
            else:
                self._lake = Lake(self.root, cache=self.cache or None)
        return self._lake


class LandingZoneResource(dg.ConfigurableResource):
    """The landing zone: one folder per crawl dump, each holding WARC files."""

    root: str
    """The landing zone: a local directory or an object-store URL (s3://bucket/landing)."""
    marker: str = "_SUCCESS"
    """A dump folder holding this file is complete."""
    quiet_seconds: float = 300
    """Without the marker, a dump folder is complete once nothing in it changed for this long (-1: never)."""

    def path(self) -> Path:
        return Path(self.root)


class ComputeResource(dg.ConfigurableResource):
    """How stage work runs: a local pool of processes, or Ray tasks."""

    workers: int = 0
    """Worker processes per stage; 0 means one per available core, 1 runs in the run's own process."""
    executor: str = "local"
    """``local`` (a pool of spawned processes) or ``ray`` (Ray tasks)."""
    ray_address: str = ""
    """With ``ray``: the cluster (``ray://head:10001``, ``auto``); empty starts a local Ray instance."""
    ray_task_cpus: float = 1.0
    """With ``ray``: CPUs each task reserves."""

    def resolved_workers(self) -> Workers:
        if self.executor == "ray":
            return RayExecutor(address=self.ray_address, num_cpus=self.workers, task_cpus=self.ray_task_cpus)
        if self.executor != "local":
            raise ValueError(f"executor must be local or ray, not {self.executor!r}")
        return self.workers if self.workers > 0 else default_workers()


class DatasetsResource(dg.ConfigurableResource):
    """Where the snapshot definitions and mixture recipes are."""

    folder: str
    """A folder holding ``snapshots/*.yaml`` and ``mixtures/*.yaml``."""


class DriftResource(dg.ConfigurableResource):
    """How far a new dump's metrics may move from earlier dumps', and what happens when they do."""

    severity: str = "warn"
    """``warn``: report out-of-band metrics; ``error``: fail the check (blocks downstream and publication)."""
    abs_tolerance: float = 0.10
    """Allowed absolute difference from the earlier dumps' mean."""
    rel_tolerance: float = 0.50
    """Allowed difference relative to the earlier dumps' mean, when larger."""
