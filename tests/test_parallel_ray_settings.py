"""The Ray driver's own settings: applied while the driver connects, never over the user's environment, and
gone from the environment afterwards.

Touches: corpuslake.parallel.driver_environment, DRIVER_SETTINGS and RayExecutor.connect, with a stand-in
``ray`` module (no cluster is started).
"""

import os
import sys
import types
from typing import Any

import pytest

from corpuslake import parallel

STATS, EVENTS = "RAY_event_stats", "RAY_task_events_report_interval_ms"  # Ray's own spelling


def test_settings_are_set_for_the_block_only_and_the_users_values_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATS, raising=False)
    monkeypatch.setenv(EVENTS, "500")
    with parallel.driver_environment({STATS: "0", EVENTS: "0"}):
        assert os.environ[STATS] == "0"
        assert os.environ[EVENTS] == "500"  # set by the user: kept
    assert STATS not in os.environ
    assert os.environ[EVENTS] == "500"


def test_settings_are_removed_when_connecting_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATS, raising=False)
    with pytest.raises(ConnectionError), parallel.driver_environment({STATS: "0"}):
        raise ConnectionError("no cluster")
    assert STATS not in os.environ


def _stand_in_ray(seen: list[dict[str, Any]]) -> types.ModuleType:
    module = types.ModuleType("ray")

    def init(**options: Any) -> None:
        seen.append({"environment": dict(os.environ), **options})

    module.is_initialized = lambda: bool(seen)  # type: ignore[attr-defined]
    module.init = init  # type: ignore[attr-defined]
    return module


def test_connect_starts_the_driver_with_the_settings_and_leaves_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in parallel.DRIVER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(STATS, "1")  # the user asks for Ray's own value
    seen: list[dict[str, Any]] = []
    monkeypatch.setitem(sys.modules, "ray", _stand_in_ray(seen))
    before = dict(os.environ)
    parallel.RayExecutor(address="127.0.0.1:6379").connect()
    parallel.RayExecutor(address="127.0.0.1:6379").connect()  # already connected: no second init
    [call] = seen
    assert call["environment"][EVENTS] == "0"
    assert call["environment"][STATS] == "1"
    assert call["address"] == "127.0.0.1:6379" and call["log_to_driver"] is False
    assert dict(os.environ) == before
