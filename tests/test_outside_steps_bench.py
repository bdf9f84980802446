"""bench/outside_steps.py splits the driver's CPU outside Dagster steps by phase from its marks."""

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("outside_steps")
    finally:
        sys.path.remove(str(BENCH))


def _mark(cpu: float, kind: str, ev: str | None = None) -> dict[str, Any]:
    return {"t": cpu, "cpu": cpu, "kind": kind, **({"ev": ev, "step": None} if ev else {})}


def test_phases_count_steps_apart_and_split_the_rest() -> None:
    marks = [
        _mark(0.0, "start"),
        _mark(1.0, "import dagster"),
        _mark(1.5, "import orchestration.cli"),
        _mark(2.5, "import orchestration.run"),
        _mark(4.0, "ev0", "PIPELINE_START"),  # run set-up: 1.5
        _mark(4.1, "ev1", "PIPELINE_START"),  # a write: 0.1
        _mark(4.3, "ev0", "STEP_START"),  # set-up again: 0.2
        _mark(4.4, "ev1", "STEP_START"),  # a write: 0.1
        _mark(9.4, "ev0", "STEP_SUCCESS"),  # inside the step: 5.0
        _mark(9.5, "ev1", "STEP_SUCCESS"),  # a write: 0.1
        _mark(9.8, "ev0", "HOOK_COMPLETED"),  # after the step: 0.3
        _mark(9.9, "ev1", "HOOK_COMPLETED"),
        _mark(10.0, "ev0", "PIPELINE_SUCCESS"),  # after the step: 0.1
        _mark(10.1, "ev1", "PIPELINE_SUCCESS"),
        _mark(10.6, "ev0", "PIPELINE_START"),  # between jobs: 0.5
        _mark(10.7, "ev1", "PIPELINE_START"),
        _mark(10.9, "ev0", "PIPELINE_SUCCESS"),  # between jobs: 0.2 more (no step in the second job)
        _mark(11.0, "ev1", "PIPELINE_SUCCESS"),
        _mark(11.2, "run_landing returned"),  # between jobs: 0.2 more
        _mark(11.6, "end"),  # the summary: 0.4
    ]
    split, writes, inside = _bench().phases(marks)
    assert inside == 5.0
    rounded = {phase: round(seconds, 6) for phase, seconds in split.items()}
    assert rounded == {
        "start-up: import dagster": 1.0,
        "start-up: import orchestration.cli": 0.5,
        "start-up: import orchestration.run": 1.0,
        "run set-up (to the first job's first event)": 1.7,
        "after steps (release hooks, next step's start)": 0.4,
        "between jobs (settle, collect, next job's start)": 0.9,
        "end (the CLI's summary of the lake)": 0.4,
    }
    assert {kind: round(seconds, 6) for kind, seconds in writes.items()} == {
        "PIPELINE_START": 0.2,
        "STEP_START": 0.1,
        "STEP_SUCCESS": 0.1,
        "HOOK_COMPLETED": 0.1,
        "PIPELINE_SUCCESS": 0.2,
    }
