"""The publish job in the Dagster graph: pin @1, a new dump, @2, gc, and @1 still reads the same bytes.

Touches: the snapshots and mixtures assets of the one Definitions object, the ingest job on the committed
fixture landing zone, the catalog, the client and the CLI, on a lake under tmp_path.
"""

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.settings import Settings
from corpuslake.store import Lake
from orchestration.cli import main
from orchestration.definitions import PUBLISH_JOB, build_definitions
from tests.conftest import LANDING
from tests.test_materialize import _run

DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"


def _publish(instance: dg.DagsterInstance, lake: Path, datasets: Path, cache: Path) -> Any:
    settings = Settings(
        lake=str(lake), landing=str(LANDING), dagster_home="unused", cache=str(cache), datasets=str(datasets)
    )
    return build_definitions(settings, workers=1).resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance)


def _file_digests(lake: Path, uri: str) -> dict[str, str]:
    entry = Catalog(Lake(str(lake))).resolve(uri)
    return {f.path: hashlib.sha256((lake / entry.table / f.path).read_bytes()).hexdigest() for f in entry.manifest}


@pytest.mark.slow
def test_pins_survive_new_dumps_and_gc(
    instance: dg.DagsterInstance,
    tmp_path: Path,
    plan: dict[str, Any],
    blocklist_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake_path, datasets = tmp_path / "lake", DATASETS

    assert _run(instance, lake_path, "FIXTURE-A", plan, blocklist_cache).success
    first = _publish(instance, lake_path, datasets, blocklist_cache)
    assert first.success
    lake = Lake(str(lake_path))
    pinned = client.open("corpuslake://fx@1", lake).to_table()
    assert pinned.num_rows == plan["FIXTURE-A"]["documents"]
    digests = _file_digests(lake_path, "corpuslake://fx@1")
    (snapshots,) = first.asset_materializations_for_node("snapshots")
    assert "corpuslake://fx@1" in str(snapshots.metadata["publications"].value)
    assert snapshots.metadata["fx/tokens"].value == Catalog(lake).resolve("corpuslake://fx@1").tokens > 0
    (mixtures,) = first.asset_materializations_for_node("mixtures")
    assert "realized tokens" in str(mixtures.metadata["fx-mix/proportions"].value)

    # a new dump arrives; documents gets a new version; publishing mints fx@2, the mixture pins fx@1
    assert _run(instance, lake_path, "FIXTURE-B", plan, blocklist_cache).success
    assert _publish(instance, lake_path, datasets, blocklist_cache).success
    entries = {e.uri: e for e in Catalog(lake).entries()}
    assert set(entries) == {"corpuslake://fx@1", "corpuslake://fx@2", "corpuslake://fx-mix@1"}
    assert entries["corpuslake://fx@2"].documents == pinned.num_rows + plan["FIXTURE-B"]["documents"]

    assert main(["gc", "--lake", str(lake_path), "--retention-hours", "0"]) == 0
    assert client.open("corpuslake://fx@1", lake).to_table().equals(pinned)
    assert _file_digests(lake_path, "corpuslake://fx@1") == digests  # byte-identical after gc
    assert main(["verify", "--lake", str(lake_path), "corpuslake://fx@1"]) == 0
    assert main(["verify", "--lake", str(lake_path), "corpuslake://fx-mix@1"]) == 0
    capsys.readouterr()

    assert main(["snapshots", "--lake", str(lake_path)]) == 0
    listing = capsys.readouterr().out
    assert all(uri in listing for uri in entries)
    assert main(["resolve", "--lake", str(lake_path), "corpuslake://fx@latest"]) == 0
    resolved = capsys.readouterr().out
    assert resolved.startswith("corpuslake://fx@2") and entries["corpuslake://fx@2"].manifest_sha256 in resolved
    assert main(["diff", "--lake", str(lake_path), "corpuslake://fx@1", "corpuslake://fx@2"]) == 0
    assert f"added {plan['FIXTURE-B']['documents']}  removed 0  changed 0" in capsys.readouterr().out
    assert main(["resolve", "--lake", str(lake_path), "corpuslake://fx@7"]) == 2
    assert "fx has no number 7" in capsys.readouterr().err
