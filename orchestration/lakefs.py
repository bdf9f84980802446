"""Runs on a lakeFS lake: each run writes on its own branch, and merges into main only when its checks passed.

With the lake root ``lakefs://<repository>/<main>/<folder>``, the ``lake`` resource of a run hands out the
lake at ``lakefs://<repository>/run-<run id>/<folder>`` (the branch is created from main when the run's
first step starts), so every stage, check and publication of the run reads and writes that branch. When
the run ends, :func:`settle_run` looks at the run in the Dagster instance: it merges the branch into main
only if the run succeeded and none of its asset checks failed with error severity (warnings are
reported, not blocking). Publications minted by the run are then tagged on the merge commit
(``corpuslake-<name>-<number>``), and pins resolve through those tags from then on. A run that failed or
whose checks failed leaves main as it was and its branch in place for inspection.

:func:`settle_run` is called by the run-status sensors in production and by ``corpuslake run`` after
each in-process run.
"""

import logging
from dataclasses import dataclass

import dagster as dg

from corpuslake.catalog import Catalog
from corpuslake.locations import is_lakefs
from corpuslake.store import Lake

# corpuslake.lakefs_store (and the lakeFS SDK, 0.4 s) is imported only when a lake is on lakeFS.
WRITER_TAG = "corpuslake/lakefs-repository"
"""Carried by every run on a lakeFS lake; production/dagster.yaml lets one such run per repository run at
a time, because any two runs write shared tables (check verdicts at least) and the later merge would
conflict."""


def run_tags(root: str) -> dict[str, str]:
    """The tags of every job on lake ``root``: on lakeFS, the repository its runs write (see WRITER_TAG)."""
    if not is_lakefs(root):
        return {}
    from corpuslake.lakefs_store import parse_lake_uri

    repository, _, _ = parse_lake_uri(root)
    return {WRITER_TAG: repository}


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settlement:
    """What became of a run's branch."""

    run_id: str
    branch: str
    merged: bool
    commit: str | None = None
    """The merge commit on main when merged."""
    tags: tuple[str, ...] = ()
    """Publication tags created on the merge commit."""
    reasons: tuple[str, ...] = ()
    """Why the branch was not merged (failed run, failed checks, a conflict)."""
    warnings: tuple[str, ...] = ()
    """Checks that failed with warning severity: reported, not blocking."""


def run_lake(root: str, run_id: str, cache: str | None = None) -> Lake:
    """The lake a run works on: the run's own branch on lakeFS (created from main if new), else ``root``."""
    if not is_lakefs(root):
        return Lake(root, cache=cache)
    from corpuslake.lakefs_store import LakeFSVersionStore, parse_lake_uri

    _, _, prefix = parse_lake_uri(root)
    with LakeFSVersionStore.for_lake(root) as store:
        branch = store.run_branch(run_id, source=store.main)
        return Lake(store.lake_root(branch, prefix), cache=cache)


def check_outcomes(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[str]]:
    """The run's failed asset checks as (blocking: error severity, warnings), each ``asset:check``."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    errors: list[str] = []
    warnings: list[str] = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        partition = f"[{evaluation.partition}]" if evaluation.partition else ""
        name = f"{evaluation.asset_key.to_user_string()}{partition}:{evaluation.check_name}"
        (warnings if evaluation.severity == dg.AssetCheckSeverity.WARN else errors).append(name)
    return errors, warnings


def settle_run(instance: dg.DagsterInstance, run_id: str, root: str) -> Settlement | None:
    """Merge the run's branch into main if the run succeeded and its checks passed; tag its publications.

    None when the lake is not on lakeFS. Settling a run again (a sensor retried) merges nothing new and
    creates no second tag: lakeFS records an empty merge, and a tag on the same commit is a no-op."""
    if not is_lakefs(root):
        return None
    from corpuslake.lakefs_store import LakeFSVersionStore, MergeConflictError, parse_lake_uri, run_branch_name

    run = instance.get_run_by_id(run_id)
    if run is None:
        raise LookupError(f"no run {run_id} in this Dagster instance")
    _, _, prefix = parse_lake_uri(root)
    errors, warnings = check_outcomes(instance, run_id)
    reasons = [f"run {run.status.value.lower()}"] if run.status != dg.DagsterRunStatus.SUCCESS else []
    reasons += [f"check failed: {name}" for name in errors]
    with LakeFSVersionStore.for_lake(root) as store:
        # A passed run that never opened the lake has no branch yet: created here, it merges nothing.
        branch = store.run_branch(run_id, source=store.main) if not reasons else run_branch_name(run_id)
        metadata = {"corpuslake.run_id": run_id, "corpuslake.job": run.job_name}
        try:
            commit = store.merge_if_passed(branch, not reasons, into=store.main, metadata=metadata)
        except MergeConflictError as error:
            # Another run merged changes to the same Delta log files first: main keeps its state, this
            # branch stays; re-running the run's partitions writes them again on a branch from the new main.
            log.error("run %s not merged: %s", run_id, error)
            return Settlement(run_id, branch, False, reasons=(f"merge conflict: {error}",), warnings=tuple(warnings))
        if commit is None:
            return Settlement(run_id, branch, False, reasons=tuple(reasons), warnings=tuple(warnings))
        tags = []
        for entry in Catalog(Lake(store.lake_root(commit, prefix))).entries():
            if entry.lineage.get("run_id") == run_id:
                store.tag_publication(entry.name, entry.number, ref=commit)
                tags.append(f"{entry.name}@{entry.number}")
    return Settlement(run_id, branch, True, commit, tuple(tags), warnings=tuple(warnings))
