"""Ordering wide rows by bucket gives DuckDB's own order, whatever the number of buckets."""

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from corpuslake.ordered import range_batches
from corpuslake.widesort import WideSort, order_relation, sort_file


def _rows(n: int) -> pa.Table:
    # Keys out of order, of uneven lengths, with text payloads of uneven sizes.
    ids = [f"{(i * 7919) % 10007:x}-{'z' * (i % 3)}" for i in range(n)]
    texts = [("word " * (1 + (i * 31) % 200)).strip() for i in range(n)]
    return pa.table(
        {"id": ids, "position": pa.array([(i * 7919) % 10007 for i in range(n)], pa.int64()), "text": texts}
    )


@pytest.mark.parametrize("bucket_bytes", [1 << 30, 20_000, 3_000])
@pytest.mark.parametrize("key", ["id", "position"])
def test_bucket_sort_matches_duckdb_order(tmp_path: Path, bucket_bytes: int, key: str) -> None:
    rows = _rows(2_000)
    con = duckdb.connect()
    expected = con.from_arrow(rows).order(key).to_arrow_table()
    config = WideSort(bucket_bytes=bucket_bytes, min_buffer_bytes=1_000, batch_rows=97)
    written = order_relation(
        con, con.from_arrow(rows), key, tmp_path / "sorted.parquet", row_group_rows=300, config=config
    )
    got = pq.read_table(tmp_path / "sorted.parquet")
    assert written == rows.num_rows == got.num_rows
    assert got.equals(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sorted.parquet"]  # buckets and staging removed


def test_bucket_sort_of_an_empty_file(tmp_path: Path) -> None:
    con = duckdb.connect()
    empty = _rows(0)
    pq.write_table(empty, tmp_path / "empty.parquet")
    assert sort_file(con, tmp_path / "empty.parquet", "id", tmp_path / "out.parquet") == 0
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0


@pytest.mark.parametrize(("start", "stop"), [(0, 1000), (0, 1), (299, 301), (450, 1000), (999, 1000), (120, 120)])
def test_range_batches_reads_exactly_the_range(tmp_path: Path, start: int, stop: int) -> None:
    rows = _rows(1000)
    pq.write_table(rows, tmp_path / "rows.parquet", row_group_size=300)
    batches = list(range_batches(str(tmp_path / "rows.parquet"), start, stop, batch_rows=128))
    assert all(b.num_rows <= 128 for b in batches)
    got = pa.Table.from_batches(batches, rows.schema)
    assert got.equals(rows.slice(start, stop - start))


@pytest.mark.parametrize("bucket_bytes", [1 << 30, 20_000, 3_000])
@pytest.mark.parametrize("pending_bytes", [1 << 30, 6_000])
def test_excluded_keys_are_left_out_and_the_rest_keeps_duckdbs_order(
    tmp_path: Path, bucket_bytes: int, pending_bytes: int
) -> None:
    rows = _rows(2_000)
    source = tmp_path / "rows.parquet"
    pq.write_table(rows, source, row_group_size=300)
    excluded = pa.array([*rows["id"].to_pylist()[::7], "not-a-row"])
    con = duckdb.connect()
    kept = rows.filter(pc.invert(pc.is_in(rows["id"], value_set=excluded)))
    expected = con.from_arrow(kept).order("id").to_arrow_table()
    config = WideSort(bucket_bytes=bucket_bytes, pending_bytes=pending_bytes, min_buffer_bytes=1_000, batch_rows=97)
    target = tmp_path / "sorted.parquet"
    written = sort_file(con, source, "id", target, row_group_rows=300, config=config, exclude=excluded)
    got = pq.read_table(target)
    assert written == kept.num_rows == got.num_rows == 2_000 - len(range(0, 2_000, 7))
    assert got.equals(expected)


def test_distribution_writes_each_row_once_into_its_key_range(tmp_path: Path) -> None:
    from corpuslake.widesort import _bounds, _distribute, _read_part

    rows = _rows(1_500)
    source = tmp_path / "rows.parquet"
    pq.write_table(rows, source, row_group_size=400)
    con = duckdb.connect()
    bounds = _bounds(con, source, "id", 40)
    folder = tmp_path / "buckets"
    folder.mkdir()
    config = WideSort(pending_bytes=10_000, min_buffer_bytes=100, batch_rows=64)
    parts = _distribute(source, "id", bounds, folder, config, None)
    assert len(parts) == len(bounds) + 1 == 40
    seen: list[str] = []
    for index, part in enumerate(parts):
        got = _read_part(part)
        assert got.schema == rows.schema and got.column("id").num_chunks <= 1
        ids = got["id"].to_pylist()
        low = bounds[index - 1] if index else None
        high = bounds[index] if index < len(bounds) else None
        assert all((low is None or i >= low) and (high is None or i < high) for i in ids)
        seen.extend(ids)
    assert sorted(seen) == sorted(rows["id"].to_pylist())
