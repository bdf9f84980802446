"""The cross-dump exact pass at publication: one document per normalized text and per URL.

Exact dedup runs per dump (a re-crawl of a page is a new document of its own dump), so a snapshot that
spans several dumps would hold a re-crawled page twice. Before its rows are ordered, the selection is
keyed: workers read row ranges of the staged selection and compute each document's exact key (the
normalized text's hash, as the dedup stage computes it and with its compiled batch pass, over the text
as published, redaction applied) into small Parquet files; DuckDB then picks the winners. A document
is dropped when an earlier one has the same key, then when an earlier remaining one has the same URL;
earlier means by dump (in the snapshot's dump order), then by id. Only ids, dump ranks, keys and URLs
reach DuckDB, which spills. The ids dropped are left out while the selection is ordered by id
(:func:`corpuslake.widesort.sort_file`): the rows with their texts are not copied once more for them.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.dedup.textkeys import normalize_batch
from corpuslake.ordered import REDACT_COLUMN, Computed, cached_or_computed, range_batches
from corpuslake.parallel import Workers, run_jobs
from corpuslake.policies import pii
from corpuslake.text_cache import TextCache, record

_KEYS = pa.schema([("id", pa.string()), ("dump_rank", pa.int32()), ("url", pa.string()), ("text_key", pa.int64())])


@dataclass(frozen=True)
class KeyJob:
    """Rows ``start`` to ``stop`` of the staged selection, keyed into ``output``."""

    selection: str
    start: int
    stop: int
    output: str
    redact: bool
    cache: TextCache | None = None
    """Keys already known (the staged rows' cached column) and where the new ones are kept."""


@dataclass(frozen=True)
class Dropped:
    same_text: int
    same_url: int

    @property
    def total(self) -> int:
        return self.same_text + self.same_url


def key_rows(job: KeyJob) -> str:
    batches = list(range_batches(job.selection, job.start, job.stop))
    rows = pa.Table.from_batches(batches, batches[0].schema) if batches else None
    if rows is None:
        raise ValueError(f"rows {job.start}-{job.stop} are not in {job.selection}")
    texts = rows["text"].to_pylist()
    if job.redact:
        flags = rows[REDACT_COLUMN].to_pylist()
        texts = [pii.redact(t) if f else t for t, f in zip(texts, flags, strict=True)]
    computed = Computed()
    found = cached_or_computed(rows, texts, job.cache, _keys, computed)
    keys = np.array(found, np.int64)
    table = pa.table(
        [rows["id"], rows["dump_rank"].cast(pa.int32()), rows["url"], pa.array(keys, pa.int64())], schema=_KEYS
    )
    pq.write_table(table, job.output)
    if job.cache is not None:
        record(job.cache, Path(job.output).stem, computed.keys, computed.values)
    return job.output


def _keys(texts: list[str]) -> list[int]:
    """``exact_key(normalize_text(text))`` of each text, in the dedup stage's compiled batch pass."""
    if not texts:
        return []
    keys: list[int] = normalize_batch([t or "" for t in texts]).exact_keys().tolist()
    return keys


def _jobs(
    selection: Path, rows: int, folder: Path, batch_rows: int, redact: bool, cache: TextCache | None
) -> Iterator[KeyJob]:
    for index, start in enumerate(range(0, rows, batch_rows)):
        output = str(folder / f"keys-{index:06d}.parquet")
        yield KeyJob(str(selection), start, min(start + batch_rows, rows), output, redact, cache)


def drop_duplicates(
    con: duckdb.DuckDBPyConnection,
    selection: Path,
    rows: int,
    folder: Path,
    *,
    workers: Workers,
    redact: bool,
    batch_rows: int = 4096,
    cache: TextCache | None = None,
) -> Dropped:
    """Key the staged ``selection`` (with ``id``, ``dump_rank``, ``url``, ``text``) and leave the ids of
    the documents to drop in DuckDB table ``dropped``; return how many, by reason."""
    folder.mkdir(parents=True, exist_ok=True)
    outputs = list(run_jobs(key_rows, _jobs(selection, rows, folder, batch_rows, redact, cache), workers))
    if not outputs:
        con.execute("CREATE OR REPLACE TEMP TABLE dropped (id VARCHAR, reason VARCHAR)")
        return Dropped(0, 0)
    con.read_parquet(sorted(outputs)).create_view("keyed", replace=True)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE dropped AS
        WITH ranked AS (
            SELECT id, url, dump_rank,
                   row_number() OVER (PARTITION BY text_key ORDER BY dump_rank, id) AS text_rank
            FROM keyed
        ),
        by_url AS (
            SELECT id, row_number() OVER (PARTITION BY url ORDER BY dump_rank, id) AS url_rank
            FROM ranked WHERE text_rank = 1 AND url IS NOT NULL
        )
        SELECT id, 'same_text' AS reason FROM ranked WHERE text_rank > 1
        UNION ALL
        SELECT id, 'same_url' AS reason FROM by_url WHERE url_rank > 1
        """
    )
    counts = dict(con.execute("SELECT reason, count(*) FROM dropped GROUP BY reason").fetchall())
    return Dropped(int(counts.get("same_text", 0)), int(counts.get("same_url", 0)))


def dropped_ids(con: duckdb.DuckDBPyConnection) -> pa.Array:
    """The ids :func:`drop_duplicates` left in table ``dropped``: what the ordering pass leaves out."""
    ids: pa.Array = con.table("dropped").project("id").to_arrow_table()["id"].combine_chunks()
    return ids
