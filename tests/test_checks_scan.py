"""Bounded reads and exact id sets, the building blocks of the checks.

Touches: corpuslake.scan (previews, the deterministic sample, exact rule tallies) and corpuslake.idsets
(DuckDB over streamed id columns, with a memory limit small enough to make it spill) on small tables
written with the lake API, locally and on S3 (moto's server, as in tests/test_object_store.py).
"""

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from corpuslake import scan
from corpuslake.idsets import missing_ids, repeated_ids, shared_ids
from corpuslake.lineage import Lineage
from corpuslake.scan import ScanConfig
from corpuslake.store import Lake
from tests.test_object_store import ROOT, s3

__all__ = ["s3"]  # the S3 server fixture
SCHEMA = pa.schema([("id", pa.string()), ("dump", pa.string()), ("score", pa.float64()), ("text", pa.string())])


def _rows(dump: str, n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(n)]
    scores = [rng.random() for _ in range(n)]
    return pa.Table.from_pydict(
        {"id": ids, "dump": [dump] * n, "score": scores, "text": [f"text {i}" for i in range(n)]}, schema=SCHEMA
    )


def _write(lake: Lake, rows: pa.Table, dump: str) -> int:
    return lake.write_partition("probe", rows, Lineage("probe", dump, "run", "t", {}), {"dump": dump})


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """A table of two dumps; D1 is written as three files (one write, then two appends)."""
    lake = Lake(str(tmp_path / "lake"))
    _write(lake, _rows("D0", 50, 0), "D0")
    _write(lake, _rows("D1", 300, 1), "D1")
    for seed in (2, 3):
        write_deltalake(lake.table_uri("probe"), _rows("D1", 200, seed), mode="append", partition_by=["dump"])
    return lake


def test_a_preview_reads_the_first_rows_of_the_partition_only(lake: Lake) -> None:
    dataset = lake.dataset("probe")
    first = scan.head(dataset, {"dump": "D1"}, ["id", "score"], 10)
    assert first.column_names == ["id", "score"] and first.num_rows == 10
    whole = lake.read("probe", dumps=["D1"], columns=["id", "score"])
    assert first.equals(whole.slice(0, 10))  # the first rows in file order
    assert scan.head(dataset, {"dump": "D0"}, ["id"], 1000).num_rows == 50  # fewer rows than asked: all of them
    assert scan.head(dataset, {"dump": "D0"}, ["id"], 0).num_rows == 0
    assert scan.head(dataset, {"dump": "NONE"}, ["id"], 5).schema == pa.schema([SCHEMA.field("id")])


@pytest.mark.parametrize("batch_rows", [1, 7, 64, 8192])
def test_the_sample_is_the_rows_with_the_smallest_ids_whatever_the_batches(lake: Lake, batch_rows: int) -> None:
    config = ScanConfig(sample_rows=25, batch_rows=batch_rows)
    found = scan.scan_partition(lake.dataset("probe"), "D1", {}, config=config)
    whole = lake.read("probe", dumps=["D1"])
    assert found.rows == whole.num_rows == 700
    expected = whole.filter(pc.is_in(whole["id"], whole.sort_by("id")["id"][:25]))  # in scan order
    assert found.sample.equals(expected.combine_chunks()) and found.sample.schema == SCHEMA


def test_the_sample_does_not_depend_on_how_the_partition_is_split(lake: Lake, tmp_path: Path) -> None:
    rows = lake.read("probe", dumps=["D1"])
    other = Lake(str(tmp_path / "other"))
    _write(other, rows.take(list(reversed(range(rows.num_rows)))), "D1")  # one file, the other order
    config = ScanConfig(sample_rows=40, batch_rows=33)
    here = scan.scan_partition(lake.dataset("probe"), "D1", {}, config=config).sample
    there = scan.scan_partition(other.dataset("probe"), "D1", {}, config=config).sample
    assert here.sort_by("id").equals(there.sort_by("id"))  # the same rows; each in its own scan order
    everything = scan.scan_partition(lake.dataset("probe"), "D0", {}, config=ScanConfig(sample_rows=10_000))
    assert everything.sample.num_rows == everything.rows == 50  # a small partition is its own sample


def test_the_sample_is_bounded_by_bytes_as_well_as_rows(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    rows = _rows("D", 400, 7)
    long_texts = pa.array([f"{i:04d} " + "x" * 10_000 for i in range(400)])  # ~10 kB a row
    _write(lake, rows.set_column(3, "text", long_texts), "D")
    dataset = lake.dataset("probe")
    by_rows = ScanConfig(sample_rows=300, sample_bytes=0)
    by_bytes = ScanConfig(sample_rows=300, sample_bytes=500_000)  # room for about 50 such rows
    assert scan.sample_size(dataset, {"dump": "D"}, by_rows) == 300
    k = scan.sample_size(dataset, {"dump": "D"}, by_bytes)
    assert 30 <= k <= 60
    sample = scan.scan_partition(dataset, "D", {}, config=by_bytes).sample
    assert sample.num_rows == k and sample.nbytes <= 600_000
    whole = lake.read("probe", dumps=["D"])
    assert sorted(sample["id"].to_pylist()) == sorted(whole["id"].to_pylist())[:k]  # still the smallest ids
    assert scan.sample_size(dataset, {"dump": "D"}, ScanConfig(sample_rows=300, sample_bytes=1)) == 1


def test_a_repeated_id_at_the_cut_and_null_ids_leave_the_sample_its_size(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    ids = ["b", "e", "c", "c", None, "a", "c", "d", None]
    rows = pa.table({"id": ids, "dump": ["D"] * 9, "score": [float(i) for i in range(9)], "text": ["t"] * 9})
    _write(lake, rows.cast(SCHEMA), "D")

    def sample(k: int) -> list[Any]:
        config = ScanConfig(sample_rows=k, batch_rows=2)
        return list(scan.scan_partition(lake.dataset("probe"), "D", {}, config=config).sample["score"].to_pylist())

    assert sample(4) == [0.0, 2.0, 3.0, 5.0]  # a, b and the first c in scan order; then the next two c wait
    assert sample(5) == [0.0, 2.0, 3.0, 5.0, 6.0]
    assert sample(7) == [0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 7.0]  # every id; null ids sort last
    assert sample(8) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # fewer ids than rows: the first rows
    assert sample(0) == []


def test_rules_are_counted_over_every_row_and_name_the_first_offenders(lake: Lake) -> None:
    rules: dict[str, scan.Rule] = {
        "high": lambda batch: pc.greater(batch["score"], 0.9),
        "never": lambda batch: pc.is_null(batch["id"]),
    }
    found = scan.scan_partition(lake.dataset("probe"), "D1", rules, config=ScanConfig(sample_rows=5, batch_rows=16))
    whole = lake.read("probe", dumps=["D1"])
    high = whole.filter(pc.greater(whole["score"], 0.9))
    assert found.tallies["high"].unexpected == high.num_rows > 10
    assert list(found.tallies["high"].sample_ids) == high["id"].to_pylist()[:10]
    assert found.tallies["never"] == scan.Tally(0, ())
    assert scan.count(lake.dataset("probe"), {"dump": "D1"}) == whole.num_rows


def _stream(values: list[Any]) -> pa.RecordBatchReader:
    table = pa.table({"value": pa.array(values, pa.string())})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=4096))


def test_id_sets_are_exact_under_a_memory_limit_below_the_size_of_the_ids() -> None:
    rng = random.Random(7)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(400_000)]  # 12.8 MB of characters alone
    repeats = ids[:40] + ids[1000:1003]  # 43 ids appear twice
    left = ids + repeats + [None]
    rng.shuffle(left)
    limit = "32MB"  # DuckDB's hash tables over these ids exceed it: they spill to the temporary folder
    found = repeated_ids(_stream(left), memory_limit=limit)
    counts: dict[str, int] = {}
    for value in left:
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    repeated = sorted(v for v, n in counts.items() if n > 1)
    assert found.ids == len(repeated) and found.rows == sum(counts[v] for v in repeated)
    assert list(found.sample) == repeated[:10]

    right = [*ids[::3], "elsewhere"]
    shared = shared_ids(_stream(ids + ids[:5]), _stream(right), memory_limit=limit)
    in_right = set(right)
    both = sorted([v for v in ids + ids[:5] if v in in_right])
    assert shared.rows == len(both) and list(shared.sample) == both[:10]

    missing = missing_ids(_stream([*right, None, "elsewhere"]), _stream(ids), memory_limit=limit)
    assert (missing.ids, missing.sample) == (1, ("elsewhere",))
    assert repeated_ids(_stream(ids[:100])).rows == 0


@pytest.mark.slow
def test_the_same_reads_on_a_lake_on_s3(s3: Any, lake: Lake) -> None:
    remote = Lake(f"{ROOT}-scan")
    for dump in ("D0", "D1"):
        _write(remote, lake.read("probe", dumps=[dump]), dump)
    config = ScanConfig(sample_rows=30, batch_rows=50)
    here = scan.scan_partition(lake.dataset("probe"), "D1", {}, config=config)
    there = scan.scan_partition(remote.dataset("probe"), "D1", {}, config=config)
    assert there.rows == here.rows and there.sample.sort_by("id").equals(here.sample.sort_by("id"))
    assert scan.head(remote.dataset("probe"), {"dump": "D0"}, ["id"], 5).num_rows == 5
    twice = repeated_ids(scan.reader(remote.dataset("probe"), {}, ["id"]))
    assert twice.ids == 0  # ids are unique across both dumps, streamed from S3 through Arrow's filesystem
