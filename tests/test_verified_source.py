"""A pinned snapshot read by row group, each file verified once: the client's rows, or a damaged-snapshot
error.

Touches: corpuslake.verified_source (and corpuslake.mixture_rows, which reads mixture sources through it)
on a lake under tmp_path with a snapshot of the committed quality examples published in several files
of several row groups.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.client import Snapshot
from corpuslake.datasets import publish_snapshot
from corpuslake.mixture_rows import draw_columns, drawn_keys, id_keys
from corpuslake.pins import DamagedSnapshotError
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from corpuslake.verified_source import VerifiedSource
from tests.test_snapshots import texts, tokenizer, write_scored

__all__ = ["texts", "tokenizer"]  # the shared fixtures


@pytest.fixture
def lake(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> Lake:
    store = Lake(str(tmp_path / "lake"))
    write_scored(store, "D1", texts[:150])
    publish_snapshot(store, SnapshotDefinition(name="web", languages=("en",)), "run", tokenizer, rows_per_file=40)
    return store


def source(lake: Lake) -> VerifiedSource:
    return VerifiedSource(Snapshot(lake, Catalog(lake).resolve("corpuslake://web@1")))


def test_every_row_in_published_order_as_the_client_reads_it(lake: Lake) -> None:
    reference = client.open("corpuslake://web@1", lake=lake).to_table(["id", "tokens", "text"])
    assert len(source(lake).snapshot.entry.manifest) > 2  # several files
    read = list(source(lake).batches(["id", "tokens", "text", "no_such_column"]))
    assert [first for first, _ in read] == list(np.cumsum([0] + [b.num_rows for _, b in read[:-1]]))
    assert pa.Table.from_batches([b for _, b in read]).equals(reference)


def test_only_the_row_groups_holding_the_rows_asked_for_are_read(lake: Lake) -> None:
    every = pa.Table.from_batches([b for _, b in source(lake).batches(["id"])])["id"].to_pylist()
    wanted = np.array([3, 41, 42])  # in the first two files of three
    read = list(source(lake).batches(["id"], wanted))
    covered = sum(b.num_rows for _, b in read)
    assert covered < len(every)
    for row in wanted.tolist():
        assert any(
            first <= row < first + b.num_rows and b["id"][row - first].as_py() == every[row] for first, b in read
        )


def test_draw_columns_and_keys_equal_the_clients_rows(lake: Lake) -> None:
    reference = client.open("corpuslake://web@1", lake=lake).to_table(["id", "tokens"])
    columns = draw_columns(source(lake), with_quality=False)
    assert columns.keys.tolist() == id_keys(reference["id"].to_pylist()).tolist()
    assert columns.tokens.tolist() == reference["tokens"].to_pylist()
    rows, epochs = np.array([50, 2, 50, 7]), np.array([0, 1, 1, 0], np.int32)
    ids = reference["id"].to_pylist()
    expected = id_keys([f"{ids[r]}/{e}/u" for r, e in zip(rows.tolist(), epochs.tolist(), strict=True)])
    assert drawn_keys(source(lake), rows, epochs, "u").tolist() == expected.tolist()


def test_an_altered_or_missing_file_is_refused_before_its_rows(lake: Lake) -> None:
    reader = source(lake)
    entry = reader.snapshot.entry
    base = Path(lake.table_uri(entry.table).removeprefix("file://"))
    target = base / entry.manifest[1].path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    read: list[int] = []
    with pytest.raises(DamagedSnapshotError, match="BLAKE3"):
        for first, batch in reader.batches(["id"]):
            read.append(first + batch.num_rows)
    assert max(read) <= entry.manifest[0].rows  # nothing of the altered file was handed out
    target.write_bytes(bytes(data[:-10]))
    with pytest.raises(DamagedSnapshotError, match="bytes"):
        list(source(lake).batches(["id"]))
    target.unlink()
    with pytest.raises(DamagedSnapshotError):
        list(source(lake).batches(["id"], np.array([entry.manifest[0].rows])))
