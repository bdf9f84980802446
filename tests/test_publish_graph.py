"""The publish job in the Dagster graph: pin @1, a new dump, @2, gc, and @1 still reads the same bytes;
then a dump fails a blocking check: it is quarantined, and @3 covers the other dump.

Touches: the snapshots and mixtures assets of the one Definitions object, the ingest job on the committed
fixture landing zone, the catalog, the client and the CLI, a crafted bad documents partition and the
unique-id check's verdict (quality_checks.documents), on a lake under tmp_path.
"""

import hashlib
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.lineage import Lineage
from corpuslake.settings import Settings
from corpuslake.store import Lake
from corpuslake.verdicts import Verdict, blocked_attempts, record_verdict
from orchestration.cli import main
from orchestration.definitions import PUBLISH_JOB, build_definitions
from quality_checks.documents import ids_unique
from tests.conftest import LANDING, run_ingest

DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"


def _publish(instance: dg.DagsterInstance, lake: Path, datasets: Path, cache: Path) -> Any:
    settings = Settings(
        lake=str(lake), landing=str(LANDING), dagster_home="unused", cache=str(cache), datasets=str(datasets)
    )
    return (
        build_definitions(settings, workers=1)
        .resolve_job_def(PUBLISH_JOB)
        .execute_in_process(instance=instance, raise_on_error=False)
    )


def _file_digests(lake: Path, uri: str) -> dict[str, str]:
    entry = Catalog(Lake(str(lake))).resolve(uri)
    return {f.path: hashlib.sha256((lake / entry.table / f.path).read_bytes()).hexdigest() for f in entry.manifest}


@pytest.mark.slow
def test_pins_survive_new_dumps_and_gc(
    instance: dg.DagsterInstance,
    tmp_path: Path,
    plan: dict[str, Any],
    blocklist_cache: Path,
    trained_lake: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake_path, datasets = tmp_path / "lake", DATASETS

    assert run_ingest(instance, lake_path, "FIXTURE-A", plan, blocklist_cache, trained=trained_lake).success
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
    assert snapshots.metadata["fx/dumps"].value == "FIXTURE-A" and snapshots.metadata["quarantined_dumps"].value == 0
    assert mixtures.metadata["fx-mix/dumps"].value == "corpuslake://fx@1: FIXTURE-A"

    # a new dump arrives; documents gets a new version; publishing mints fx@2, the mixture pins fx@1
    assert run_ingest(instance, lake_path, "FIXTURE-B", plan, blocklist_cache, trained=trained_lake).success
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

    _a_failing_dump_is_quarantined(instance, tmp_path, plan, blocklist_cache, capsys)


def _a_failing_dump_is_quarantined(
    instance: dg.DagsterInstance,
    tmp_path: Path,
    plan: dict[str, Any],
    cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """FIXTURE-B's documents get a repeated id and fail the unique-id check: fx@3 covers FIXTURE-A alone
    and says why FIXTURE-B was left out; a definition naming FIXTURE-B is blocked with the reason."""
    lake_path = tmp_path / "lake"
    lake = Lake(str(lake_path))
    rows = lake.read("documents", dumps=["FIXTURE-B"])
    original = lake.lineage("documents")
    lineage = Lineage("documents", "FIXTURE-B", "crafted", original.code_version, original.config, original.upstream)
    bad = lake.write_partition("documents", pa.concat_tables([rows, rows.slice(0, 1)]), lineage, {"dump": "FIXTURE-B"})
    passed, counts = ids_unique(lake, "FIXTURE-B")
    assert not passed and counts["repeated_ids"] == 1
    verdict = Verdict("documents", bad, "FIXTURE-B", "documents_ids_unique", passed, "1 repeated id", counts, "crafted")
    record_verdict(lake, verdict)
    reason = f"documents@v{bad} dump FIXTURE-B: check documents_ids_unique failed"

    published = _publish(instance, lake_path, DATASETS, cache)
    assert published.success  # the dump that passed is published
    fx = Catalog(lake).resolve("corpuslake://fx@latest")
    assert fx.number == 3 and fx.documents == plan["FIXTURE-A"]["documents"]
    assert fx.report["coverage"]["dumps"] == ["FIXTURE-A"] and reason in fx.report["coverage"]["left_out"]["FIXTURE-B"]
    (snapshots,) = published.asset_materializations_for_node("snapshots")
    assert snapshots.metadata["quarantined_dumps"].value == 1
    assert snapshots.metadata["lake"].value == lake.root  # the UI says which lake the step wrote
    assert reason in str(snapshots.metadata["quarantined"].value)
    assert snapshots.metadata["fx/dumps"].value == "FIXTURE-A" and reason in str(
        snapshots.metadata["fx/left_out"].value
    )
    assert "| FIXTURE-A | FIXTURE-B |" in str(snapshots.metadata["publications"].value)

    assert main(["snapshots", "--lake", str(lake_path)]) == 0
    listing = capsys.readouterr().out
    assert (
        "QUARANTINED  dump FIXTURE-B" in listing
        and "WARNING covers 1 dump(s): FIXTURE-A; left out 1: FIXTURE-B" in listing
    )

    named = tmp_path / "datasets"
    shutil.copytree(DATASETS, named)
    (named / "snapshots" / "fx-b.yaml").write_text("name: fx-b\nsource: documents\ndumps: [FIXTURE-B]\n")
    (named / "snapshots" / "fx-typo.yaml").write_text('name: fx-typo\nsource: documents\nredact_pii: "no"\n')
    refused = _publish(instance, lake_path, named, cache)
    assert not refused.success  # the step fails; the other definitions were published (unchanged)
    assert reason in blocked_attempts(lake, "fx-b")[-1]["reasons"]
    failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key == "snapshots")
    listed = str(failure.event_specific_data.user_failure_data.metadata["blocked"].value)
    assert "fx-typo.yaml" in listed and "redact_pii" in listed  # the unreadable file is named, not fatal to the rest
    assert Catalog(lake).entries("fx-b") == [] and Catalog(lake).resolve("corpuslake://fx@latest").number == 3
