"""Consumers of pins: lock files and exports register them, gc keeps what they hold, retiring releases it.

Touches: corpuslake.consumers, corpuslake.client.write_lock, corpuslake.maintenance (gc with and without
``release_unheld``) and the ``consumers`` command (through its own argparse parser), on lakes under
tmp_path with small snapshots published straight into the catalog.
"""

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from corpuslake import client
from corpuslake.consumers import (
    UnknownConsumerError,
    behind_lines,
    consumers,
    register_consumer,
    register_export,
    retire,
)
from corpuslake.consumers_cli import add_consumers_parser
from corpuslake.maintenance import collect_garbage, gc_lines
from corpuslake.pins import DamagedSnapshotError
from corpuslake.store import Lake
from tests.published import numbered_rows, publish_rows


def _lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    assert publish_rows(lake, "web", numbered_rows("web", 12), rows_per_file=5) == "corpuslake://web@1"
    assert publish_rows(lake, "web", numbered_rows("web", 15), rows_per_file=5) == "corpuslake://web@2"
    return lake


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="corpuslake")
    add_consumers_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_lock_registers_its_pins_with_the_lock_files_hash(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    config = tmp_path / "train.yaml"
    config.write_text("data: corpuslake://web@latest\n", encoding="utf-8")
    lock = client.write_lock(config, lake, consumer="llama-small", run_id="job-17")
    [consumer] = consumers(lake)
    assert (consumer.name, consumer.run_id, consumer.kind) == ("llama-small", "job-17", "lock")
    assert consumer.pins == ("corpuslake://web@2",)  # @latest, resolved as the lock file has it
    assert consumer.lock_sha256 == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert consumer.location == str(lock)
    client.write_lock(config, lake, consumer="llama-small", run_id="job-17")
    assert len(consumers(lake)) == 1  # the same lock of the same run is one consumer
    client.write_lock(config, lake)  # default name: the config's stem
    assert sorted(c.name for c in consumers(lake)) == ["llama-small", "train"]
    client.write_lock(config, lake, consumer="unregistered", register=False)
    assert "unregistered" not in {c.name for c in consumers(lake)}


def test_consumers_are_listed_by_pin_and_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = _lake(tmp_path)
    register_consumer(lake, "old-run", ["corpuslake://web@1"], kind="lock", run_id="r1")
    register_consumer(lake, "new-run", ["corpuslake://web@2"], kind="lock", run_id="r2")
    register_export(lake, {"pin": "corpuslake://web@2", "export_id": "e" * 64}, "/exports/web2")
    assert [c.name for c in consumers(lake, "corpuslake://web@1")] == ["old-run"]
    assert [c.name for c in consumers(lake, "corpuslake://web@2")] == ["new-run", "export:web2"]
    assert len(consumers(lake, "web")) == 3  # a name lists every number's consumers

    assert _cli(["consumers", "corpuslake://web@1", "--lake", lake.root]) == 0
    out = capsys.readouterr().out
    assert "old-run" in out and "new-run" not in out and "corpuslake://web@1" in out
    assert _cli(["consumers", "--json", "--lake", lake.root]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in listed} == {"old-run", "new-run", "export:web2"}
    assert {c["kind"] for c in listed} == {"lock", "export"}


def test_publishing_a_new_number_lists_the_consumers_still_on_older_ones(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    register_consumer(lake, "old-run", ["corpuslake://web@1"], kind="lock", run_id="r1")
    register_consumer(lake, "current", ["corpuslake://web@2"], kind="lock")
    [line] = behind_lines(lake, "web")
    assert "old-run" in line and "corpuslake://web@1" in line and "latest is corpuslake://web@2" in line
    publish_rows(lake, "web", numbered_rows("web", 18), rows_per_file=5)
    assert sorted(line.split(" ")[0] for line in behind_lines(lake, "web")) == ["current", "old-run"]
    retire(lake, "old-run")
    assert [line.split(" ")[0] for line in behind_lines(lake, "web")] == ["current"]


def test_gc_keeps_a_consumers_versions_until_it_is_retired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = _lake(tmp_path)
    old = client.open("corpuslake://web@1", lake).to_table()
    register_consumer(lake, "train-a", ["corpuslake://web@1"], kind="lock", run_id="r1")

    results = {r.table: r for r in collect_garbage(lake, retention_hours=0, release_unheld=True)}
    web = results["snapshots/web"]
    assert web.held == (
        f"v{client.open('corpuslake://web@1', lake).entry.delta_version} (corpuslake://web@1) for train-a",
    )
    assert web.released == ()
    assert client.open("corpuslake://web@1", lake).to_table().equals(old)  # still readable, byte for byte
    assert any("a registered consumer reads it" in line for line in gc_lines(results.values()))

    assert _cli(["consumers", "retire", "train-a", "--lake", lake.root]) == 0
    assert "retired train-a" in capsys.readouterr().out
    assert consumers(lake, active_only=True) == [] and consumers(lake)[0].retired_at is not None

    # without release_unheld every published version stays, consumer or not
    kept = {r.table: r for r in collect_garbage(lake, retention_hours=0)}
    assert kept["snapshots/web"].removed_files == 0
    assert client.open("corpuslake://web@1", lake).to_table().equals(old)

    released = {r.table: r for r in collect_garbage(lake, retention_hours=0, release_unheld=True)}
    assert released["snapshots/web"].released == ("corpuslake://web@1",)
    assert released["snapshots/web"].removed_files == 3  # @1's three files
    assert any("released corpuslake://web@1" in line for line in gc_lines(released.values()))
    with pytest.raises(DamagedSnapshotError, match="missing"):
        client.open("corpuslake://web@1", lake).to_table()
    assert client.open("corpuslake://web@2", lake).to_table().num_rows == 15  # the latest number is never released


def test_retiring_an_unknown_consumer_names_the_active_ones(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    consumer = register_consumer(lake, "train-a", ["corpuslake://web@1"], kind="lock")
    with pytest.raises(UnknownConsumerError, match=r"no registered consumer is named 'train-b'.*active: train-a"):
        retire(lake, "train-b")
    assert [c.name for c in retire(lake, consumer.consumer_id[:8])] == ["train-a"]  # by id prefix
    with pytest.raises(UnknownConsumerError):
        retire(lake, "train-a")  # already retired


def test_an_export_registers_itself_as_a_consumer_of_its_pin(tmp_path: Path) -> None:
    from corpuslake.export.pin_export import ExportOptions, export_pin  # the tokenizers are the service's
    from tests.test_export import GPT2

    lake = _lake(tmp_path)
    manifest = export_pin("corpuslake://web@1", tmp_path / "web1", GPT2, ExportOptions(), lake=lake)
    [consumer] = consumers(lake, "corpuslake://web@1")
    assert (consumer.name, consumer.kind, consumer.pins) == ("export:web1", "export", ("corpuslake://web@1",))
    assert consumer.run_id == manifest["export_id"][:16] and consumer.lock_sha256 == manifest["export_id"]
    assert consumer.location == str((tmp_path / "web1").resolve())


def test_through_the_command_lines_main_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from corpuslake.cli import main

    lake = _lake(tmp_path)
    assert main(["consumers", "retire", "nobody", "--lake", lake.root]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("corpuslake: error: no registered consumer is named 'nobody'") and "\n" not in error
    assert main(["consumers", "a", "b", "--lake", lake.root]) == 2
    assert main(["plots", "--dump", "D9", "--lake", lake.root, "--out", str(tmp_path)]) == 2
    assert "holds dump 'D9'" in capsys.readouterr().err
