"""The new-dump sensor: ticks with build_sensor_context against a test instance and a landing zone in
tmp_path. Touches: the one Definitions object's sensor, a temporary landing zone."""

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from corpuslake.landing import complete_dumps, scan_landing
from corpuslake.settings import Settings
from orchestration.definitions import INGEST_JOB, build_definitions
from orchestration.partitions import DUMP_PARTITIONS_NAME
from orchestration.requests import DUMP_TAG, FILES_TAG, dump_tags
from orchestration.sensors import NEW_DUMPS_SENSOR
from tests.conftest import LANDING


def _dump(landing: Path, name: str, marker: bool, age: float = 0.0) -> Path:
    folder = landing / name
    folder.mkdir(parents=True)
    shutil.copy(LANDING / "FIXTURE-B" / "part-00000.warc.gz", folder / "part-00000.warc.gz")
    if marker:
        (folder / "_SUCCESS").touch()
    if age:
        stamp = time.time() - age
        for path in folder.iterdir():
            os.utime(path, (stamp, stamp))
    return folder


def _tick(instance: dg.DagsterInstance, landing: Path, cursor: str | None) -> dg.SensorResult:
    definitions = build_definitions(Settings(lake="unused", landing=str(landing), dagster_home="unused"))
    sensor = definitions.resolve_sensor_def(NEW_DUMPS_SENSOR)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=definitions.resources)
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_new_dump_gives_one_run_and_a_second_tick_none(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _dump(landing, "CC-MAIN-2024-10", marker=True)
    first = _tick(instance, landing, None)
    assert [r.partition_key for r in first.run_requests or []] == ["CC-MAIN-2024-10"]
    (request,) = first.dynamic_partitions_requests or []
    assert list(request.partition_keys) == ["CC-MAIN-2024-10"]
    assert request.partitions_def_name == DUMP_PARTITIONS_NAME
    second = _tick(instance, landing, first.cursor)
    assert not second.run_requests and second.skip_reason
    _dump(landing, "CC-MAIN-2024-18", marker=True)
    third = _tick(instance, landing, first.cursor)
    assert [r.partition_key for r in third.run_requests or []] == ["CC-MAIN-2024-18"]


def test_incomplete_dump_waits_for_its_marker_or_the_quiet_period(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    folder = _dump(landing, "CC-MAIN-2024-22", marker=False)  # files still arriving
    assert not _tick(instance, landing, None).run_requests
    (folder / "_SUCCESS").touch()
    assert [r.partition_key for r in _tick(instance, landing, None).run_requests or []] == ["CC-MAIN-2024-22"]
    _dump(landing, "CC-MAIN-2024-26", marker=False, age=600)  # quiet for ten minutes: complete
    assert complete_dumps(str(landing), quiet_seconds=300) == ["CC-MAIN-2024-22", "CC-MAIN-2024-26"]
    assert complete_dumps(str(landing), quiet_seconds=-1) == ["CC-MAIN-2024-22"]  # marker only


def test_removed_dump_and_stray_entries_do_not_break_the_sensor(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    gone = _dump(landing, "CC-MAIN-2024-30", marker=True)
    first = _tick(instance, landing, None)
    shutil.rmtree(gone)
    (landing / "notes.txt").write_text("not a dump")  # a file, not a folder
    (landing / "bad name!").mkdir()  # not a valid dump name
    (landing / "EMPTY").mkdir()  # no files yet
    second = _tick(instance, landing, first.cursor)
    assert not second.run_requests
    _dump(landing, "CC-MAIN-2024-30", marker=True)  # the same dump again: already requested once
    assert not _tick(instance, landing, first.cursor).run_requests


def test_missing_landing_zone_is_a_clear_error(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _tick(instance, tmp_path / "nowhere", None)


def _record_run(instance: dg.DagsterInstance, landing: Path, dump: str, status: dg.DagsterRunStatus) -> None:
    """A run of the ingest job as ``corpuslake run`` leaves it in the instance: tagged with lake, dump and files."""
    (folder,) = [f for f in scan_landing(str(landing)) if f.name == dump]
    run = dg.DagsterRun(job_name=INGEST_JOB, run_id=make_new_run_id(), tags=dump_tags("unused", folder), status=status)
    instance.add_run(run)


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE])
def test_a_dump_the_cli_ran_is_not_requested_until_its_files_change(
    instance: dg.DagsterInstance, tmp_path: Path, status: dg.DagsterRunStatus
) -> None:
    landing = tmp_path / "landing"
    folder = _dump(landing, "CC-MAIN-2024-33", marker=True)
    _record_run(instance, landing, "CC-MAIN-2024-33", status)  # a failed dump is re-run on purpose, not every tick
    assert not _tick(instance, landing, None).run_requests
    (folder / "_SUCCESS").touch()  # the marker again, same files: nothing new
    os.utime(folder / "part-00000.warc.gz")
    assert not _tick(instance, landing, None).run_requests
    shutil.copy(folder / "part-00000.warc.gz", folder / "part-00001.warc.gz")  # a new file: new input
    assert [r.partition_key for r in _tick(instance, landing, None).run_requests or []] == ["CC-MAIN-2024-33"]


def test_requests_carry_the_shared_tags_and_an_older_cursor_still_counts(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    _dump(landing, "CC-MAIN-2024-38", marker=True)
    (request,) = _tick(instance, landing, None).run_requests or []
    assert request.tags[DUMP_TAG] == "CC-MAIN-2024-38" and request.tags[FILES_TAG]
    # a cursor written before files were fingerprinted listed names only: those dumps stay requested
    assert not _tick(instance, landing, json.dumps(["CC-MAIN-2024-38"])).run_requests
