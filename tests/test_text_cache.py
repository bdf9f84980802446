"""The text cache of publishing: token counts and cross-dump keys reused across publications.

Touches: corpuslake.text_cache (keys in Python and DuckDB, merging, redacted rows), corpuslake.selection,
corpuslake.ordered and corpuslake.crossdump (workers that reuse and record values), through
``publish_snapshot`` on lakes under tmp_path whose ``scored`` tables are written from the committed
quality examples.
"""

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.catalog import CatalogEntry
from corpuslake.datasets import publish_snapshot
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.text_cache import MERGE_AFTER, exact_keys, record, text_key, token_counts, with_cached
from corpuslake.tokens import Tokenizer
from tests.test_snapshots import texts, tokenizer, write_scored

__all__ = ["texts", "tokenizer"]  # the shared fixtures

BROAD = SnapshotDefinition(name="broad", quality_threshold=0.0)
NARROW = SnapshotDefinition(name="narrow", languages=("en",), quality_threshold=0.5)


def _two_dumps(lake: Lake, texts: list[str]) -> None:
    write_scored(lake, "D1", texts[:50])
    write_scored(lake, "D2", texts[40:90])  # ten texts of D1 again: the cross-dump pass drops them


def _files(folder: str) -> set[str]:
    return {p.name for p in Path(folder).glob("*.parquet")}


def _bytes(entry: CatalogEntry) -> tuple[str, int, list[str]]:
    """What must not depend on the cache: the content, the counts, and each file's bytes."""
    return entry.content_sha256, entry.tokens, [f.sha256 for f in entry.manifest]


def test_reused_values_publish_the_same_bytes_as_fresh_ones(
    tmp_path: Path, texts: list[str], tokenizer: Tokenizer
) -> None:
    fresh, warm = Lake(str(tmp_path / "fresh")), Lake(str(tmp_path / "warm"))
    for lake in (fresh, warm):
        _two_dumps(lake, texts)
    publish_snapshot(warm, BROAD, "run", tokenizer, rows_per_file=16)
    counts, keys = token_counts(warm, tokenizer.info.sha256), exact_keys(warm)
    known = (_files(counts.folder), _files(keys.folder))
    assert all(known)  # the broad snapshot recorded what it computed
    reused = publish_snapshot(warm, NARROW, "run", tokenizer, rows_per_file=16).entry
    assert (_files(counts.folder), _files(keys.folder)) == known  # the subset computed nothing new
    alone = publish_snapshot(fresh, NARROW, "run", tokenizer, rows_per_file=16).entry
    assert _bytes(reused) == _bytes(alone)
    assert reused.report["cross_dump"] == alone.report["cross_dump"] and alone.report["cross_dump"]["same_text"]


def test_a_cleared_cache_gives_the_same_publication(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _two_dumps(lake, texts)
    first = publish_snapshot(lake, BROAD, "run", tokenizer, rows_per_file=16)
    for folder in (token_counts(lake, tokenizer.info.sha256).folder, exact_keys(lake).folder):
        for path in Path(folder).glob("*.parquet"):
            path.unlink()
    again = publish_snapshot(lake, BROAD, "run", tokenizer, rows_per_file=16)
    assert not again.new and again.entry.number == first.entry.number  # same content: no new number


def test_duckdb_and_python_agree_on_the_key(tmp_path: Path, tokenizer: Tokenizer) -> None:
    lake = Lake(str(tmp_path / "lake"))
    cache = token_counts(lake, tokenizer.info.sha256)
    samples = ["plain", "accents: é à ü", "emoji 🦆 and CJK 漢字", ""]
    record(cache, "part", [text_key(t) for t in samples], [7, 8, 9, 10])
    con = duckdb.connect()
    rows = pa.table({"text": [*samples, "unknown"], "flag": [False, True, False, False, False]})
    found = with_cached(con, con.from_arrow(rows), [cache], "flag").arrow().read_all()
    by_text = dict(zip(found["text"].to_pylist(), found[cache.column].to_pylist(), strict=True))
    # a flagged row is computed afresh (its published text is redacted); an unknown text has no value
    assert by_text == {"plain": 7, "accents: é à ü": None, "emoji 🦆 and CJK 漢字": 9, "": 10, "unknown": None}


def test_many_files_are_merged_into_one(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    cache = exact_keys(lake)
    for index in range(MERGE_AFTER + 1):
        record(cache, f"part-{index}", [text_key(f"t{index}"), text_key("shared")], [index, -1])
    con = duckdb.connect()
    found = (
        with_cached(con, con.from_arrow(pa.table({"text": ["t3", "shared", "t16"]})), [cache], None).arrow().read_all()
    )
    assert dict(zip(found["text"].to_pylist(), found[cache.column].to_pylist(), strict=True)) == {
        "t3": 3,
        "shared": -1,
        "t16": 16,
    }
    (merged,) = Path(cache.folder).glob("*.parquet")
    assert pq.read_table(merged).num_rows == MERGE_AFTER + 2  # one row per key


def test_the_join_builds_on_the_cache_even_when_the_selection_has_fewer_rows(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    cache = token_counts(lake, "model")
    keys = [text_key(f"known {i}") for i in range(20_000)]
    record(cache, "part", keys, list(range(20_000)))
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET memory_limit = '64MB'")
    # 500 rows of 200 KB each: 100 MB of text, more than the limit, against 20,000 narrow cache rows
    wide = con.sql("SELECT 'known ' || i::VARCHAR AS text, repeat('y', 200000) AS body FROM range(500) t(i)")
    joined = with_cached(con, wide, [cache], None)
    plan = joined.explain()
    assert "RIGHT" not in plan  # the cache (written on the right) is the build side
    values = joined.aggregate(f"count({cache.column}) AS found, sum(length(body)) AS bytes").fetchall()
    assert values == [(500, 500 * 200_000)]


def test_empty_caches_give_null_values_without_a_join(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    caches = [token_counts(lake, "model"), exact_keys(lake)]
    con = duckdb.connect()
    rows = pa.table({"id": ["a", "b"], "text": ["one", "two"], "flag": [False, True]})
    joined = with_cached(con, con.from_arrow(rows), caches, "flag")
    assert "join" not in joined.explain().lower()  # no join, so no text is hashed for one
    found = joined.arrow().read_all()
    assert found.column_names == ["id", "text", "flag", "_cached_tokens", "_cached_text_key"]
    assert found["_cached_tokens"].type == pa.int32() and found["_cached_text_key"].type == pa.int64()
    assert found["_cached_tokens"].null_count == found["_cached_text_key"].null_count == 2
    record(caches[0], "part", [text_key("one")], [5])
    again = with_cached(con, con.from_arrow(rows), caches, "flag").arrow().read_all()
    assert again["_cached_tokens"].to_pylist() == [5, None]


def test_the_join_compares_fixed_width_numbers_and_matches_every_key(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    cache = token_counts(lake, "model")
    # texts whose keys start with a zero byte and with a set high bit: the number keeps all 16 bytes
    low = next(f"t{i}" for i in range(100_000) if text_key(f"t{i}")[0] == 0)
    high = next(f"t{i}" for i in range(100_000) if text_key(f"t{i}")[0] == 0xFF)
    record(cache, "part", [text_key(low), text_key(high), text_key("other")], [1, 2, 3])
    con = duckdb.connect()
    found = with_cached(con, con.from_arrow(pa.table({"text": [low, high, "none"]})), [cache], None)
    values = dict(zip(*found.arrow().read_all().to_pydict().values(), strict=True))
    assert values == {low: 1, high: 2, "none": None}
    types = dict(
        con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'text_cache_0'").fetchall()
    )
    assert types["text_cache_0_key"] == "UHUGEINT"
