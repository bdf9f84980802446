"""Each step of a run hands the memory it freed back to the system: the hooks are on every job. Between
jobs the process's own state is set aside, so those collections walk only what a job made."""

import gc
import weakref
from pathlib import Path

from corpuslake.memory import keep_long_lived, release_memory
from corpuslake.settings import Settings
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions


def test_every_job_releases_memory_after_each_step(tmp_path: Path) -> None:
    settings = Settings(lake=str(tmp_path), landing=str(tmp_path), dagster_home="unused", cache=str(tmp_path))
    definitions = build_definitions(settings, workers=1)
    for name in (INGEST_JOB, TRAIN_JOB, PUBLISH_JOB):
        hooks = {h.name for h in definitions.resolve_job_def(name).hook_defs}
        assert {"release_memory_on_success", "release_memory_on_failure"} <= hooks, name


class _Node:
    """A container the collector tracks, which can refer to itself."""

    def __init__(self) -> None:
        self.other: object = None


def test_keep_long_lived_sets_what_is_alive_aside_and_later_garbage_is_still_collected() -> None:
    alive = _Node()
    try:
        keep_long_lived()
        assert gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects())  # later collections do not walk it
        cycle = _Node()
        cycle.other = cycle
        made_later = weakref.ref(cycle)
        del cycle
        release_memory()
        assert made_later() is None  # a cycle made after the freeze is collected as before
        kept = weakref.ref(alive)
        del alive
        assert kept() is None  # a set-aside object is still freed when its last reference goes
    finally:
        gc.unfreeze()
