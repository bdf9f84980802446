"""A WARC-Record-ID repeated in a dump: the first occurrence wins, by file order then by offset.

The same record id in two files of a dump (a ``.warc`` and its ``.warc.gz`` copy, a file uploaded twice)
would give two documents one id. The documents stage keeps the occurrence in the first file (the dump's
files sorted by their path in the dump folder, the crawl_files order) and rejects the others as
``warc/duplicate_record``; within one file the first by offset wins.

Files are extracted in parallel, each by a worker that sees only its own file, so the knowledge across
files comes from the inventory: the crawl_files scan lists a digest of every content record's id per file
(:func:`record_digest`), and one pass over the dump's digests finds, for every file, the digests an earlier
file already holds (the losers). DuckDB runs the pass over the streamed digests, with a memory limit past
which it spills to disk, so it holds no dump in memory. Its answer is written once per crawl_files version
and dump to the lake's cache folder (a lock makes the workers of one machine wait for the first), sorted
by file, and each worker reads only the rows of its own file.
"""

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from corpuslake import scan
from corpuslake.store import Lake

DIGEST_BYTES = 16
_IDS = pa.schema([pa.field("source_file", pa.string()), pa.field("digest", pa.binary())])
# Fixed statements over fixed table names: nothing is formatted in. One step per statement, each stored in
# the database before the next: a single statement holding the aggregate, the join and the sort at once
# ran out of memory where the steps spill one at a time. No DISTINCT aggregate (DuckDB spills plain ones).
_STEPS = (
    "CREATE TABLE ids AS SELECT * FROM stream",
    "CREATE TABLE firsts AS SELECT digest, min(source_file) AS first FROM ids GROUP BY digest HAVING count(*) > 1",
    """CREATE TABLE losers AS SELECT i.source_file, i.digest FROM ids i JOIN firsts f ON i.digest = f.digest
       WHERE i.source_file > f.first""",
)
_SORTED = "SELECT source_file, digest FROM losers ORDER BY source_file, digest"


def record_digest(record_id: str) -> bytes:
    """The 16-byte digest of a WARC-Record-ID that crawl_files lists (ids run to 47 characters)."""
    return hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=DIGEST_BYTES).digest()


def losing_digests(lake: Lake, dump: str, source_file: str, memory_limit: str = "256MB") -> frozenset[bytes]:
    """Digests of the record ids of ``source_file`` that a file before it in ``dump`` already holds.

    Empty when the crawl_files table predates the digests (the rule then holds within each file only).
    """
    index = _index(lake, dump, memory_limit)
    if index is None:
        return frozenset()
    table = pq.read_table(index, columns=["digest"], filters=[("source_file", "==", source_file)])
    return frozenset(table["digest"].to_pylist())


class RepeatedIds:
    """Which record ids of one file are not their first occurrence in the dump: those an earlier file
    holds (:func:`losing_digests`) and those seen earlier in the file itself."""

    def __init__(self, earlier_files: frozenset[bytes]) -> None:
        self.earlier_files, self.here = earlier_files, set[bytes]()

    def repeated(self, record_id: str | None) -> bool:
        """Whether ``record_id`` (read in file order) occurred before; a record without an id never did."""
        if not record_id:
            return False  # its document is named by file and offset, unique anyway
        digest = record_digest(record_id)
        if digest in self.earlier_files or digest in self.here:
            return True
        self.here.add(digest)
        return False


def _index(lake: Lake, dump: str, memory_limit: str) -> Path | None:
    version = lake.version("crawl_files")
    if version is None:
        return None
    dataset = lake.dataset("crawl_files", version)
    if "record_id_digests" not in dataset.schema.names:
        return None
    folder = lake.cache_dir() / "duplicate_records"
    key = f"{dump}-{_version_key(lake, version)}"
    path = folder / f"{key}.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / f"{key}.lock"):
        if not path.exists():  # the worker that held the lock before wrote it
            write_losers(dataset, dump, path, memory_limit)
    return path


def _version_key(lake: Lake, version: int) -> str:
    """What names one crawl_files version in a cache folder that several lakes may share: the unique id
    of the commit that made it (a lake made anew at the same place starts at version 0 again)."""
    try:
        return lake.lineage("crawl_files", version).commit_id
    except LookupError:  # a version made without lineage: the lake's location and the version number
        return hashlib.sha256(f"{lake.root}\x00{version}".encode()).hexdigest()[:32]


def write_losers(dataset: pads.Dataset, dump: str, path: Path, memory_limit: str = "256MB") -> int:
    """Write to ``path`` the (source_file, digest) of every occurrence of a record id in a later file than
    its first, sorted by file; return how many. ``dataset`` is a crawl_files version."""
    stream = pa.RecordBatchReader.from_batches(_IDS, _digests(dataset, dump))
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    rows = 0
    with _connection(memory_limit) as connection:
        connection.register("stream", stream)
        for step in _STEPS:
            connection.execute(step)
        result: pa.RecordBatchReader = connection.sql(_SORTED).to_arrow_reader(64 * 1024)
        with pq.ParquetWriter(staged, _IDS) as writer:
            for batch in result:
                rows += batch.num_rows
                writer.write_batch(batch.cast(_IDS), row_group_size=64 * 1024)
    staged.replace(path)  # readers see the whole file or none
    return rows


def _digests(dataset: pads.Dataset, dump: str) -> Iterator[pa.RecordBatch]:
    """(source_file, digest) of every listed record id of the dump, one batch per file."""
    for batch in scan.batches(dataset, {"dump": dump}, ["source_file", "record_id_digests"], batch_rows=64):
        files, blobs = batch["source_file"].to_pylist(), batch["record_id_digests"].to_pylist()
        for source_file, blob in zip(files, blobs, strict=True):
            if not blob:
                continue
            n = len(blob) // DIGEST_BYTES
            offsets = np.arange(0, (n + 1) * DIGEST_BYTES, DIGEST_BYTES, dtype=np.int32)
            digests = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(blob)])
            yield pa.RecordBatch.from_arrays([pa.array([source_file] * n, pa.string()), digests], schema=_IDS)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _connection(memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB database in a temporary folder: its tables and sorts spill there past ``memory_limit``."""
    with tempfile.TemporaryDirectory(prefix="corpuslake-duplicates-") as spill:
        connection = duckdb.connect(
            str(Path(spill) / "ids.duckdb"),
            config={
                "memory_limit": memory_limit,
                "temp_directory": spill,
                "threads": 1,
                "preserve_insertion_order": False,  # lets the aggregate, the join and the sort spill
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        try:
            connection.execute("SET enable_external_access = false")  # no file, URL or extension from here on
            yield connection
        finally:
            connection.close()
