"""The deploy folder: the production instance on a real PostgreSQL server, and the files that configure it.

Touches: deploy/production/dagster.yaml loaded by Dagster against a PostgreSQL server that this test
starts on loopback (Debian's postgresql package; ``make test`` installs it when missing), the partitions
and runs of the corpuslake code location stored there; deploy/.env.example against every environment
variable the code reads; the YAML files of deploy/ parse.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml

from orchestration.lakefs import WRITER_TAG
from orchestration.partitions import DUMP_PARTITIONS_NAME

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A PostgreSQL server on loopback for this module, in a folder of its own, removed afterwards."""
    binaries = _postgres_bin()
    if binaries is None:
        if os.environ.get("CORPUSLAKE_SKIP_POSTGRES"):
            pytest.skip("CORPUSLAKE_SKIP_POSTGRES is set and no PostgreSQL server is installed")
        pytest.fail("no PostgreSQL server under /usr/lib/postgresql: `make test` installs Debian's postgresql")
    folder = Path(tempfile.mkdtemp(prefix="corpuslake-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the package's postgres user
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run(
        [*run_as, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "dagster"],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            *run_as,
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(folder),
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                psycopg2.connect(host="127.0.0.1", port=port, user="dagster", dbname="postgres").close()
                break
            except psycopg2.OperationalError:
                time.sleep(0.1)
        else:
            raise RuntimeError("PostgreSQL did not start within 10 s")
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="dagster", dbname="postgres")
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        connection.cursor().execute("CREATE DATABASE dagster")
        connection.close()
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_DB": "dagster",
            "DAGSTER_PG_USERNAME": "dagster",
            "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name=DUMP_PARTITIONS_NAME))
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult[None]:
    return dg.MaterializeResult(metadata={"dump": context.partition_key})


@pytest.mark.slow
def test_the_production_instance_keeps_its_state_in_postgresql(
    postgres: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in postgres.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "production" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        settings = instance.get_concurrency_config().run_queue_config
        assert settings is not None and settings.max_concurrent_runs == 4
        # one run at a time per lakeFS repository: the tag every job on a lakeFS lake carries
        limits = {limit["key"]: limit for limit in settings.tag_concurrency_limits}
        assert limits[WRITER_TAG]["limit"] == 1 and limits[WRITER_TAG]["value"] == {"applyLimitPerUniqueValue": True}
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["CC-MAIN-2024-10"])
        result = dg.materialize([probe], instance=instance, partition_key="CC-MAIN-2024-10")
        assert result.success
    with psycopg2.connect(
        host="127.0.0.1", port=int(postgres["DAGSTER_PG_PORT"]), user="dagster", dbname="dagster"
    ) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT run_id, status FROM runs")
        assert cursor.fetchall() == [(result.run_id, "SUCCESS")]
        cursor.execute(
            "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = %s", (DUMP_PARTITIONS_NAME,)
        )
        assert cursor.fetchall() == [("CC-MAIN-2024-10",)]


def _variables_read_by_the_code() -> set[str]:
    found: set[str] = set()
    pattern = re.compile(
        r"""(?:environ\.get|getenv|env\.get|setdefault|environ\[|env\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    for folder in ("corpuslake", "orchestration", "assets", "quality_checks"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(pattern.findall(path.read_text(encoding="utf-8")))
    for path in DEPLOY.rglob("*.yaml"):
        found |= set(re.findall(r"env:\s*([A-Z][A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    found |= set(re.findall(r"\$\$([A-Z][A-Z0-9_]+)", (ROOT / "Makefile").read_text(encoding="utf-8")))
    return found - {"PATH"}  # the shell's own


def test_env_example_lists_every_variable_the_code_reads() -> None:
    listed = {
        line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text().splitlines() if re.match(r"[A-Z]", line)
    }
    read = _variables_read_by_the_code()
    assert {
        "CORPUSLAKE_LAKE",
        "DAGSTER_PG_PASSWORD",
        "RAY_ADDRESS",
        "CORPUSLAKE_SKIP_BROWSER",
    } <= read  # the scan works
    assert read - listed == set(), "variables read by the code but missing from deploy/.env.example"
    assert listed - read == set(), "variables listed in deploy/.env.example that nothing reads"


def test_deploy_files_parse() -> None:
    for path in DEPLOY.rglob("*.yaml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8")), path
    ray_cluster = yaml.safe_load((DEPLOY / "ray-cluster.yaml").read_text())
    assert ray_cluster["kind"] == "RayCluster" and ray_cluster["spec"]["rayVersion"] == "2.60.0"
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "orchestration.definitions"
    assert "orchestration.definitions" in (DEPLOY / "Dockerfile").read_text()
