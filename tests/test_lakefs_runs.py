"""Runs on a lakeFS lake: each run writes its own branch, main changes only by merging runs whose checks
passed, publications become tags, and pins resolve through them.

Touches: orchestration.lakefs (run branches, settling), the ``lake`` resource, the run-status sensors,
``corpuslake run`` (train, ingest, publish in-process, each settled), the client's pins and lock files,
all against tests/lakefs_server.py: lakeFS's API (every body validated with lakefs-sdk's models) and its
S3 gateway (SigV4-verified), which deltalake's ``lakefs://`` backend and pyarrow's S3 filesystem use.
"""

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.lakefs_store import run_branch_name
from corpuslake.maintenance import collect_garbage
from corpuslake.pins import PinError
from corpuslake.store import Lake
from orchestration.cli import main
from orchestration.lakefs import check_outcomes, settle_run
from orchestration.resources import LakeResource
from orchestration.sensors import LAKEFS_KEEP_SENSOR, LAKEFS_MERGE_SENSOR, build_lakefs_sensors
from tests.conftest import LAKEFS_KEY_ID as KEY_ID
from tests.conftest import LAKEFS_REPO as REPO
from tests.conftest import LAKEFS_SECRET as SECRET
from tests.conftest import LANDING
from tests.lakefs_server import LakeFSServer

ROOT = f"lakefs://{REPO}/main/lake"
DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"


@pytest.fixture
def lakefs(server: LakeFSServer, monkeypatch: pytest.MonkeyPatch) -> LakeFSServer:
    """The stand-in, with the LAKEFS_* variables a lakefs:// lake root reads pointing at it."""
    monkeypatch.setenv("LAKEFS_ENDPOINT", server.endpoint)
    monkeypatch.setenv("LAKEFS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("LAKEFS_SECRET_ACCESS_KEY", SECRET)
    return server


def _paths(server: LakeFSServer, ref: str) -> set[str]:
    return set(server.tree(REPO, ref))


# -- a small job: one asset writing a table through the lake resource, one check on it ---------------


def _probe_definitions(severity: dg.AssetCheckSeverity, passes: bool) -> dg.Definitions:
    @dg.asset
    def probe(lake: LakeResource) -> None:
        where = lake.lake()
        write_deltalake(where.table_uri("probe"), pa.table({"x": [1, 2, 3]}), storage_options=where.options)

    @dg.asset_check(asset=probe, blocking=True)
    def probe_rows(lake: LakeResource) -> dg.AssetCheckResult:
        rows = Lake(lake.lake().root).read("probe").num_rows
        return dg.AssetCheckResult(passed=passes and rows == 3, severity=severity, metadata={"rows": rows})

    return dg.Definitions(assets=[probe], asset_checks=[probe_rows], resources={"lake": LakeResource(root=ROOT)})


def _run_probe(instance: dg.DagsterInstance, severity: dg.AssetCheckSeverity, passes: bool) -> Any:
    job = _probe_definitions(severity, passes).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, raise_on_error=False)


def _sensor_context(instance: dg.DagsterInstance, result: Any, name: str) -> dg.RunStatusSensorContext:
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    status = dg.DagsterEventType.RUN_SUCCESS if result.success else dg.DagsterEventType.RUN_FAILURE
    (record,) = instance.get_records_for_run(result.run_id, of_type=status).records
    event = record.event_log_entry.dagster_event
    assert event is not None
    return dg.build_run_status_sensor_context(
        sensor_name=name, dagster_instance=instance, dagster_run=run, dagster_event=event
    )


def test_a_run_writes_only_its_branch_until_its_checks_passed(
    lakefs: LakeFSServer, instance: dg.DagsterInstance
) -> None:
    main_before = lakefs.head(REPO, "main")
    result = _run_probe(instance, dg.AssetCheckSeverity.ERROR, passes=True)
    assert result.success
    branch = run_branch_name(result.run_id)
    # the run's writes are on its branch; main has not moved
    assert "lake/probe/_delta_log/00000000000000000000.json" in _paths(lakefs, branch)
    assert lakefs.head(REPO, "main") == main_before and not any(p.startswith("lake/") for p in _paths(lakefs, "main"))

    sensors = {s.name: s for s in build_lakefs_sensors(ROOT, [])}
    skipped = sensors[LAKEFS_MERGE_SENSOR](_sensor_context(instance, result, LAKEFS_MERGE_SENSOR))
    assert "merged" in str(skipped)
    assert "lake/probe/_delta_log/00000000000000000000.json" in _paths(lakefs, "main")
    merge = lakefs.commit_info(REPO, "main")
    assert merge.metadata is not None and merge.metadata["corpuslake.run_id"] == result.run_id
    assert merge.metadata["corpuslake.run_branch"] == branch
    assert Lake(ROOT).read("probe").num_rows == 3
    # settling again (a retried sensor tick) changes nothing on main
    again = settle_run(instance, result.run_id, ROOT)
    assert again is not None and again.merged
    assert Lake(ROOT).read("probe").num_rows == 3


def test_a_failed_check_keeps_main_as_it_was(lakefs: LakeFSServer, instance: dg.DagsterInstance) -> None:
    result = _run_probe(instance, dg.AssetCheckSeverity.ERROR, passes=False)
    errors, warnings = check_outcomes(instance, result.run_id)
    assert errors == ["probe:probe_rows"] and warnings == []
    main_before = lakefs.head(REPO, "main")

    sensors = {s.name: s for s in build_lakefs_sensors(ROOT, [])}
    sensor = sensors[LAKEFS_MERGE_SENSOR if result.success else LAKEFS_KEEP_SENSOR]
    skipped = sensor(_sensor_context(instance, result, sensor.name))
    assert "kept" in str(skipped) and "check failed: probe:probe_rows" in str(skipped)
    settled = settle_run(instance, result.run_id, ROOT)
    assert settled is not None and not settled.merged
    assert "check failed: probe:probe_rows" in settled.reasons
    assert lakefs.head(REPO, "main") == main_before  # no merge request was even sent
    assert not any(c.startswith("POST") and "/merge/" in c for c in lakefs.calls() if "delta-tx" not in c)
    # the branch keeps what the run wrote, for inspection
    branch_lake = Lake(f"lakefs://{REPO}/{settled.branch}/lake")
    assert branch_lake.read("probe").num_rows == 3
    assert Lake(ROOT).version("probe") is None


def test_a_warning_is_reported_and_does_not_block_the_merge(lakefs: LakeFSServer, instance: dg.DagsterInstance) -> None:
    result = _run_probe(instance, dg.AssetCheckSeverity.WARN, passes=False)
    assert result.success
    settled = settle_run(instance, result.run_id, ROOT)
    assert settled is not None and settled.merged and settled.warnings == ("probe:probe_rows",)
    assert Lake(ROOT).read("probe").num_rows == 3


def test_two_runs_writing_the_same_table_merge_one_and_keep_the_other(
    lakefs: LakeFSServer, instance: dg.DagsterInstance
) -> None:
    first = _run_probe(instance, dg.AssetCheckSeverity.ERROR, passes=True)
    second = _run_probe(instance, dg.AssetCheckSeverity.ERROR, passes=True)  # branched from the same main
    assert first.success and second.success
    merged = settle_run(instance, first.run_id, ROOT)
    assert merged is not None and merged.merged
    main_after_first = lakefs.head(REPO, "main")
    # both wrote version 0 of the probe table's Delta log: lakeFS refuses the second merge as a conflict
    kept = settle_run(instance, second.run_id, ROOT)
    assert kept is not None and not kept.merged
    assert kept.reasons[0].startswith("merge conflict")
    assert lakefs.head(REPO, "main") == main_after_first
    assert Lake(ROOT).read("probe").num_rows == 3


def test_jobs_on_a_lakefs_lake_queue_one_run_per_repository() -> None:
    from corpuslake.settings import load_settings
    from orchestration.definitions import build_definitions
    from orchestration.lakefs import WRITER_TAG

    on_lakefs = build_definitions(load_settings(lake=ROOT))
    local = build_definitions(load_settings(lake="/tmp/a-local-lake"))
    for name in ("ingest_dump", "train_quality_model", "publish_datasets"):
        assert on_lakefs.resolve_job_def(name).tags[WRITER_TAG] == REPO
        assert WRITER_TAG not in local.resolve_job_def(name).tags
    sensors = {s.name for s in on_lakefs.sensors or []}
    assert {LAKEFS_MERGE_SENSOR, LAKEFS_KEEP_SENSOR} <= sensors
    assert not {LAKEFS_MERGE_SENSOR, LAKEFS_KEEP_SENSOR} & {s.name for s in local.sensors or []}


def test_a_lakefs_lake_without_credentials_or_outside_a_run_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LAKEFS_ENDPOINT", "LAKEFS_ACCESS_KEY_ID", "LAKEFS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="LAKEFS_ENDPOINT, LAKEFS_ACCESS_KEY_ID, LAKEFS_SECRET_ACCESS_KEY"):
        _ = Lake(ROOT).options
    with pytest.raises(RuntimeError, match="only inside a Dagster run"):
        LakeResource(root=ROOT).lake()
    with pytest.raises(ValueError, match="names a repository, a branch and a folder"):
        _ = Lake("lakefs://corpus/main").options
    assert settle_run(dg.DagsterInstance.ephemeral(), "any", "/tmp/local-lake") is None
    with pytest.raises(ValueError, match="lakeFS's own garbage collection"):
        collect_garbage(Lake(ROOT))


# -- the whole graph through `corpuslake run` --------------------------------------------------------


@pytest.mark.slow
def test_corpuslake_run_merges_each_passed_run_and_pins_resolve_through_tags(
    lakefs: LakeFSServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    blocklist_cache: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CORPUSLAKE_CACHE", str(blocklist_cache))
    argv = ["run", "--landing", str(LANDING), "--lake", ROOT, "--datasets", str(DATASETS), "--workers", "1"]
    assert main([*argv, "--dump", "FIXTURE-A"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    # train, ingest and publish: each on its own branch, each merged into main
    assert out.count("merged into main as") == 3, out
    assert "tagged fx@1, fx-mix@1" in out
    branches = lakefs.branches(REPO)
    assert sum(b.startswith("run-") for b in branches) == 3
    assert not any(b.startswith("delta-tx-") for b in branches)  # deltalake's transaction branches are gone
    tags = lakefs.tags(REPO)
    assert tags["corpuslake-fx-1"] == tags["corpuslake-fx-mix-1"] == lakefs.head(REPO, "main")

    lake = Lake(ROOT)
    first = client.open("corpuslake://fx@1", lake)
    assert first.lake.root == f"lakefs://{REPO}/{tags['corpuslake-fx-1']}/lake"  # read at the tagged commit
    rows = first.to_table()
    assert rows.num_rows == Catalog(lake).resolve("corpuslake://fx@1").documents > 0
    assert first.verify() == []
    config = tmp_path / "train.yaml"
    config.write_text("data: corpuslake://fx@1\n")
    lock = client.write_lock(config, lake)
    assert f"lake: lakefs://{REPO}/{tags['corpuslake-fx-1']}/lake" in lock.read_text()

    # a second dump: fx@2 on a later commit; fx@1 still reads the same rows from its own commit
    assert main([*argv, "--dump", "FIXTURE-B"]) == 0
    out = capsys.readouterr().out
    assert "tagged fx@2" in out and "fx-mix" not in out.split("tagged")[-1].splitlines()[0]
    tags = lakefs.tags(REPO)
    assert tags["corpuslake-fx-2"] == lakefs.head(REPO, "main") != tags["corpuslake-fx-1"]
    assert client.open("corpuslake://fx@1", lake).to_table().equals(rows)
    assert client.open(str(lock)).to_table().equals(rows)
    assert client.open("corpuslake://fx@2", lake).to_table().num_rows > rows.num_rows

    # a publication without a tag is not a pin on this lake, whatever the catalog says
    lakefs.delete_tag(REPO, "corpuslake-fx-2")
    with pytest.raises(PinError, match="no lakeFS tag corpuslake-fx-2"):
        client.open("corpuslake://fx@2", lake)
    # main's Delta tables hold both dumps; the run branches are still there for inspection
    documents = DeltaTable(lake.table_uri("documents"), storage_options=lake.options)
    assert sorted(set(documents.to_pyarrow_table(columns=["dump"]).column("dump").to_pylist())) == [
        "FIXTURE-A",
        "FIXTURE-B",
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("LAKEFS_ENDPOINT"),
    reason="no lakeFS server: set LAKEFS_ENDPOINT, LAKEFS_ACCESS_KEY_ID, LAKEFS_SECRET_ACCESS_KEY and "
    "LAKEFS_REPOSITORY (a scratch repository) to run the graph against one",
)
def test_corpuslake_run_on_a_real_lakefs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocklist_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The graph on a real server, in a fresh folder of the scratch repository (its main gets the merges)."""
    import lakefs as sdk

    from corpuslake.lakefs_store import LakeFSVersionStore

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CORPUSLAKE_CACHE", str(blocklist_cache))
    repository = os.environ["LAKEFS_REPOSITORY"]
    folder = f"itest-{uuid.uuid4().hex[:12]}"
    root = f"lakefs://{repository}/main/{folder}"
    argv = ["run", "--landing", str(LANDING), "--lake", root, "--datasets", str(DATASETS), "--workers", "1"]
    store = LakeFSVersionStore.from_env()
    repo = sdk.Repository(repository, client=store._client)
    code = main([*argv, "--dump", "FIXTURE-A"])
    out = capsys.readouterr().out
    try:
        assert code == 0, out
        assert out.count("merged into main as") == 3 and "tagged fx@1, fx-mix@1" in out, out
        tagged = store.resolve_pin("fx", 1)
        snapshot = client.open("corpuslake://fx@1", Lake(root))
        assert snapshot.lake.root == f"lakefs://{repository}/{tagged}/{folder}"
        assert snapshot.to_table().num_rows == snapshot.entry.documents > 0 and snapshot.verify() == []
    finally:
        # the tags and run branches this test made go (main keeps the merges: a scratch repository)
        for tag in ("corpuslake-fx-1", "corpuslake-fx-mix-1"):
            with contextlib.suppress(Exception):
                repo.tag(tag).delete()
        for line in out.splitlines():
            if "lakeFS: run-" in line:
                with contextlib.suppress(Exception):
                    repo.branch(line.split()[1]).delete()
