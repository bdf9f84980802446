"""One stage contract and the one runner that maps it, commits and reports.

A stage is a module-level function ``process(unit, config, sink)`` with a frozen config. For every stage
over a table the unit is a batch of input rows (``pa.Table`` of at most ``batch_rows``); for the stage
that reads the crawl it is a WARC file. The function writes its output rows to the sink by output name
(``kept``, ``rejections``...) and counts what it saw on the sink.

The runner (:func:`run_stage`) plans one job per input row group or file, maps the jobs on the local pool
or Ray (:func:`corpuslake.parallel.run_jobs`), and:
- each worker reads its own rows (:class:`corpuslake.store.RowGroup`), so a job pickles to a few hundred
  bytes whatever its size, and writes each output as one Parquet file straight into the output table's
  partition folder, invisible to readers until committed;
- the driver receives file names and counters only, and commits each output table with add actions
  (rejections first, one lineage: a re-run replaces both), never reading a row;
- a failure or an interrupt removes the files the run wrote, so nothing half-written stays behind.
The peak memory of every process follows ``batch_rows`` and the row groups, not the partition.
"""

import os
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pyarrow as pa

from corpuslake.lineage import Lineage, TableVersion
from corpuslake.memory import release_after_job
from corpuslake.parallel import Workers, run_jobs
from corpuslake.store import FileWriter, Lake, RowGroup, WrittenFile

JOB_ROWS = 8_192
"""Rows a job of a row-group stage gathers (filtered, content_signals, scored): see :class:`RowGroups`."""

Config = TypeVar("Config")
Unit = TypeVar("Unit")
Note = Callable[[int, Any], None]

EXAMPLES_PER_KEY = 5


@dataclass(frozen=True)
class Output:
    """A table a stage writes: the name the stage writes to, the table, its schema and partition."""

    name: str
    table: str
    schema: pa.Schema
    partition: tuple[tuple[str, str], ...]

    @property
    def folder(self) -> str:
        return "/".join(f"{column}={value}" for column, value in self.partition)

    @property
    def file_schema(self) -> pa.Schema:
        """The columns stored in the files: partition values live in the commit, not in the files."""
        columns = {column for column, _ in self.partition}
        return pa.schema([f for f in self.schema if f.name not in columns])


class Sink:
    """Where a stage writes its rows and counts, inside one job.

    Rows are buffered up to ``row_group_rows`` per output and written as row groups of one Parquet file
    per output, so a worker holds at most one row group per output besides its input batch.
    """

    def __init__(self, lake: Lake, outputs: Sequence[Output], stem: str, row_group_rows: int, seq: int = 0) -> None:
        self.lake, self.stem, self.row_group_rows = lake, stem, row_group_rows
        self.seq = seq
        """The job's number in the stage's plan: the key of per-job state an earlier pass prepared (the
        dedup decisions of one row group)."""
        self.outputs = {output.name: output for output in outputs}
        self.counters: Counter[str] = Counter()
        self.figures: dict[str, float] = {}
        self.examples: dict[str, list[str]] = {}
        self._pending: dict[str, list[pa.Table]] = {name: [] for name in self.outputs}
        self._rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.outputs}
        self._files: dict[str, FileWriter] = {}

    def write(self, name: str, rows: pa.Table) -> None:
        """Add rows (with the output's columns, partition columns included or not) to output ``name``."""
        if rows.num_rows:
            self._pending[name].append(rows)
            if sum(t.num_rows for t in self._pending[name]) >= self.row_group_rows:
                self._flush(name)

    def add(self, name: str, row: dict[str, Any]) -> None:
        """Add one row, given as a dict, to output ``name``."""
        self._rows[name].append(row)
        if len(self._rows[name]) >= self.row_group_rows:
            self._flush(name)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def measure(self, key: str, value: float) -> None:
        """Add ``value`` to the figure ``key`` (summed over every batch and job, like a counter)."""
        self.figures[key] = self.figures.get(key, 0.0) + value

    def example(self, key: str, doc_id: str) -> None:
        """Count ``key`` and keep ``doc_id`` among its first examples."""
        self.counters[key] += 1
        kept = self.examples.setdefault(key, [])
        if len(kept) < EXAMPLES_PER_KEY:
            kept.append(doc_id)

    def _flush(self, name: str) -> None:
        output = self.outputs[name]
        if self._rows[name]:
            self._pending[name].append(pa.Table.from_pylist(self._rows[name], schema=output.schema))
            self._rows[name] = []
        if not self._pending[name]:
            return
        chunk = pa.concat_tables(self._pending[name]).select(output.file_schema.names).cast(output.file_schema)
        self._pending[name] = []
        if name not in self._files:
            relative = f"{output.folder}/part-{self.stem}-{name}.parquet"
            self._files[name] = self.lake.file_writer(output.table, relative, output.file_schema)
        self._files[name].write(chunk)

    def close(self) -> dict[str, WrittenFile]:
        for name in self.outputs:
            self._flush(name)
        return {name: writer.close() for name, writer in self._files.items()}

    def abort(self) -> None:
        for writer in self._files.values():
            writer.abort()


@dataclass(frozen=True)
class RowGroups:
    """Consecutive row groups of one partition, read by one job: a job per row group of a narrowing
    table (1,000 documents, then 700 kept...) would make the driver's per-job work (a Ray task costs its
    driver ~2 ms) and the table's file count grow with every stage."""

    parts: tuple[RowGroup, ...]

    @property
    def label(self) -> str:
        first = self.parts[0].label
        return first if len(self.parts) == 1 else f"{first} (+{len(self.parts) - 1} row groups)"

    def batches(self, columns: Sequence[str] | None, batch_rows: int) -> Iterator[pa.Table]:
        for part in self.parts:
            yield from part.batches(columns, batch_rows)


def gather(units: Iterable[Any], job_rows: int) -> Iterator[Any]:
    """Row groups gathered in order into units of at least ``job_rows`` rows (the last may be smaller);
    any other unit passes through alone."""
    pending: list[RowGroup] = []
    for unit in units:
        if not isinstance(unit, RowGroup):
            yield unit
            continue
        pending.append(unit)
        if sum(p.rows for p in pending) >= job_rows:
            yield RowGroups(tuple(pending))
            pending = []
    if pending:
        yield RowGroups(tuple(pending))


@dataclass(frozen=True)
class Job(Generic[Unit, Config]):
    """One unit of work, as a worker receives it: everything in it is small and picklable."""

    seq: int
    unit: Unit
    process: Callable[[Any, Any, Sink], None]
    config: Config
    outputs: tuple[Output, ...]
    stem: str
    lake: Lake
    columns: tuple[str, ...] | None
    batch_rows: int
    row_group_rows: int


@dataclass
class JobResult:
    """What one job gave back to the driver: file names and counts, never rows."""

    seq: int
    files: dict[str, WrittenFile]
    counters: Counter[str]
    figures: dict[str, float]
    examples: dict[str, list[str]]
    rows_in: int
    seconds: float
    label: str
    place: str
    """Where the job ran: a Ray node, or a host and process id."""

    @property
    def source_file(self) -> str:  # what a progress line names
        return self.label


def run_job(job: "Job[Any, Any]") -> JobResult:
    """The worker side: read the unit's rows, run the stage over them, write the outputs."""
    started = time.perf_counter()
    sink = Sink(job.lake, job.outputs, f"{job.stem}-{job.seq:06d}", job.row_group_rows, job.seq)
    rows_in = 0
    try:
        if isinstance(job.unit, RowGroup | RowGroups):
            for batch in job.unit.batches(job.columns, job.batch_rows):
                rows_in += batch.num_rows
                job.process(batch, job.config, sink)
            label = job.unit.label
        else:
            job.process(job.unit, job.config, sink)
            label = str(getattr(job.unit, "source_file", job.seq))
        files = sink.close()
    except BaseException:
        sink.abort()
        raise
    finally:
        # A pool worker lives through every job of every step: without this its resident size becomes the
        # largest job it ever ran plus what its allocators kept from the others.
        release_after_job()
    seconds = time.perf_counter() - started
    return JobResult(job.seq, files, sink.counters, sink.figures, sink.examples, rows_in, seconds, label, _place())


def _place() -> str:
    ray = sys.modules.get("ray")  # imported only by a Ray worker or a driver that chose Ray
    if ray is not None and ray.is_initialized():
        return f"ray node {ray.get_runtime_context().get_node_id()[:12]}"
    return f"{socket.gethostname()} pid {os.getpid()}"


@dataclass
class StageReport:
    """What one stage run wrote and found: the typed report every stage returns."""

    table: str
    version: int
    rows: int
    upstream: tuple[TableVersion, ...]
    counters: dict[str, int] = field(default_factory=dict)
    """Named counts: e.g. ``rejected.extract/empty_extraction`` or ``language.en``."""
    extra_versions: dict[str, int] = field(default_factory=dict)
    """Other tables this run committed to (the rejections table)."""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    """Whole inputs that could not be used (a file that is not WARC), one sentence each."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Figures that are not counts (a model hash, precision, a mean score, example ids)."""
    places: dict[str, int] = field(default_factory=dict)
    """Jobs per place they ran (a Ray node, or a host and process)."""

    @property
    def data_version(self) -> str:
        return f"{self.table}@v{self.version}"


@dataclass
class StageRun:
    """What :func:`run_stage` committed and counted."""

    versions: dict[str, int]
    """Output name -> the version its table was committed at."""
    rows: dict[str, int]
    """Output name -> rows written."""
    counters: Counter[str]
    figures: dict[str, float]
    """Sums of the figures stages measured (see :meth:`Sink.measure`)."""
    examples: dict[str, list[str]]
    rows_in: int
    jobs: int
    busy_seconds: float
    """Seconds the workers spent in jobs (summed): per-worker throughput is rows over this."""
    seconds: float
    places: Counter[str]
    """Jobs per place they ran (Ray node, or host and process)."""

    def report(
        self, table: str, upstream: tuple[TableVersion, ...], extra: Mapping[str, Any], *, output: str | None = None
    ) -> StageReport:
        """The report of a stage that wrote ``table`` (its output ``output``, default the table's name) and
        counted its ``documents``: ``extra`` plus the example ids and the documents per busy worker-second."""
        documents = self.counters["documents"]
        rate = documents / self.busy_seconds if self.busy_seconds else 0.0
        return StageReport(
            table,
            self.versions[output or table],
            documents,
            upstream,
            dict(self.counters),
            seconds=self.seconds,
            places=dict(self.places),
            extra={**extra, "examples": self.examples, "docs_per_second_per_worker": rate},
        )


def run_stage(
    lake: Lake,
    process: Callable[[Any, Config, Sink], None],
    config: Config,
    units: Iterable[Any],
    *,
    outputs: Sequence[Output],
    lineage: Lineage,
    workers: Workers,
    columns: Sequence[str] | None = None,
    batch_rows: int = 1_000,
    row_group_rows: int | None = None,
    job_rows: int | None = None,
    note: Note | None = None,
) -> StageRun:
    """Run ``process`` over every unit (row groups of a table version, or input files), then commit each
    output's files in the order of ``outputs`` (rejections first), all under ``lineage``. With
    ``job_rows``, consecutive row groups are read by one job until it has that many rows."""
    started = time.perf_counter()
    stem = uuid.uuid4().hex[:16]
    jobs = (
        Job(
            seq,
            unit,
            process,
            config,
            tuple(outputs),
            stem,
            lake,
            tuple(columns) if columns else None,
            batch_rows,
            row_group_rows or batch_rows,
        )
        for seq, unit in enumerate(gather(units, job_rows) if job_rows else units)
    )
    committed: set[str] = set()
    try:
        results = sorted(run_jobs(run_job, jobs, workers, note), key=lambda r: r.seq)
        versions: dict[str, int] = {}
        for output in outputs:
            files = [r.files[output.name] for r in results if output.name in r.files]
            versions[output.name] = lake.commit_files(
                output.table, files, output.schema, lineage, dict(output.partition)
            )
            committed.add(output.name)
    except BaseException:
        for output in outputs:
            if output.name not in committed:
                lake.remove_uncommitted(output.table, output.folder, f"part-{stem}-")
        raise
    counters: Counter[str] = Counter()
    figures: dict[str, float] = {}
    examples: dict[str, list[str]] = {}
    for result in results:
        counters.update(result.counters)
        for key, value in result.figures.items():
            figures[key] = figures.get(key, 0.0) + value
        for key, ids in result.examples.items():
            examples[key] = (examples.get(key, []) + ids)[:EXAMPLES_PER_KEY]
    return StageRun(
        versions,
        {o.name: sum(r.files[o.name].rows for r in results if o.name in r.files) for o in outputs},
        counters,
        figures,
        examples,
        sum(r.rows_in for r in results),
        len(results),
        sum(r.seconds for r in results),
        time.perf_counter() - started,
        Counter(r.place for r in results),
    )


def partition_output(name: str, table: str, schema: pa.Schema, dump: str, stage: str | None = None) -> Output:
    """An output replacing one dump partition of ``table`` (and one stage's, for rejections)."""
    partition = (("dump", dump),) if stage is None else (("dump", dump), ("stage", stage))
    return Output(name, table, schema, partition)
