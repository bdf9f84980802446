"""The ``corpuslake`` command line: run (through Dagster, in-process), summary and lineage. tmp_path only."""

import os
import shutil
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
    landing = tmp_path / "landing"
    shutil.copytree(LANDING / "FIXTURE-B", landing / "FIXTURE-B")
    (landing / "FIXTURE-B" / "_SUCCESS").touch()  # complete now, whatever the checkout's file times
    argv = ["run", "--landing", str(landing), "--lake", lake, "--dump", "FIXTURE-B", "--workers", "1"]
    code = main([*argv, "--datasets", datasets])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dump FIXTURE-B: ok" in out
    assert "publish_datasets: ok" in out and "corpuslake://fx@1" in out and "corpuslake://fx-mix@1" in out
    assert "FIXTURE-B: 3 documents" in out
    assert "  FIXTURE-B: 1 file(s): 1 read, 0 rejected, 0 empty" in out  # the run's input files, as summary
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


def _run_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def test_a_landing_zone_without_a_dump_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    landing = tmp_path / "landing"
    (landing / "bad name!").mkdir(parents=True)  # not a valid dump name
    (landing / "notes.txt").write_text("not a dump")
    lake = str(tmp_path / "lake")
    code, err = _run_error(["run", "--landing", str(landing), "--lake", lake], capsys)
    assert code == 2
    assert err.startswith("corpuslake: error: landing zone") and "holds no dump folder" in err
    assert len(err.splitlines()) == 1
    code, err = _run_error(["run", "--landing", str(tmp_path / "nowhere"), "--lake", lake], capsys)
    assert code == 2 and ("does not exist" in err or "is not a directory" in err)


def test_an_empty_dump_folder_is_never_run_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    landing = tmp_path / "landing"
    (landing / "EMPTY").mkdir(parents=True)
    (landing / "ARRIVING").mkdir()
    (landing / "ARRIVING" / "part-00000.warc.gz").write_bytes(b"")  # just written, no marker
    lake = str(tmp_path / "lake")
    code, err = _run_error(["run", "--landing", str(landing), "--lake", lake], capsys)
    assert code == 2
    assert "no complete dump folder" in err
    assert "EMPTY: its folder holds no file" in err and "ARRIVING: still arriving: no _SUCCESS" in err
    # --force runs a folder still arriving, never an empty one
    code, err = _run_error(["run", "--landing", str(landing), "--lake", lake, "--dump", "EMPTY", "--force"], capsys)
    assert code == 2 and "EMPTY: its folder holds no file" in err
    assert not (tmp_path / "lake").exists()  # nothing ran: no model trained, no table written


def test_a_lake_that_does_not_exist_is_an_error_an_empty_one_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such-lake")
    for argv in (["summary"], ["snapshots"], ["lineage", "documents@0"], ["resolve", "corpuslake://web@1"]):
        code, err = _run_error([*argv, "--lake", missing], capsys)
        assert code == 2, argv
        assert err == (
            f"corpuslake: error: lake {missing} does not exist (check --lake or CORPUSLAKE_LAKE; "
            "`corpuslake run` creates a lake)"
        )
    empty = tmp_path / "empty-lake"
    empty.mkdir()
    assert main(["snapshots", "--lake", str(empty)]) == 0
    assert "no snapshot has been published yet" in capsys.readouterr().out


def test_an_engine_error_prints_its_cause_and_its_kind_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import corpuslake.cli as engine_cli
    from corpuslake.errors import CorpuslakeError

    def fail(_: object) -> int:
        try:
            raise OSError("disk quota exceeded")
        except OSError as error:
            raise CorpuslakeError("could not write documents") from error

    monkeypatch.setattr(engine_cli, "_summary", fail)
    code, err = _run_error(["summary", "--lake", str(tmp_path)], capsys)
    assert (code, err) == (1, "corpuslake: error: could not write documents (caused by OSError: disk quota exceeded)")


def test_a_bad_definition_stops_run_and_publish_before_they_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    datasets = tmp_path / "datasets"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "datasets", datasets)
    (datasets / "snapshots" / "broken.yaml").write_text('name: broken\nsource: scored\nredact_pii: "no"\n')
    lake = tmp_path / "lake"
    lake.mkdir()
    for argv in (["run", "--landing", str(LANDING)], ["publish"]):
        code, err = _run_error([*argv, "--lake", str(lake), "--datasets", str(datasets)], capsys)
        assert code == 2, argv
        assert len(err.splitlines()) == 1 and "broken.yaml: redact_pii must be true or false" in err
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())  # no run was started


def test_ctrl_c_outside_a_run_is_one_line_and_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import corpuslake.cli as engine_cli

    def interrupted(_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_cli, "_summary", interrupted)
    assert _run_error(["summary", "--lake", str(tmp_path)], capsys) == (130, "corpuslake: interrupted")


def test_run_exit_codes_tell_published_quarantined_failed_and_interrupted() -> None:
    from orchestration.cli import run_exit_code
    from orchestration.run import DumpRun, RunOutcome

    def ran(dump: str, ok: bool, job: str = "ingest_dump") -> DumpRun:
        return DumpRun(dump, f"run-{dump or job}", ok, () if ok else ("documents",), job)

    published = ran("", True, "publish_datasets")
    assert run_exit_code(RunOutcome([ran("A", True), published])) == 0
    held = {"B": ["documents_ids_unique failed"]}
    assert run_exit_code(RunOutcome([ran("A", True), ran("B", False), published], quarantined=held)) == 3
    assert run_exit_code(RunOutcome([ran("A", True), ran("B", False)])) == 1  # failed, not quarantined
    assert run_exit_code(RunOutcome([ran("A", True), ran("", False, "publish_datasets")])) == 1
    assert run_exit_code(RunOutcome([ran("A", True)], interrupted=True, unfinished=("B",))) == 130
