"""The ``corpuslake`` command line: run (through Dagster, in-process), summary and lineage. tmp_path only."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import main
from tests.conftest import LANDING


@pytest.mark.slow
def test_run_then_lineage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, blocklist_cache: Path
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CORPUSLAKE_CACHE", str(blocklist_cache))
    lake = str(tmp_path / "lake")
    datasets = str(Path(__file__).resolve().parent / "fixtures" / "datasets")
    argv = ["run", "--landing", str(LANDING), "--lake", lake, "--dump", "FIXTURE-B", "--workers", "1"]
    code = main([*argv, "--datasets", datasets])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dump FIXTURE-B: ok" in out
    assert "publish_datasets: ok" in out and "corpuslake://fx@1" in out and "corpuslake://fx-mix@1" in out
    assert "FIXTURE-B: 3 documents" in out
    assert "train_quality_model: ok" in out
    versions = (
        "crawl_files@v0, documents@v0, filtered@v0, content_signals@v0, deduplicated@v0, minhash_index@v0, scored@v0"
    )
    assert f"table versions: {versions}, quality_training_set@v0, quality_models@v0, rejections@v2" in out
    # the run is recorded in the shared instance the UI reads
    assert any((tmp_path / "home").iterdir())

    # reading a lake never aborts the process at exit (it did through deltalake's Python filesystem)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    code_ = f"from corpuslake.cli import main; raise SystemExit(main(['summary', '--lake', {lake!r}]))"
    for _ in range(4):
        done = subprocess.run([sys.executable, "-c", code_], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-500:]
        assert "FIXTURE-B: 3 documents" in done.stdout
        assert "  FIXTURE-B: 1 file(s): 1 read, 0 rejected, 0 empty" in done.stdout

    assert main(["lineage", "documents@0", "--lake", lake]) == 0
    chain = capsys.readouterr().out.splitlines()
    assert chain[0].startswith("documents@v0  asset=documents partition=FIXTURE-B")
    assert chain[1].strip().startswith("crawl_files@v0  asset=crawl_files")
    assert "part-00000.warc.gz  sha256=" in chain[2]
    # from the pin: the publication, then the same branch
    assert main(["lineage", "corpuslake://fx@1", "--lake", lake]) == 0
    tree = capsys.readouterr().out.splitlines()
    assert tree[0].startswith("corpuslake://fx@1  snapshot snapshots/fx@v") and "dumps=FIXTURE-B" in tree[0]
    assert tree[1].startswith("  documents@v0  asset=documents partition=FIXTURE-B")
    assert tree[-1].endswith("1 dump(s) (FIXTURE-B), 1 input file(s)")


def test_unknown_dump_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    code = main(["run", "--landing", str(LANDING), "--lake", str(tmp_path / "lake"), "--dump", "NOPE"])
    assert code == 2
    assert "no such dump" in capsys.readouterr().err


def test_engine_never_imports_dagster() -> None:
    """corpuslake is the engine and the client: importing all of it must not pull Dagster in."""
    code = (
        "import pkgutil, importlib, sys, corpuslake\n"
        "for m in pkgutil.walk_packages(corpuslake.__path__, 'corpuslake.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('dagster' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
