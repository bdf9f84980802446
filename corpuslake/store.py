"""The versioned store: one Delta table per stage under a lake root, written one dump at a time.

A write replaces exactly one partition (``dump``, and ``stage`` for rejections) in a single Delta commit
that carries the lineage, so re-running a partition is idempotent and a crash before the commit leaves
the previous version as it was. Every read takes a ``version``.
"""

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from corpuslake.errors import CorpuslakeError, InputError
from corpuslake.lineage import LINEAGE_KEY, Lineage, TableVersion
from corpuslake.locations import is_lakefs, is_local
from corpuslake.names import check_name
from corpuslake.schemas import DECLARED, PARTITIONS

if TYPE_CHECKING:
    from corpuslake.lakefs_store import LakeFSBackend

ROWS_PER_FILE = 32_768
"""Rows per file of a published table: a reader verifies and decodes one whole file at a time, so this
bounds its memory (about 100 MB of web text) and lets it hash one file while decoding another."""


@dataclass(frozen=True)
class WrittenFile:
    path: str  # relative to the table folder
    size: int
    rows: int


class LakeWriteError(CorpuslakeError, RuntimeError):
    """A commit could not be written (no space, no permission, a storage error); the table is unchanged."""


class ConcurrentUpdateError(CorpuslakeError, RuntimeError):
    """Another writer committed to the table first; re-read it and try again."""


class LineageMissingError(InputError, LookupError):
    """A table version has no corpuslake lineage (written by another tool)."""


@dataclass(frozen=True)
class Lake:
    """A lake root (local directory or object-store URL) holding one Delta table per stage."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    cache: str | None = None
    """A local folder for derived files kept between runs; by default ``<root>/_cache`` of a local lake."""

    @property
    def options(self) -> dict[str, str]:
        """deltalake storage options: on S3, commits use conditional writes (``If-None-Match``), so
        concurrent writers are safe without a DynamoDB lock table. Credentials are never options: they
        come from the standard AWS environment (variables, profile, instance role), so they cannot end up
        in a commit's metadata or a run's logs."""
        if self.is_lakefs:
            # deltalake's lakefs backend needs the endpoint and the key in its options; they are read
            # from LAKEFS_* here, each time, and never kept in the Lake (nor in its repr or pickles).
            return self._lakefs().storage_options() | dict(self.storage_options)
        defaults = {"conditional_put": "etag"} if self.root.startswith(("s3://", "s3a://")) else {}
        return defaults | dict(self.storage_options)

    @property
    def is_lakefs(self) -> bool:
        """A lake in a lakeFS repository (``lakefs://<repository>/<ref>/<folder>``)."""
        return is_lakefs(self.root)

    @property
    def is_local(self) -> bool:
        return is_local(self.root)

    def _lakefs(self) -> "LakeFSBackend":
        """What this lake does differently on lakeFS (imported only for a lakeFS lake: the SDK is heavy)."""
        from corpuslake.lakefs_store import LakeFSBackend

        return LakeFSBackend(self.root)

    def table_uri(self, table: str) -> str:
        parts = [check_name(p, "table") for p in table.split("/")]
        return "/".join([self.root.rstrip("/"), *parts])

    def _open(self, table: str, version: int | None = None) -> DeltaTable:
        return DeltaTable(self.table_uri(table), version=version, storage_options=self.options)

    def version(self, table: str) -> int | None:
        """Latest version of ``table``, or None if it does not exist yet."""
        try:
            return self._open(table).version()
        except TableNotFoundError:
            return None

    def read(
        self,
        table: str,
        version: int | None = None,
        dumps: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> pa.Table:
        """Rows of ``table`` at ``version`` (latest if None), optionally only some dumps and columns."""
        dataset = self.dataset(table, version)
        expr = None
        if dumps is not None:
            expr = pads.field("dump").isin(pa.array([check_name(d, "dump") for d in dumps], pa.string()))
        for column, value in (filters or {}).items():
            term = pads.field(column) == value
            expr = term if expr is None else expr & term
        return dataset.to_table(columns=list(columns) if columns else None, filter=expr)

    def dataset(self, table: str, version: int | None = None) -> pads.Dataset:
        """A pyarrow dataset over the files of one table version: for streaming reads.

        The dataset reads the version's files with Arrow's own filesystems (local, S3, or lakeFS's S3
        gateway). deltalake's ``to_pyarrow_dataset`` routes Arrow's I/O threads through a Python
        filesystem object, and a process that used it aborts now and then at exit ("terminate called
        without an active exception", delta-rs#2184, polars#24169): a CLI must not exit with 134 after a read.
        """
        delta = self._open(table, version)
        schema = pa.schema(delta.schema().to_arrow())
        actions = pa.table(delta.get_add_actions(flatten=True))
        filesystem, base = self._filesystem(self.table_uri(table))
        root = PurePosixPath(base)
        columns = [name for name in actions.column_names if name.startswith("partition.")]
        parquet = pads.ParquetFileFormat()
        fragments = []
        for row in actions.select(["path", *columns]).to_pylist():
            where = pads.scalar(True)
            for column in columns:
                value = row[column]
                field_ = pads.field(column.removeprefix("partition."))
                where = where & (field_.is_null() if value is None else field_ == value)
            fragments.append(
                parquet.make_fragment(str(root / unquote(row["path"])), filesystem, partition_expression=where)
            )
        return pads.FileSystemDataset(fragments, schema, parquet, filesystem)

    def write_partition(
        self,
        table: str,
        data: pa.Table | pa.RecordBatchReader,
        lineage: Lineage,
        partition: Mapping[str, str],
    ) -> int:
        """Replace one partition of ``table`` with ``data`` in one commit; return the new version.

        ``partition`` names every partition column of the table (``dump``, and ``stage`` where the table
        has it); only rows of that partition are replaced.
        """
        columns, values = _partition_values(table, partition)
        predicate = " AND ".join(f"{col} = '{value}'" for col, value in values.items())
        before = self.version(table)
        # Columns are added, never dropped or renamed: a table written before a declared column existed
        # takes it (older rows read null); any other difference stays the schema error Delta raises.
        declared = DECLARED.get(table)
        stored = set() if before is None else set(pa.schema(self._open(table, before).schema().to_arrow()).names)
        written = set(data.schema.names)
        added = bool(stored) and stored < written and declared is not None and written == set(declared.names)
        try:
            write_deltalake(
                self.table_uri(table),
                data,
                mode="overwrite",
                predicate=predicate or None,  # an unpartitioned table is replaced whole
                partition_by=columns or None,
                schema_mode="merge" if added else None,
                storage_options=self.options,
                commit_properties=_commit_properties(lineage),
            )
        except (OSError, DeltaError) as error:
            raise _not_committed("writing", table, values, before, error) from error
        return self.version_of_commit(table, lineage.commit_id)

    def append(self, table: str, data: pa.Table, lineage: Lineage) -> int:
        """Add rows to an unpartitioned, append-only table (a registry) in one commit; return the version."""
        write_deltalake(
            self.table_uri(table),
            data,
            mode="append",
            storage_options=self.options,
            commit_properties=_commit_properties(lineage),
        )
        return self.version_of_commit(table, lineage.commit_id)

    def ensure_table(self, table: str, schema: pa.Schema, configuration: Mapping[str, str]) -> int:
        """Create ``table`` empty if it does not exist; return its latest version.

        Creating concurrently is harmless (a second create lands as a metadata-only version), whereas a
        first *data* commit racing another one could be merged into it: conditional replaces therefore
        always start from an existing version.
        """
        version = self.version(table)
        if version is None:
            try:
                DeltaTable.create(
                    self.table_uri(table),
                    DeltaSchema.from_arrow(schema),
                    mode="ignore",
                    configuration=dict(configuration),
                    storage_options=self.options,
                )
            except DeltaError as error:
                if self.version(table) is None:  # not a concurrent creator that won: a real failure
                    raise LakeWriteError(f"creating {table} failed: {error}") from error
            version = self.version(table)
            assert version is not None
        return version

    def replace_if_unchanged(self, table: str, data: pa.Table, lineage: Lineage, expected: int) -> int:
        """Replace a whole unpartitioned table, but only if it is still at version ``expected``; return the
        new version. A concurrent writer that committed first makes this raise
        :class:`ConcurrentUpdateError` and nothing is written: compare-and-swap on Delta's log.
        """
        try:
            write_deltalake(
                self._open(table, expected),
                data,
                mode="overwrite",
                storage_options=self.options,
                commit_properties=_commit_properties(lineage, max_commit_retries=0),
            )
        except CommitFailedError as error:
            raise ConcurrentUpdateError(f"{table} changed after v{expected}: {error}") from error
        except (OSError, DeltaError) as error:
            raise LakeWriteError(f"writing {table} failed, nothing was committed: {error}") from error
        return expected + 1  # a commit without retries lands right after the version it read, or fails

    def write_ordered(
        self,
        table: str,
        rows: pa.Table | Iterable[WrittenFile],
        lineage: Lineage,
        expected: int,
        rows_per_file: int = ROWS_PER_FILE,
        row_group_rows: int = 8_192,
        *,
        schema: pa.Schema | None = None,
        before_commit: Callable[[list[WrittenFile]], None] | None = None,
    ) -> tuple[int, list[WrittenFile]]:
        """Replace a whole unpartitioned table with rows in exactly their order; return the new version
        and its files in row order.

        Delta writers are free to reorder record batches; a published dataset is read in a fixed order,
        so its Parquet files are committed as one transaction that is conditional on version ``expected``
        (see :meth:`ensure_table`). ``rows`` is either a table, written here one file after the other, or
        the files already written into the table's folder by :meth:`write_ordered_part` (by workers, in
        any order: their names sort in row order), with their ``schema``. ``before_commit`` sees the
        files once all are written; an exception from it abandons the write. A conflict raises
        :class:`ConcurrentUpdateError`; any failure removes the files written, and nothing is committed.
        """
        filesystem, base = self._filesystem(self.table_uri(table))
        written: list[WrittenFile] = []
        try:
            if isinstance(rows, pa.Table):
                schema, prefix = rows.schema, uuid.uuid4().hex
                for index, start in enumerate(range(0, max(rows.num_rows, 1), rows_per_file)):
                    chunk = rows.slice(start, rows_per_file)
                    written.append(self.write_ordered_part(table, f"part-{index:05d}-{prefix}.parquet", chunk))
            else:
                for part in rows:  # collected as they come: a failure below removes every one of them
                    written.append(part)
                written.sort(key=lambda f: f.path)
            if schema is None:
                raise ValueError("write_ordered needs the schema of files written elsewhere")
            if before_commit is not None:
                before_commit(list(written))
            now = int(time.time() * 1000)
            adds = [AddAction(f.path, f.size, {}, now, True, json.dumps({"numRecords": f.rows})) for f in written]
            actions: list[AddAction | RemoveAction] = list(adds)
            self._transaction_table(table, expected).create_write_transaction(
                actions,
                mode="overwrite",
                schema=DeltaSchema.from_arrow(schema),
                commit_properties=_commit_properties(lineage, max_commit_retries=0),
            )
            self._commit_direct_writes(f"corpuslake: {table} replaced by {len(written)} ordered files")
        except BaseException as error:
            for f in written:
                with suppress(OSError):
                    filesystem.delete_file(f"{base}/{f.path}")
            if written:
                with suppress(Exception):  # the original error matters more than a failed clean-up
                    self._commit_direct_writes(f"corpuslake: files of an uncommitted write to {table} removed")
            if isinstance(error, CommitFailedError):
                raise ConcurrentUpdateError(f"{table} changed after v{expected}: {error}") from error
            if isinstance(error, OSError | DeltaError):
                raise LakeWriteError(f"writing {table} failed, nothing was committed: {error}") from error
            raise
        return expected + 1, written

    def write_ordered_part(self, table: str, name: str, rows: pa.Table, row_group_rows: int = 8_192) -> WrittenFile:
        """Write one data file of an ordered table into its folder, not yet committed (a worker's share of
        :meth:`write_ordered`); a failure removes the partial file."""
        filesystem, base = self._filesystem(self.table_uri(table))
        target = f"{base}/{name}"
        try:
            if not self.is_lakefs:  # lakeFS's gateway has no folders (a folder marker is a 404)
                filesystem.create_dir(base, recursive=True)
            with filesystem.open_output_stream(target, compression=None) as sink:
                pq.write_table(rows, sink, row_group_size=row_group_rows, compression="snappy")
            return WrittenFile(name, int(filesystem.get_file_info(target).size), rows.num_rows)
        except BaseException:
            with suppress(OSError):
                filesystem.delete_file(target)
            raise

    def _filesystem(self, uri: str) -> tuple[pafs.FileSystem, str]:
        if self.is_local:
            return pafs.LocalFileSystem(), uri.removeprefix("file://")
        if self.is_lakefs:
            return self._lakefs().gateway_filesystem(uri)
        filesystem, path = pafs.FileSystem.from_uri(uri)
        return filesystem, path

    def _transaction_table(self, table: str, version: int) -> DeltaTable:
        """The table handle a hand-built transaction commits through.

        deltalake's lakefs backend runs only the transactions it starts itself (``create_write_transaction``
        fails there with "Transaction ID ... not found"), so on lakeFS the commit goes through the S3
        gateway instead, as to any S3 store: the log entry is a conditional put (``If-None-Match``, which
        lakeFS honours) on the lake's own branch, committed in lakeFS right after."""
        if not self.is_lakefs:
            return self._open(table, version)
        uri, gateway = self._transaction_location(table)
        return DeltaTable(uri, version=version, storage_options=gateway)

    def _transaction_location(self, table: str) -> tuple[str, dict[str, str]]:
        """The URI and storage options hand-built transactions use (see :meth:`_transaction_table`)."""
        if not self.is_lakefs:
            return self.table_uri(table), self.options
        return self._lakefs().gateway_location(self.table_uri(table))

    def _commit_direct_writes(self, message: str) -> None:
        """On lakeFS, commit what this process wrote to the branch without deltalake's lakefs backend.

        That backend commits each Delta transaction on a transaction branch created from the lake's
        branch and merges it back, and lakeFS merges nothing into a branch holding uncommitted changes:
        files written here directly (ordered snapshot files and their log entry, model files) are
        committed at once, so the next transaction branch sees them and its merge finds the branch clean."""
        if self.is_lakefs:
            self._lakefs().commit_writes(message)

    def row_groups(self, table: str, version: int, dump: str) -> list["RowGroup"]:
        """References to every Parquet row group of one dump partition at ``version``, in file order.

        Only the files' footers are read: a worker reads the rows of its own row group
        (:meth:`RowGroup.batches`), so no rows pass through the process that plans the jobs.
        """
        delta = self._open(table, version)
        schema = pa.schema(delta.schema().to_arrow())
        actions = pa.table(delta.get_add_actions(flatten=True))
        columns = [name for name in actions.column_names if name.startswith("partition.")]
        filesystem, base = self._filesystem(self.table_uri(table))
        files: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
        for row in sorted(actions.select(["path", *columns]).to_pylist(), key=lambda r: str(r["path"])):
            values = tuple((c.removeprefix("partition."), row[c]) for c in columns)
            if dict(values).get("dump") == dump:
                files.append((unquote(row["path"]), values))

        def group_rows(relative: str) -> list[int]:
            # Only the row counts are kept: a parsed footer of a wide table is a few hundred KB, and a
            # dump of a large crawl has hundreds of files.
            with filesystem.open_input_file(f"{base}/{relative}") as handle:
                metadata = pq.ParquetFile(handle).metadata
                return [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]

        # Footers are read on threads: on object storage each is a round trip or two.
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="corpuslake-footers") as pool:
            counts = list(pool.map(group_rows, [relative for relative, _ in files]))
        groups: list[RowGroup] = []
        for (relative, values), rows_by_group in zip(files, counts, strict=True):
            for index, rows in enumerate(rows_by_group):
                if rows:
                    groups.append(RowGroup(self, table, relative, index, rows, values, schema))
        return groups

    def file_writer(self, table: str, relative: str, schema: pa.Schema) -> "FileWriter":
        """A Parquet file at ``relative`` inside ``table``'s folder, written one row group at a time and
        not visible to readers until committed (Delta readers see only the files a commit adds: see
        :meth:`commit_files`)."""
        return FileWriter(self, table, relative, schema)

    def commit_files(
        self,
        table: str,
        files: Sequence[WrittenFile],
        schema: pa.Schema,
        lineage: Lineage,
        partition: Mapping[str, str],
    ) -> int:
        """Replace one partition of ``table`` with data files already written into its folder, in one
        commit of add actions (the rows never pass through this process); return the new version.

        ``files`` are relative to the table folder and hold the table's columns except the partition
        columns, whose values are ``partition``. A failure leaves the table as it was.
        """
        columns, values = _partition_values(table, partition)
        before = self.version(table)
        now = int(time.time() * 1000)
        adds: list[AddAction | RemoveAction] = [
            AddAction(f.path, f.size, values, now, True, json.dumps({"numRecords": f.rows})) for f in files
        ]
        try:
            created = False
            if before is None:  # the table's first version is this commit, unless another writer's is
                uri, options = self._transaction_location(table)
                try:
                    create_table_with_add_actions(
                        uri,
                        DeltaSchema.from_arrow(schema),
                        [a for a in adds if isinstance(a, AddAction)],
                        mode="error",
                        partition_by=columns or None,
                        storage_options=options,
                        commit_properties=_commit_properties(lineage),
                    )
                    created = True
                except DeltaError:
                    if self.version(table) is None:
                        raise
            if not created:
                self._transaction_table(table, self.version(table) or 0).create_write_transaction(
                    adds,
                    mode="overwrite",
                    schema=DeltaSchema.from_arrow(schema),
                    partition_by=columns or None,
                    partition_filters=[(col, "=", value) for col, value in values.items()] or None,
                    commit_properties=_commit_properties(lineage),
                )
            self._commit_direct_writes(f"corpuslake: {table} {values} replaced by {len(files)} files")
        except (OSError, DeltaError) as error:
            raise _not_committed("committing", table, values, before, error) from error
        return self.version_of_commit(table, lineage.commit_id)

    def remove_uncommitted(self, table: str, folder: str, prefix: str) -> int:
        """Delete the files named ``<folder>/<prefix>*`` of ``table`` that a failed stage wrote and never
        committed; return how many. Files of committed versions never carry another run's prefix."""
        filesystem, base = self._filesystem(self.table_uri(table))
        try:
            infos = filesystem.get_file_info(pafs.FileSelector(f"{base}/{folder}", allow_not_found=True))
        except OSError:
            return 0
        removed = 0
        for info in infos:
            if info.type == pafs.FileType.File and info.base_name.startswith(prefix):
                with suppress(OSError):
                    filesystem.delete_file(info.path)
                    removed += 1
        if removed:
            with suppress(Exception):  # the failure that brought us here matters more
                self._commit_direct_writes(f"corpuslake: uncommitted files of {table} removed")
        return removed

    def dumps(self, table: str, version: int | None = None) -> list[str]:
        """The dumps with rows in ``table`` at ``version`` (latest if None), from its add actions alone: no
        data file is opened, whatever the rows."""
        actions = pa.table(self._open(table, version).get_add_actions(flatten=True))
        if "partition.dump" not in actions.column_names:
            return []
        with_rows = actions.filter(pc.fill_null(pc.greater(actions["num_records"], 0), True))
        return sorted(d for d in set(with_rows["partition.dump"].to_pylist()) if d is not None)

    def files(self, table: str, version: int) -> list[dict[str, Any]]:
        """The data files of one table version: ``path`` (relative to the table), ``size``, and the
        flattened statistics of the add actions (``min.<column>``, ``max.<column>``)."""
        actions = pa.table(self._open(table, version).get_add_actions(flatten=True))
        return [{**row, "path": unquote(row["path"]), "size": int(row["size_bytes"])} for row in actions.to_pylist()]

    def open_data_file(self, table: str, relative: str) -> pa.NativeFile:
        """One data file of ``table`` opened for reading in pieces (seekable, read through a buffer)."""
        filesystem, base = self._filesystem(self.table_uri(table))
        try:
            return filesystem.open_input_file(f"{base}/{relative}")
        except OSError as error:
            if _is_missing(error):
                raise FileNotFoundError(f"{base}/{relative}") from error
            raise

    def read_buffer(self, table: str, relative: str) -> pa.Buffer:
        """One data file of ``table`` as an Arrow buffer, memory-mapped on a local lake (no copy)."""
        filesystem, base = self._filesystem(self.table_uri(table))
        if self.is_local:
            with pa.memory_map(f"{base}/{relative}") as mapped:
                return mapped.read_buffer()
        try:
            with filesystem.open_input_file(f"{base}/{relative}") as handle:
                return handle.read_buffer()
        except OSError as error:
            if _is_missing(error):
                raise FileNotFoundError(f"{base}/{relative}") from error
            raise

    def store_file(self, local: Path, relative: str) -> None:
        """Put a file beside the tables (a model file), unless it is already there (a local lake)."""
        if self.is_local and local.resolve() == self.local_path(relative).resolve():
            return
        filesystem, base = self._filesystem(self.root.rstrip("/"))
        target = f"{base}/{relative}"
        if not self.is_lakefs:
            filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with local.open("rb") as source, filesystem.open_output_stream(target, compression=None) as sink:
            shutil.copyfileobj(source, sink, 1 << 22)
        self._commit_direct_writes(f"corpuslake: {relative}")

    def fetch_file(self, relative: str, sha256: str) -> Path:
        """A local copy of a file beside the tables: the file itself on a local lake, else a download into
        the cache, checked against ``sha256`` (a copy already in the cache is reused when it matches)."""
        if self.is_local:
            return self.local_path(relative)
        target = self.cache_dir() / "files" / sha256 / Path(relative).name
        if target.is_file() and _sha256_of(target) == sha256:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        filesystem, base = self._filesystem(self.root.rstrip("/"))
        partial = target.with_name(target.name + f".{uuid.uuid4().hex}.part")
        with filesystem.open_input_stream(f"{base}/{relative}", compression=None) as source, partial.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 22)
        if _sha256_of(partial) != sha256:
            partial.unlink()
            raise LakeWriteError(f"{self.root}/{relative} does not match its recorded SHA-256 {sha256[:16]}")
        partial.replace(target)
        return target

    def local_path(self, relative: str) -> Path:
        """A file under a local lake root (model files live beside the tables)."""
        if not self.is_local:
            raise ValueError(f"files beside the tables need a local lake, not {self.root}")
        return Path(self.root.removeprefix("file://")) / relative

    def has_written(self, table: str, partition: str) -> bool:
        """Whether a corpuslake commit ever wrote ``partition`` (a dump) of ``table``: an empty partition
        that was written is a result; one never written means the upstream stage has not run."""
        try:
            return _has_written(self._open(table), partition)
        except TableNotFoundError:
            return False

    def partition_version(self, table: str, dump: str) -> int:
        """The latest version of ``table`` for a stage to read ``dump`` from; a clear error when no
        commit ever wrote that partition (the upstream stage has not run for it)."""
        try:
            delta = self._open(table)
        except TableNotFoundError:
            delta = None
        if delta is None or not _has_written(delta, dump):
            raise LookupError(f"{table} has no partition {dump!r}: materialize {table} for this dump first")
        return delta.version()

    def partition_batches(
        self, table: str, version: int, dump: str, batch_rows: int, columns: Sequence[str] | None = None
    ) -> Iterator[pa.Table]:
        """The rows of one dump partition at ``version``, in tables of at most ``batch_rows`` (none empty)."""
        scanner = self.dataset(table, version).scanner(
            columns=list(columns) if columns else None,
            filter=pads.field("dump") == check_name(dump, "dump"),
            batch_size=batch_rows,
        )
        for batch in scanner.to_batches():
            if batch.num_rows:
                yield compact(pa.Table.from_batches([batch]))

    def version_of_commit(self, table: str, commit_id: str) -> int:
        """The version of ``table`` written with lineage ``commit_id`` (a stage writing two tables in one
        run, such as filtered and its rejections, gives both commits the same id)."""
        for entry in self._open(table).history(limit=50):
            raw = entry.get(LINEAGE_KEY)
            if raw and Lineage.from_json(raw).commit_id == commit_id:
                return int(entry["version"])
        raise LookupError(f"commit {commit_id} of {table} not found in its recent history")

    def lineage(self, table: str, version: int | None = None) -> Lineage:
        """The lineage recorded by the commit that made ``table`` at ``version`` (latest if None)."""
        if version is None:
            version = self.version(table)
            if version is None:
                raise LookupError(f"table {table} does not exist in {self.root}")
        # One commit file, not the whole history: deltalake's history() of a table loaded at an older
        # version returns the newest commits numbered from that version down (deltalake 1.6.6).
        info = self._commit_info(table, version)
        if info is None:
            raise LookupError(f"{table} has no version {version}")
        raw = info.get(LINEAGE_KEY)
        if not raw:
            raise LineageMissingError(f"{table}@v{version} carries no corpuslake lineage")
        return Lineage.from_json(raw)

    def _commit_info(self, table: str, version: int) -> dict[str, Any] | None:
        """The ``commitInfo`` action of commit ``version`` of ``table`` (None when the commit file is gone)."""
        filesystem, base = self._filesystem(self.table_uri(table))
        try:
            with filesystem.open_input_stream(f"{base}/_delta_log/{version:020d}.json", compression=None) as log:
                lines = log.read().decode("utf-8").splitlines()
        except OSError as error:
            if _is_missing(error):
                return None
            raise
        for line in lines:
            action = json.loads(line) if line.strip() else {}
            if "commitInfo" in action:
                return dict(action["commitInfo"])
        return {}

    def history(self, table: str) -> list[dict[str, Any]]:
        """The Delta history of ``table``, newest first."""
        return list(self._open(table).history())

    def lineage_chain(self, table: str, version: int | None = None) -> list[tuple[TableVersion, Lineage]]:
        """This version and every upstream version it was built from, depth first."""
        if version is None:
            version = self.version(table)
            if version is None:
                raise LookupError(f"table {table} does not exist in {self.root}")
        start = TableVersion(table, version)
        chain: list[tuple[TableVersion, Lineage]] = []
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            lineage = self.lineage(node.table, node.version)
            chain.append((node, lineage))
            stack.extend(reversed(lineage.upstream))
        return chain

    def cache_dir(self) -> Path:
        """Where derived inputs (the compiled URL blocklist) are kept between runs."""
        if self.cache:
            return Path(self.cache)
        if self.is_local:
            return Path(self.root.removeprefix("file://")) / "_cache"
        return Path(tempfile.gettempdir()) / "corpuslake-cache"

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A scratch folder for a stage's intermediate files, removed afterwards whatever happens.

        For a local lake it sits under ``<root>/_staging`` (same disk as the lake, so large dumps do not
        fill /tmp); Delta never sees it because it is outside every table folder. For a lake on object
        storage it sits under ``CORPUSLAKE_STAGING`` when set: workers on other nodes read staged files
        (dedup's hashes, publishing's ordered rows) by path, so on a cluster that folder is a filesystem
        every node mounts at the same path; unset, it is a folder of this machine's temporary directory.
        """
        shared = os.environ.get("CORPUSLAKE_STAGING")
        if self.is_local or shared:
            base = (
                Path(shared) if shared and not self.is_local else Path(self.root.removeprefix("file://")) / "_staging"
            )
            base.mkdir(parents=True, exist_ok=True)
            _remove_abandoned(base)
            folder = base / uuid.uuid4().hex
            folder.mkdir()
            (folder / _OWNER).write_text(f"{socket.gethostname()} {os.getpid()}")
        else:
            folder = Path(tempfile.mkdtemp(prefix="corpuslake-staging-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _partition_values(table: str, partition: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The partition columns of ``table`` and ``partition``'s checked value for each, in their order."""
    columns = PARTITIONS.get(table.split("/")[0], ["dump"])
    if sorted(partition) != sorted(columns):
        raise ValueError(f"{table} is partitioned by {columns}, got {sorted(partition)}")
    return columns, {col: check_name(partition[col], col) for col in columns}


def _not_committed(
    action: str, table: str, values: Mapping[str, str], before: int | None, error: Exception
) -> Exception:
    where = "it does not exist yet" if before is None else f"it is still at v{before}"
    return LakeWriteError(
        f"{action} {table} ({', '.join(f'{k}={v}' for k, v in values.items()) or 'whole table'}) "
        f"failed, nothing was committed and {where}: {error}"
    )


def _has_written(delta: DeltaTable, partition: str) -> bool:
    # A partition holding files now was written; only an empty (or since emptied) one needs the log.
    values = pa.table(delta.get_add_actions(flatten=True))
    if "partition.dump" in values.column_names and partition in set(values.column("partition.dump").to_pylist()):
        return True
    for entry in delta.history():
        raw = entry.get(LINEAGE_KEY)
        if raw and Lineage.from_json(raw).partition == partition:
            return True
    return False


def _is_missing(error: OSError) -> bool:
    """A missing file: local filesystems raise FileNotFoundError, object stores word it their own way."""
    return isinstance(error, FileNotFoundError) or any(
        marker in str(error).lower() for marker in ("does not exist", "nosuchkey", "not found")
    )


def _sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _commit_properties(lineage: Lineage, max_commit_retries: int | None = None) -> CommitProperties:
    """A commit carrying ``lineage``. ``max_commit_retries=0`` commits exactly the version after the one
    read, or fails: no retry that would rebase the commit on a concurrent one (an overwrite of an empty
    version conflicts with nothing, so a retry would merge)."""
    return CommitProperties(custom_metadata={LINEAGE_KEY: lineage.to_json()}, max_commit_retries=max_commit_retries)


_OWNER = ".owner"
_ABANDONED_AFTER = 24 * 3600  # seconds: a folder without a readable owner is left this long


def _remove_abandoned(base: Path) -> None:
    """Remove staging folders of processes that died without cleaning up (killed, or the machine lost
    power): the owner process of this host is gone, or the folder has no owner and is a day old."""
    host = socket.gethostname()
    for folder in base.iterdir():
        try:
            owner_host, pid = (folder / _OWNER).read_text().split()
            abandoned = owner_host == host and not _alive(int(pid))
        except (OSError, ValueError):
            try:
                abandoned = time.time() - folder.stat().st_mtime > _ABANDONED_AFTER
            except FileNotFoundError:  # its owner finished and removed it meanwhile
                continue
        if abandoned:
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def compact(rows: pa.Table) -> pa.Table:
    """A copy of ``rows`` in buffers of their own: a scanner's batches are slices of a whole decoded row
    group, and pickling a slice ships the parent buffers with it (28-61x the slice's size measured)."""
    return rows.take(pa.array(range(rows.num_rows), pa.int64())) if rows.num_rows else rows


@dataclass(frozen=True)
class RowGroup:
    """One Parquet row group of a table version: a job's input, read by the worker that runs the job.

    It pickles to a few hundred bytes, however many rows it names; the rows never travel between
    processes (an Arrow slice pickles with the buffers of its whole row group, 28-61x its own size)."""

    lake: Lake
    table: str
    path: str  # relative to the table folder
    index: int
    rows: int
    partition: tuple[tuple[str, str | None], ...]
    schema: pa.Schema

    @property
    def label(self) -> str:
        return f"{self.path}#{self.index}"

    def batches(self, columns: Sequence[str] | None, batch_rows: int) -> Iterator[pa.Table]:
        """The row group's rows in tables of at most ``batch_rows``, with the table's column types;
        partition columns (not stored in the files) and columns added after the file was written are
        filled in."""
        wanted = list(columns) if columns else self.schema.names
        filesystem, base = self.lake._filesystem(self.lake.table_uri(self.table))
        values = dict(self.partition)
        with filesystem.open_input_file(f"{base}/{self.path}") as handle:
            parquet = pq.ParquetFile(handle)
            stored = [name for name in wanted if name in parquet.schema_arrow.names]
            for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[self.index], columns=stored):
                arrays = []
                for name in wanted:
                    field_ = self.schema.field(name)
                    if name in stored:
                        arrays.append(batch.column(name).cast(field_.type))
                    else:
                        arrays.append(pa.array([values.get(name)] * batch.num_rows, field_.type))
                yield pa.table(arrays, schema=pa.schema([self.schema.field(n) for n in wanted]))


class FileWriter:
    """One Parquet data file being written into a table's folder (see :meth:`Lake.file_writer`)."""

    def __init__(self, lake: Lake, table: str, relative: str, schema: pa.Schema) -> None:
        self.lake, self.relative, self.rows = lake, relative, 0
        self._filesystem, base = lake._filesystem(lake.table_uri(table))
        self._target = f"{base}/{relative}"
        if not lake.is_lakefs:  # lakeFS's gateway has no folders
            self._filesystem.create_dir(self._target.rsplit("/", 1)[0], recursive=True)
        self._sink = self._filesystem.open_output_stream(self._target, compression=None)
        self._writer = pq.ParquetWriter(self._sink, schema, compression="snappy")

    def write(self, rows: pa.Table) -> None:
        """Append ``rows`` as one row group."""
        self._writer.write_table(rows, row_group_size=max(rows.num_rows, 1))
        self.rows += rows.num_rows

    def close(self) -> WrittenFile:
        self._writer.close()
        self._sink.close()
        size = self._filesystem.get_file_info(self._target).size
        return WrittenFile(self.relative, int(size), self.rows)

    def abort(self) -> None:
        """Stop writing and remove what was written."""
        with suppress(Exception):
            self._writer.close()
            self._sink.close()
        with suppress(OSError):
            self._filesystem.delete_file(self._target)
