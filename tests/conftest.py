"""Shared fixtures: the committed test landing zone and a Dagster instance in tmp_path."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

LANDING = Path(__file__).resolve().parent / "fixtures" / "landing"


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
