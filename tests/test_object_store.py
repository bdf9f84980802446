"""A lake on object storage: the whole graph against a real S3-protocol server, and no credential leaks.

Touches: the store, the quality model files, publishing and the verifying client with the lake root at
``s3://corpuslake/lake``, served by moto's S3 server, started as its own process on loopback (deltalake
and pyarrow speak S3 to it over HTTP: conditional writes, listings, ranged reads). Credentials come only
from the standard AWS environment variables; the test then searches every object of the bucket, every
Dagster event of the runs, the captured output and the local instance and cache folders for them.
"""

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.maintenance import collect_garbage
from corpuslake.pins import DamagedSnapshotError
from corpuslake.settings import Settings
from corpuslake.store import Lake
from orchestration.definitions import INGEST_JOB, PUBLISH_JOB, TRAIN_JOB, build_definitions
from orchestration.partitions import DUMP_PARTITIONS_NAME
from tests.conftest import LANDING, with_model

BUCKET = "corpuslake"
ROOT = f"s3://{BUCKET}/lake"
DATASETS = Path(__file__).resolve().parent / "fixtures" / "datasets"
SECRET = f"corpuslake-test-secret-{uuid.uuid4().hex}"
KEY_ID = f"AKIACORPUSLAKE{uuid.uuid4().hex[:8].upper()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto's S3 server in its own process (a server thread in this process would share the GIL with
    deltalake's blocking calls), an empty bucket, and the AWS environment pointing at it."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
        env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        env.setenv("AWS_REGION", "us-east-1")
        env.setenv("AWS_ALLOW_HTTP", "true")  # the loopback server speaks plain HTTP
        s3_client = boto3.client("s3")
        for _ in range(100):
            try:
                s3_client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # the server is still starting
                time.sleep(0.1)
        else:
            server.terminate()
            raise RuntimeError("moto's S3 server did not start")
        yield s3_client
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def graph(
    s3: Any, tmp_path_factory: pytest.TempPathFactory, plan: dict[str, Any], blocklist_cache: Path
) -> Iterator[dict[str, Any]]:
    """Train, ingest the fixture dump and publish, with the lake on S3."""
    home = tmp_path_factory.mktemp("s3-home")
    settings = Settings(
        lake=ROOT, landing=str(LANDING), dagster_home=str(home), cache=str(blocklist_cache), datasets=str(DATASETS)
    )
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["FIXTURE-A"])
        definitions = build_definitions(settings, workers=1)
        config = {"ops": {"documents": {"config": {"max_payload_bytes": plan["FIXTURE-A"]["oversized_limit"]}}}}
        runs = [
            definitions.resolve_job_def(TRAIN_JOB).execute_in_process(instance=instance),
            definitions.resolve_job_def(INGEST_JOB).execute_in_process(
                instance=instance, partition_key="FIXTURE-A", run_config=config
            ),
            definitions.resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance),
        ]
        events = [str(record) for run in runs for record in instance.all_logs(run.run_id)]
        yield {"runs": runs, "events": events, "home": home, "settings": settings}


def _objects(s3: Any) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET)
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing.get("Contents", [])}


@pytest.mark.slow
def test_the_graph_runs_with_the_lake_on_s3(graph: dict[str, Any], s3: Any, plan: dict[str, Any]) -> None:
    assert all(run.success for run in graph["runs"])
    keys = set(_objects(s3))
    assert any(k.startswith("lake/documents/_delta_log/") for k in keys)
    assert any(k.startswith("lake/_models/quality/") for k in keys)  # the model file went to the bucket too
    lake = Lake(ROOT)
    assert lake.read("documents").num_rows == plan["FIXTURE-A"]["documents"]
    snapshot = client.open("corpuslake://fx@1", lake)
    assert snapshot.to_table().num_rows == plan["FIXTURE-A"]["documents"] and snapshot.verify() == []

    removed = collect_garbage(lake, retention_hours=0, tables=["documents", snapshot.entry.table])
    assert [r.table for r in removed] == ["documents", snapshot.entry.table]
    assert client.open("corpuslake://fx@1", lake).to_table().num_rows == plan["FIXTURE-A"]["documents"]

    file = snapshot.entry.manifest[0]
    key = f"lake/{snapshot.entry.table}/{file.path}"
    original = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=original[:-10] + b"0123456789")
    try:
        with pytest.raises(DamagedSnapshotError, match="was altered"):
            client.open("corpuslake://fx@1", lake).to_table()
        assert len(client.open("corpuslake://fx@1", lake).verify()) == 1
        s3.delete_object(Bucket=BUCKET, Key=key)
        with pytest.raises(DamagedSnapshotError, match="is missing"):
            client.open("corpuslake://fx@1", lake).to_table()
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=original)


@pytest.mark.slow
def test_concurrent_publishers_on_s3_never_share_a_number(graph: dict[str, Any]) -> None:
    from corpuslake.datasets import publish_snapshot
    from corpuslake.snapshots import SnapshotDefinition
    from corpuslake.tokens import Tokenizer

    lake = Lake(ROOT)
    definitions = [
        SnapshotDefinition(name="race", source="documents", languages=(lang,), columns=("id", "dump", "text"))
        for lang in ("en", "de", "fr", "ja")
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = sorted(
            pool.map(lambda d: publish_snapshot(lake, d, "race", Tokenizer(threads=1)).entry.number, definitions)
        )
    assert numbers == [1, 2, 3, 4]
    assert sorted(e.number for e in Catalog(lake).entries("race")) == [1, 2, 3, 4]


@pytest.mark.slow
def test_credentials_appear_nowhere(graph: dict[str, Any], s3: Any) -> None:
    leaks = []
    for key, body in _objects(s3).items():  # Delta logs (commit metadata, lineage), data files, models
        if SECRET.encode() in body or KEY_ID.encode() in body:
            leaks.append(f"s3://{BUCKET}/{key}")
    for event in graph["events"]:  # Dagster events: materialization and check metadata, logs
        if SECRET in event or KEY_ID in event:
            leaks.append(f"dagster event: {event[:120]}")
    # the instance folder holds the runs' captured stdout and stderr (compute logs) as well
    for path in [*Path(graph["home"]).rglob("*"), *Path(graph["settings"].cache).rglob("*")]:
        if path.is_file() and path.stat().st_size < 50_000_000:
            data = path.read_bytes()
            if SECRET.encode() in data or KEY_ID.encode() in data:
                leaks.append(str(path))
    assert len(graph["events"]) > 100  # the search covered the runs' events
    assert leaks == []


@pytest.mark.slow
def test_a_landing_zone_on_s3_feeds_the_sensor_and_the_stages(
    s3: Any, tmp_path: Path, plan: dict[str, Any], blocklist_cache: Path, trained_lake: Path
) -> None:
    from corpuslake.landing import complete_dumps, list_dump_files, list_dumps

    for path in (LANDING / "FIXTURE-A").rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"landing/FIXTURE-A/{path.relative_to(LANDING / 'FIXTURE-A').as_posix()}")
    s3.put_object(Bucket=BUCKET, Key="landing/../escape/x.warc.gz", Body=b"")  # not a valid dump name
    landing = f"s3://{BUCKET}/landing"
    assert list_dumps(landing) == ["FIXTURE-A"]
    assert complete_dumps(landing, quiet_seconds=-1) == ["FIXTURE-A"]  # the _SUCCESS marker is there
    assert [relative for _, relative in list_dump_files(landing, "FIXTURE-A")] == sorted(
        p.relative_to(LANDING / "FIXTURE-A").as_posix()
        for p in (LANDING / "FIXTURE-A").rglob("*")
        if p.is_file() and not p.name.startswith("_")
    )

    settings = Settings(lake=str(tmp_path / "lake"), landing=landing, dagster_home="unused", cache=str(blocklist_cache))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["FIXTURE-A"])
        definitions = build_definitions(settings, workers=2)
        with_model(trained_lake, tmp_path / "lake")  # the session's trained model: training reads no landing
        config = {"ops": {"documents": {"config": {"max_payload_bytes": plan["FIXTURE-A"]["oversized_limit"]}}}}
        result = definitions.resolve_job_def(INGEST_JOB).execute_in_process(
            instance=instance, partition_key="FIXTURE-A", run_config=config
        )
        assert result.success
    lake = Lake(settings.lake)
    files = lake.read("crawl_files").to_pylist()
    assert {f["source_file"]: f["format"] for f in files} == plan["FIXTURE-A"]["files"]
    assert all(f["path"].startswith(f"{landing}/FIXTURE-A/") for f in files)
    assert lake.read("documents").num_rows == plan["FIXTURE-A"]["documents"]
