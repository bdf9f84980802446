"""A quiet, honest console: Dagster's preview notice and Great Expectations' temporary-folder lines are
silenced (those alone), the URL blocklist says when it compiles, and ``summary`` says which input files
were rejected or empty.

Touches: orchestration.definitions (imported in a subprocess, and its logging filter in process),
corpuslake.filters.url.prepare with a small list under tmp_path, corpuslake.input_files and the ``summary``
command of corpuslake.cli on a lake built by ingest_crawl_files from a landing zone under tmp_path.
"""

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from corpuslake.cli import main
from corpuslake.filters import url
from corpuslake.input_files import SHOWN_PER_KIND, dump_inputs, input_lines
from corpuslake.pipeline import ingest_crawl_files
from corpuslake.store import Lake
from tests.conftest import LANDING

ROOT = Path(__file__).resolve().parent.parent


def test_only_the_partitioned_check_preview_notice_is_silenced() -> None:
    code = (
        "import warnings, dagster as dg\n"
        "import orchestration.definitions\n"
        "warnings.warn('another preview feature', dg.PreviewWarning)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # -W always: without the filter every partitioned check would print the notice
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-1000:]
    assert "partitions_def on an AssetCheckSpec" not in done.stderr
    assert "another preview feature" in done.stderr


def test_great_expectations_temporary_folders_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    import orchestration.definitions  # noqa: F401  (installs the filter)

    logger = logging.getLogger("great_expectations.data_context.types.base")
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("Created temporary directory '/tmp/tmpabc' for ephemeral docs site")
        logger.info("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


def test_the_blocklist_says_when_it_compiles(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    domains = tmp_path / "domains.txt"
    domains.write_text("example.com\nexample.org\n")
    config = url.UrlConfig(domains=str(domains), urls="")
    with caplog.at_level(logging.INFO, logger=url.__name__):
        url.prepare(config, tmp_path / "cache")
    assert [r.getMessage().split(" into ")[0] for r in caplog.records] == [
        f"compiling the URL domain blocklist {domains}",
        "compiled the URL domain blocklist: 2 domains",
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=url.__name__):
        url.prepare(config, tmp_path / "cache")  # cached: nothing to say
    assert caplog.records == []


def test_summary_counts_rejected_and_empty_input_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    landing = tmp_path / "landing"
    (landing / "D1").mkdir(parents=True)
    shutil.copy(LANDING / "FIXTURE-B" / "part-00000.warc.gz", landing / "D1" / "part-00000.warc.gz")
    (landing / "D1" / "part-00001.warc.gz").write_bytes(b"")  # a failed upload
    (landing / "D1" / "notes.txt").write_text("not a crawl\n")
    lake = Lake(str(tmp_path / "lake"))
    ingest_crawl_files(lake, landing, "D1", "run", workers=1)

    [inputs] = dump_inputs(lake)
    assert (inputs.files, inputs.read, inputs.empty) == (3, 1, ("part-00001.warc.gz",))
    assert len(inputs.rejected) == 1 and "notes.txt: not a WARC file" in inputs.rejected[0]

    assert main(["summary", "--lake", lake.root]) == 0
    out = capsys.readouterr().out
    assert "  D1: 3 file(s): 1 read, 1 rejected, 1 empty" in out
    assert "    REJECTED  " in out and "notes.txt: not a WARC file" in out
    assert "WARNING  D1/part-00001.warc.gz is empty (0 bytes), usually a failed upload" in out


def test_many_stray_files_are_counted_not_listed() -> None:
    from corpuslake.input_files import DumpInputs

    many = DumpInputs("D", 30, tuple(f"f{i}: bad" for i in range(15)), tuple(f"e{i}.warc.gz" for i in range(15)))
    lines = input_lines([many])
    assert lines[1] == "  D: 30 file(s): 0 read, 15 rejected, 15 empty"
    assert sum(line.startswith("    REJECTED  f") for line in lines) == SHOWN_PER_KIND
    assert f"    REJECTED  ... and {15 - SHOWN_PER_KIND} more" in lines
    assert f"WARNING  D: {15 - SHOWN_PER_KIND} more empty file(s)" in lines
