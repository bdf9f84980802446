"""Shared fixtures: the committed test landing zone, a Dagster instance in tmp_path, and the lakeFS
stand-in server (tests/lakefs_server.py) with a store on it."""

import json
import uuid
from collections.abc import Iterator
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
