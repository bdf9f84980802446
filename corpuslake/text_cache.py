"""Values computed from a text once and kept between publications: token counts and cross-dump keys.

Counting tokens is most of publishing's work (about 0.8 µs of CPU per token with the default model),
and keying a text for the cross-dump pass (normalizing it) comes next; most texts go through both again
and again: a high-quality snapshot is a subset of the broad one, and each publication after a new dump
holds every earlier dump's documents. Each value is a pure function of the text and of what computes it
(the tokenizer model file; the normalization code), so it is kept under the lake's cache folder, one
folder per kind and computer (:func:`token_counts`, :func:`exact_keys`), as small Parquet files of
(key, value), the key being the first 16 bytes of the SHA-256 of the text's UTF-8 bytes. DuckDB computes
the same key, so a selection joins its rows with the values already known (:func:`with_cached`) and the
workers compute only the others, then record theirs (:func:`record`). A text whose personal data is
redacted at publication is always computed afresh: its published text is only known in the worker.

A lost or removed cache only costs the work again; published bytes never depend on it. Files are
written whole under a temporary name then renamed; merging them into one takes the folder's lock, and
reading takes it shared, so a reader never sees a file vanish.
"""

import fcntl
import hashlib
import inspect
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from duckdb import ColumnExpression as C
from duckdb import ConstantExpression as K
from duckdb import FunctionExpression as F

from corpuslake.dedup import normalize
from corpuslake.spill import literal_path
from corpuslake.stages.deduplicated import exact_key
from corpuslake.store import Lake

KEY_BYTES = 16
MERGE_AFTER = 16
"""Files in a cache folder past which a selection first merges them into one."""


@dataclass(frozen=True)
class TextCache:
    """One kind of cached value, made by one computer, and the staged column that carries it."""

    folder: str
    column: str
    """The staged selection's column: the known value, or null when it must be computed."""
    kind: pa.DataType
    """int32 for token counts, int64 for keys."""


def token_counts(lake: Lake, tokenizer_sha256: str) -> TextCache:
    """Token counts made with the model file whose SHA-256 is ``tokenizer_sha256``."""
    return TextCache(str(lake.cache_dir() / "token_counts" / tokenizer_sha256), "_cached_tokens", pa.int32())


def exact_keys(lake: Lake) -> TextCache:
    """The cross-dump pass's key of each text (its normalized text's hash), for this normalization code
    and Unicode database: a change to either starts a new folder."""
    code = inspect.getsource(normalize) + inspect.getsource(exact_key) + unicodedata.unidata_version
    fingerprint = hashlib.sha256(code.encode()).hexdigest()[:32]
    return TextCache(str(lake.cache_dir() / "exact_keys" / fingerprint), "_cached_text_key", pa.int64())


def text_key(text: str) -> bytes:
    """The cache key of a text: what :func:`with_cached` computes in DuckDB."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


def with_cached(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    caches: Sequence[TextCache],
    redact: str | None,
) -> duckdb.DuckDBPyRelation:
    """``relation`` (with ``text``) and each cache's column: each row's known value, or null when the
    cache has none or the row is flagged in column ``redact`` (its published text is not ``text``).

    Every join on ``con`` then builds its hash table on the side written on the right. By row count
    DuckDB would build on the selection whenever it has fewer rows than the cache (a high-quality subset
    against every text ever counted), but a selection's rows carry their texts: at 250k pages that hash
    table outgrew the connection's memory limit, where the cache's is a few bytes per key."""
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    columns = relation.columns
    if not any(_files(Path(cache.folder)) for cache in caches if Path(cache.folder).is_dir()):
        # Nothing known yet (a first publication): no text is hashed for a join that cannot match.
        unknown = [K(None).cast(value_type(cache)).alias(cache.column) for cache in caches]
        return relation.project(*[C(c) for c in columns], *unknown)
    hexed = F("substr", F("sha256", C("text")), K(1), K(2 * KEY_BYTES))
    key = F("concat", K("0x"), hexed).cast(duckdb.sqltypes.UHUGEINT)
    joined = relation.project(*[C(c) for c in columns], key.alias("_text_key"))
    for index, cache in enumerate(caches):
        table = _load(con, cache, index)
        joined = joined.join(con.table(table), f"_text_key = {table}_key", "left")
    known = []
    for index, cache in enumerate(caches):
        value: duckdb.Expression = C(f"{_table(index)}_value")
        if redact is not None:
            value = duckdb.CaseExpression(C(redact), K(None).cast(value_type(cache))).otherwise(value)
        known.append(value.alias(cache.column))
    return joined.project(*[C(c) for c in columns], *known)


def value_type(cache: TextCache) -> duckdb.sqltypes.DuckDBPyType:
    return duckdb.sqltypes.INTEGER if cache.kind == pa.int32() else duckdb.sqltypes.BIGINT


def _table(index: int) -> str:
    return f"text_cache_{index}"


def _load(con: duckdb.DuckDBPyConnection, cache: TextCache, index: int) -> str:
    """The cache's values as a DuckDB temporary table (one row per key), merging its files first when
    there are many. The table is a copy: later merges cannot pull a file from under a query."""
    table = _table(index)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({table}_key UHUGEINT, {table}_value {value_type(cache)})")
    folder = Path(cache.folder)
    if not folder.is_dir():
        return table
    with _locked(folder, fcntl.LOCK_EX):
        files = _files(folder)
        if len(files) > MERGE_AFTER:
            _merge(con, folder, files)
    with _locked(folder, fcntl.LOCK_SH):
        files = _files(folder)
        if files:
            con.execute(f"INSERT INTO {table} SELECT {_AS_NUMBER} AS k, min(value) FROM {_read(files)} GROUP BY k")
    return table


_AS_NUMBER = "('0x' || hex(key))::UHUGEINT"
"""A stored key as the 128-bit number the join compares: fixed width, where a 16-byte BLOB is a pointer
to a string of its own (past DuckDB's 12 inlined bytes). With a cache of 2.25M texts the staging join's
process peaked ~400 MB higher and used 1.7x the CPU of an empty cache's; a cache holds every text ever
counted, so it outgrows any one selection."""


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


def _read(files: Sequence[Path]) -> str:
    """A scan of ``files`` (staging paths made by this process, quoted) for a query."""
    return f"read_parquet([{', '.join(literal_path(f) for f in files)}])"


def _merge(con: duckdb.DuckDBPyConnection, folder: Path, files: Sequence[Path]) -> None:
    """The values of ``files`` as one file (one row per key), the others removed."""
    target = folder / f"merged-{uuid.uuid4().hex}.parquet"
    partial = target.with_suffix(".partial")
    query = f"SELECT key, min(value) AS value FROM {_read(files)} GROUP BY key"
    con.execute(f"COPY ({query}) TO {literal_path(partial)} (FORMAT parquet)")
    partial.replace(target)
    for old in files:
        old.unlink(missing_ok=True)


def record(cache: TextCache, name: str, keys: Sequence[bytes], values: Sequence[int]) -> None:
    """Keep new values (``keys`` from :func:`text_key`) as one file named after ``name``."""
    if not keys:
        return
    folder = Path(cache.folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}-{uuid.uuid4().hex[:8]}.parquet"
    partial = target.with_suffix(".partial")
    schema = pa.schema([pa.field("key", pa.binary(), nullable=False), pa.field("value", cache.kind, nullable=False)])
    table = pa.table([pa.array(keys, pa.binary()), pa.array(values, cache.kind)], schema=schema)
    pq.write_table(table, partial, compression="none")  # keys are random bytes: nothing to compress
    partial.replace(target)


@contextmanager
def _locked(folder: Path, mode: int) -> Iterator[None]:
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
