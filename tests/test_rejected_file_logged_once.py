"""A file of a dump that is not an archive or a document file is said once on the console: by the
crawl_files asset (``rejected file: ...``), not also by the stage that scanned it.

Touches: the crawl_files asset materialized for one dump of a landing zone under tmp_path (lake under
tmp_path, an ephemeral Dagster instance, the console logger as ``corpuslake run`` configures it).
"""

from pathlib import Path

import dagster as dg
import pytest

from assets.crawl_files import crawl_files
from corpuslake.store import Lake
from orchestration.partitions import DUMP_PARTITIONS_NAME
from orchestration.resources import ComputeResource, LakeResource, LandingZoneResource

CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@pytest.mark.parametrize("name", ["notes.txt", "broken.jsonl"])
def test_a_rejected_input_file_is_logged_once(
    name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    dump = tmp_path / "landing" / "D1"
    dump.mkdir(parents=True)
    # Not an archive at all; a .jsonl file holding gzip bytes (a document file of the wrong format).
    (dump / name).write_bytes(b"plain words, not an archive\n" if name.endswith(".txt") else b"\x1f\x8b\x08\x00junk")
    lake = str(tmp_path / "lake")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["D1"])
        resources = {
            "lake": LakeResource(root=lake),
            "landing": LandingZoneResource(root=str(tmp_path / "landing")),
            "compute": ComputeResource(workers=1),
        }
        result = dg.materialize(
            [crawl_files], run_config=CONSOLE, instance=instance, partition_key="D1", resources=resources
        )
    assert result.success
    [error] = [e for e in Lake(lake).read("crawl_files").column("error").to_pylist() if e]
    assert name in error
    # The console's lines and Python's log records (the command line prints those at WARNING on stderr).
    err = capfd.readouterr().err + caplog.text
    assert err.count(error) == 1, err
    assert f"rejected file: {error}" in err
