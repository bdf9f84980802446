"""Shared fixtures: the committed test landing zone, a Dagster instance in tmp_path, a trained quality model
and the fixture dump through the ingest graph (each built once per session, copied by the tests that write),
and the lakeFS stand-in server (tests/lakefs_server.py) with a store on it."""

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest

if TYPE_CHECKING:
    from corpuslake.lakefs_store import LakeFSVersionStore
    from tests.lakefs_server import LakeFSServer

LANDING = Path(__file__).resolve().parent / "fixtures" / "landing"

# The lakeFS stand-in's repository and credentials: unique per session, so a test can search for them
# wherever a leak could land.
LAKEFS_REPO = "corpus"
LAKEFS_KEY_ID = f"AKIALAKEFS{uuid.uuid4().hex[:10].upper()}"
LAKEFS_SECRET = f"lakefs-test-secret-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def plan() -> dict[str, Any]:
    """What tests/fixtures/build_fixtures.py planted in the fixture landing zone."""
    return dict(json.loads((LANDING / "PLAN.json").read_text()))


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture(scope="session")
def blocklist_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: FineWeb's URL blocklist is compiled once (about 8 s), not per test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def trained_lake(tmp_path_factory: pytest.TempPathFactory, blocklist_cache: Path) -> Path:
    """A lake holding only what the training job writes (the quality model and its training set).

    Training reads the committed samples, never the lake's dumps, so every graph test may start from a copy
    (``with_model``) instead of training again (about a fifth of a graph test's time)."""
    from corpuslake.settings import Settings
    from orchestration.definitions import TRAIN_JOB, build_definitions

    root = tmp_path_factory.mktemp("trained")
    (root / "home").mkdir()
    settings = Settings(
        lake=str(root / "lake"), landing=str(LANDING), dagster_home="unused", cache=str(blocklist_cache)
    )
    with dg.instance_for_test(temp_dir=str(root / "home")) as instance:
        assert (
            build_definitions(settings, workers=1)
            .resolve_job_def(TRAIN_JOB)
            .execute_in_process(instance=instance)
            .success
        )
    return root / "lake"


def with_model(trained: Path, lake: Path) -> Path:
    """``lake`` (created if missing) with a copy of the trained lake's tables: the graph can score at once."""
    shutil.copytree(trained, lake, dirs_exist_ok=True)
    return lake


def run_ingest(
    instance: dg.DagsterInstance,
    lake: Path,
    dump: str,
    plan: dict[str, Any],
    cache: Path,
    *,
    trained: Path,
    workers: int = 1,
) -> dg.ExecuteInProcessResult:
    """The ingest job on one dump of the fixture landing zone, into ``lake`` (given the trained model first)."""
    from corpuslake.settings import Settings
    from corpuslake.store import Lake
    from orchestration.definitions import INGEST_JOB, build_definitions
    from orchestration.partitions import DUMP_PARTITIONS_NAME

    if Lake(str(lake)).version("quality_models") is None:  # scored needs a model
        with_model(trained, lake)
    settings = Settings(lake=str(lake), landing=str(LANDING), dagster_home="unused", cache=str(cache))
    instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, [dump])
    job = build_definitions(settings, workers=workers).resolve_job_def(INGEST_JOB)
    config = {"ops": {"documents": {"config": {"max_payload_bytes": plan["FIXTURE-A"]["oversized_limit"]}}}}
    return job.execute_in_process(partition_key=dump, instance=instance, run_config=config)


@dataclass(frozen=True)
class Ingested:
    """A lake after one ingest run, and that run's result (its events stay readable after the instance closes)."""

    lake: Path
    """The lake's folder: read it, or copy it (``shutil.copytree``) before writing."""
    result: dg.ExecuteInProcessResult
    """The ingest run: its materializations and check evaluations."""


@pytest.fixture(scope="session")
def fixture_a(
    tmp_path_factory: pytest.TempPathFactory, plan: dict[str, Any], blocklist_cache: Path, trained_lake: Path
) -> Ingested:
    """FIXTURE-A through the ingest graph in one process, once for the session. Never write to it."""
    root = tmp_path_factory.mktemp("fixture_a")
    (root / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "home")) as instance:
        result = run_ingest(instance, root / "lake", "FIXTURE-A", plan, blocklist_cache, trained=trained_lake)
    assert result.success
    return Ingested(root / "lake", result)


@pytest.fixture
def server() -> "Iterator[LakeFSServer]":
    """The lakeFS stand-in (API and S3 gateway) with one repository, ``LAKEFS_REPO``."""
    from tests.lakefs_server import LakeFSServer

    with LakeFSServer(LAKEFS_KEY_ID, LAKEFS_SECRET) as running:
        running.create_repository(LAKEFS_REPO)
        yield running


@pytest.fixture
def store(server: "LakeFSServer") -> "Iterator[LakeFSVersionStore]":
    """A version store on the stand-in's repository."""
    from corpuslake.lakefs_store import LakeFSVersionStore

    with LakeFSVersionStore(server.endpoint, LAKEFS_REPO, LAKEFS_KEY_ID, LAKEFS_SECRET) as opened:
        yield opened
