"""One record of what was requested, shared by the sensor and ``corpuslake run``: the runs in the Dagster
instance, tagged with the lake, the dump and a fingerprint of the dump's files.

The sensor requests a dump when no run of its job on this lake ever read these files (whether the CLI or
the sensor started it, whatever its outcome: a failed dump is re-run on purpose, never in a loop every
minute); ``corpuslake run`` skips a dump that a successful run on this lake already ingested from these
files, and that the lake still holds, unless it is forced.
"""

import dagster as dg

from corpuslake.landing import DumpFolder

LAKE_TAG = "corpuslake/lake"
DUMP_TAG = "corpuslake/dump"
FILES_TAG = "corpuslake/dump-files"
"""A digest of the names and sizes of the dump's files (corpuslake.landing.DumpFolder.fingerprint)."""


def dump_tags(lake: str, folder: DumpFolder) -> dict[str, str]:
    """The tags of a run that ingests ``folder`` into ``lake``."""
    return {LAKE_TAG: lake, DUMP_TAG: folder.name, FILES_TAG: folder.fingerprint}


def earlier_run(
    instance: dg.DagsterInstance,
    job: str,
    lake: str,
    folder: DumpFolder,
    *,
    succeeded: bool = False,
) -> str | None:
    """The id of the latest run of ``job`` that read ``folder``'s current files into ``lake`` (only a
    successful one with ``succeeded``), or None."""
    statuses = [dg.DagsterRunStatus.SUCCESS] if succeeded else None
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job, tags=dump_tags(lake, folder), statuses=statuses), limit=1
    )
    return records[0].dagster_run.run_id if records else None
