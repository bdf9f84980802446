"""Opening and reading pins the way a training job does: picking one pin of a lock file, naming columns.

Touches: corpuslake.client (``open`` with ``name=``, ``Snapshot.batches``) and the torch dataset's
column check, on a lake under tmp_path with ``web@1``, ``web@2`` and ``web-hq@1``.
"""

from pathlib import Path

import pytest

from corpuslake import client
from corpuslake.client import UnknownColumnError
from corpuslake.pins import DamagedSnapshotError, PinError
from corpuslake.store import Lake
from tests.published import numbered_rows, publish_rows


def _publish(lake: Lake, name: str, count: int) -> str:
    return publish_rows(lake, name, numbered_rows(name, count), rows_per_file=10)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    store = Lake(str(tmp_path_factory.mktemp("open") / "lake"))
    assert _publish(store, "web", 20) == "corpuslake://web@1"
    assert _publish(store, "web-hq", 5) == "corpuslake://web-hq@1"
    assert _publish(store, "web", 25) == "corpuslake://web@2"
    return store


def _lock(lake: Lake, folder: Path, *pins: str) -> Path:
    config = folder / "train.yaml"
    config.write_text("data:\n" + "".join(f"  - {pin}\n" for pin in pins), encoding="utf-8")
    return client.write_lock(config, lake)


def test_a_lock_file_with_several_pins_is_opened_by_name(lake: Lake, tmp_path: Path) -> None:
    lock = _lock(lake, tmp_path, "corpuslake://web@1", "corpuslake://web-hq@latest")
    with pytest.raises(PinError, match=r"locks 2 pins: choose one with name=, one of web, web-hq \(corpuslake://"):
        client.open(str(lock))
    assert client.open(str(lock), name="web-hq").uri == "corpuslake://web-hq@1"
    assert client.open(str(lock), name="web").uri == "corpuslake://web@1"  # the lock's, not the latest
    assert client.open(str(lock), name="corpuslake://web-hq@latest").uri == "corpuslake://web-hq@1"  # as written
    assert client.open("web-hq", lock=lock).uri == "corpuslake://web-hq@1"
    with pytest.raises(PinError, match=r"locks no pin named 'web-h' \(did you mean web-hq\?\): it locks web, web-hq"):
        client.open(str(lock), name="web-h")


def test_a_name_that_matches_two_locked_pins_lists_them(lake: Lake, tmp_path: Path) -> None:
    lock = _lock(lake, tmp_path, "corpuslake://web@1", "corpuslake://web@2")
    with pytest.raises(PinError, match=r"locks 2 pins of web: choose one of corpuslake://web@1, corpuslake://web@2"):
        client.open(str(lock), name="web")
    assert client.open(str(lock), name="corpuslake://web@2").entry.documents == 25
    single = _lock(lake, tmp_path, "corpuslake://web-hq@1")
    assert client.open(str(single)).uri == "corpuslake://web-hq@1"  # one pin: no name needed


def test_a_mistyped_column_is_named_not_called_damage(lake: Lake) -> None:
    snapshot = client.open("corpuslake://web@1", lake)
    with pytest.raises(UnknownColumnError) as raised:
        list(snapshot.batches(columns=["id", "txt"]))
    assert not isinstance(raised.value, DamagedSnapshotError)
    assert str(raised.value) == (
        "corpuslake://web@1 has no column 'txt' (did you mean text?); its columns: id, dump, text, tokens"
    )
    assert (raised.value.missing, raised.value.available) == (["txt"], ["id", "dump", "text", "tokens"])
    with pytest.raises(UnknownColumnError, match="no column 'quality_score'; its columns"):
        snapshot.to_table(["quality_score"])
    with pytest.raises(UnknownColumnError, match="no column 'warc_date'"):  # at once, not in a DataLoader worker
        snapshot.torch(columns=["id", "warc_date"])
    assert snapshot.to_table(["text"]).num_rows == 20  # the right names still read
    # a read of no rows decodes no file: the table's schema is checked instead
    with pytest.raises(UnknownColumnError, match="no column 'txt'"):
        list(snapshot.batches(columns=["txt"], start_row=20))
    assert list(snapshot.batches(columns=["text"], start_row=20)) == []
