"""Each step of a run hands the memory it freed back to the system: the hooks are on every job. Between
jobs the process's own state is set aside for the job, so those collections walk only what the job made."""

import gc
import weakref
from pathlib import Path

from corpuslake import memory
from corpuslake.memory import FULL_COLLECTION_JOBS, long_lived_set_aside, release_after_job, release_memory
from corpuslake.settings import Settings
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions


def test_every_job_releases_memory_after_each_step(tmp_path: Path) -> None:
    settings = Settings(lake=str(tmp_path), landing=str(tmp_path), dagster_home="unused", cache=str(tmp_path))
    definitions = build_definitions(settings, workers=1)
    for name in (INGEST_JOB, TRAIN_JOB, PUBLISH_JOB):
        hooks = {h.name for h in definitions.resolve_job_def(name).hook_defs}
        assert {"release_memory_on_success", "release_memory_on_failure"} <= hooks, name


def test_every_job_runs_its_steps_in_the_runs_own_process(tmp_path: Path) -> None:
    """The UI, the sensor and `corpuslake run` alike: the stages' pool is kept from step to step."""
    settings = Settings(lake=str(tmp_path), landing=str(tmp_path), dagster_home="unused", cache=str(tmp_path))
    definitions = build_definitions(settings, workers=1)
    for job in definitions.resolve_all_job_defs():
        assert job.executor_def.name == "in_process", job.name


class _Node:
    """A container the collector tracks, which can refer to itself."""

    def __init__(self) -> None:
        self.other: object = None


def test_long_lived_set_aside_exempts_what_is_alive_and_still_collects_the_rest() -> None:
    alive = _Node()
    gc.unfreeze()
    with long_lived_set_aside():
        assert gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects())  # collections inside the block do not walk it
        cycle = _Node()
        cycle.other = cycle
        made_inside = weakref.ref(cycle)
        del cycle
        release_memory()
        assert made_inside() is None  # a cycle made inside the block is collected as before
        kept = weakref.ref(alive)
        del alive
        assert kept() is None  # an exempt object is still freed when its last reference goes


def test_a_cycle_through_an_exempt_object_is_collected_after_the_block() -> None:
    held = _Node()
    held.other = held
    dropped = weakref.ref(held)
    gc.unfreeze()
    with long_lived_set_aside():
        del held
        release_memory()
        assert dropped() is not None  # exempt: the collections inside the block leave it
    assert gc.get_freeze_count() == 0
    release_memory()
    assert dropped() is None  # not kept for the rest of the process


def test_a_process_that_sets_aside_between_jobs_exempts_survivors_and_walks_everything_now_and_then() -> None:
    gc.unfreeze()
    survivor = _Node()
    survivor.other = survivor
    dropped = weakref.ref(survivor)
    try:
        memory.set_aside_between_jobs()
        release_after_job()  # job 1: the cycle is alive, so it is set aside with the rest
        assert gc.get_freeze_count() > 0
        assert not any(o is survivor for o in gc.get_objects())
        del survivor
        for _ in range(FULL_COLLECTION_JOBS - 2):  # jobs 2 .. N-1 walk only what each job made
            release_after_job()
            assert dropped() is not None
        made = _Node()
        made.other = made
        made_in_job = weakref.ref(made)
        del made
        release_after_job()  # job N walks everything: the exempt cycle is garbage by now
        assert dropped() is None and made_in_job() is None
    finally:
        memory._BETWEEN.enabled, memory._BETWEEN.jobs = False, 0
        gc.unfreeze()


def test_without_set_aside_a_job_release_leaves_nothing_exempt() -> None:
    gc.unfreeze()
    release_after_job()
    assert gc.get_freeze_count() == 0


def test_inside_the_block_a_release_sets_aside_what_survives_it_until_the_block_ends() -> None:
    gc.unfreeze()
    with long_lived_set_aside():
        made = _Node()
        made.other = made
        survivor = weakref.ref(made)
        release_memory()  # a step's hook: what the step left alive is walked by no later hook of the job
        assert not any(o is made for o in gc.get_objects())
        del made
        release_memory()
        assert survivor() is not None  # a cycle set aside waits for the end of the block
    assert gc.get_freeze_count() == 0
    release_memory()
    assert survivor() is None
    release_memory()
    assert gc.get_freeze_count() == 0  # outside a block a release sets nothing aside
