"""Ray execution: the same stage functions as Ray tasks give the same tables as the local process pool.

Touches: corpuslake.parallel.RayExecutor, the ComputeResource's ``executor`` setting, and the whole ingest
graph on the committed fixture dump, once on a two-node Ray cluster started here with Ray's own
``ray.cluster_utils.Cluster`` (a head and a second node, one CPU each: separate raylets, object stores and
worker processes, as on two machines sharing the lake's disk) and once with the local pool, into two lakes
under tmp_path.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
import ray
from ray.cluster_utils import Cluster

from corpuslake.catalog import Catalog
from corpuslake.parallel import RayExecutor, run_jobs
from corpuslake.settings import Settings
from corpuslake.store import Lake
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, build_definitions
from orchestration.partitions import DUMP_PARTITIONS_NAME
from tests.conftest import LANDING, with_model

DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"
TABLES = ["crawl_files", "documents", "filtered", "content_signals", "deduplicated", "minhash_index", "scored"]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        yield
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]  # ray.cluster_utils carries no annotations


def _square(value: int) -> int:
    return value * value


def _fail(value: int) -> int:
    raise ValueError(f"bad job {value}")


@pytest.mark.slow
def test_jobs_run_as_ray_tasks(local_ray: None) -> None:
    executor = RayExecutor()
    seen: list[int] = []
    results = sorted(run_jobs(_square, range(20), executor, lambda done, _: seen.append(done)))
    assert results == [i * i for i in range(20)] and seen == list(range(1, 21))
    assert executor.slots() == 2  # one CPU on each of the two nodes
    with pytest.raises(ValueError, match="bad job 3"):  # the stage's own error, not Ray's wrapper
        list(run_jobs(_fail, [3], executor))


def _ingest(root: Path, executor: str, plan: dict[str, Any], cache: Path, trained: Path) -> tuple[Lake, dict[str, int]]:
    """Ingest the fixture dump and publish the fixture definitions with ``executor``.

    The lake starts from the session's trained model: training runs no stage jobs, on Ray or elsewhere."""
    settings = Settings(
        lake=str(root / "lake"),
        landing=str(LANDING),
        dagster_home="unused",
        cache=str(cache),
        executor=executor,
        datasets=str(DATASETS),
    )
    with dg.instance_for_test(temp_dir=str(root)) as instance:
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["FIXTURE-A"])
        definitions = build_definitions(settings, workers=2)
        with_model(trained, root / "lake")
        config = {"ops": {"documents": {"config": {"max_payload_bytes": plan["FIXTURE-A"]["oversized_limit"]}}}}
        result = definitions.resolve_job_def(INGEST_JOB).execute_in_process(
            partition_key="FIXTURE-A", instance=instance, run_config=config
        )
        assert result.success
        [documents] = result.asset_materializations_for_node("documents")
        places = documents.metadata["jobs_per_place"].value
        assert definitions.resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance).success
    assert isinstance(places, dict)
    return Lake(settings.lake), places


def _canonical(table: pa.Table) -> pa.Table:
    keys = [c for c in ("dump", "source_file", "id", "band", "key") if c in table.column_names]
    return table.sort_by([(k, "ascending") for k in keys])


@pytest.mark.slow
def test_ray_and_the_local_pool_build_identical_tables(
    local_ray: None, tmp_path: Path, plan: dict[str, Any], blocklist_cache: Path, trained_lake: Path
) -> None:
    (tmp_path / "ray").mkdir()
    (tmp_path / "pool").mkdir()
    with_ray, ray_places = _ingest(tmp_path / "ray", "ray", plan, blocklist_cache, trained_lake)
    with_pool, pool_places = _ingest(tmp_path / "pool", "local", plan, blocklist_cache, trained_lake)
    # The fixture's three WARC files ran as tasks on both nodes of the cluster, and in pool processes.
    assert len(ray_places) == 2 and all(place.startswith("ray node") for place in ray_places), ray_places
    assert sum(ray_places.values()) == sum(pool_places.values()) == 3
    for table in TABLES:
        left, right = _canonical(with_ray.read(table)), _canonical(with_pool.read(table))
        assert left.num_rows == right.num_rows and left.equals(right), table
    rejections = [_canonical(lake.read("rejections")) for lake in (with_ray, with_pool)]
    assert rejections[0].equals(rejections[1])
    assert with_ray.read("documents").num_rows == plan["FIXTURE-A"]["documents"]
    # Publishing ran its file jobs (token counts, redaction, read-back) as Ray tasks: the same publications.
    published = [{e.name: e.content_sha256 for e in Catalog(lake).entries()} for lake in (with_ray, with_pool)]
    assert published[0] == published[1] and set(published[0]) == {"fx", "fx-mix"}
