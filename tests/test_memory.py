"""Each step of a run hands the memory it freed back to the system: the hooks are on every job."""

from pathlib import Path

from corpuslake.settings import Settings
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions


def test_every_job_releases_memory_after_each_step(tmp_path: Path) -> None:
    settings = Settings(lake=str(tmp_path), landing=str(tmp_path), dagster_home="unused", cache=str(tmp_path))
    definitions = build_definitions(settings, workers=1)
    for name in (INGEST_JOB, TRAIN_JOB, PUBLISH_JOB):
        hooks = {h.name for h in definitions.resolve_job_def(name).hook_defs}
        assert {"release_memory_on_success", "release_memory_on_failure"} <= hooks, name
