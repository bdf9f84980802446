"""The ``model_scores`` stage: every configured user model's score of every scored document of a dump, its
percentile bucket (0-19) and ``quality_bucket``, the maximum bucket over the models (Nemotron-CC's ensemble).

Percentiles are computed per model over the dump itself, as Nemotron-CC computes them over its data: a
user brings a model, not a reference sample, and the buckets rank documents against the others of the
same crawl. The thresholds of each model are recorded in the table version's lineage, so a bucket can
always be traced back to a score.

Two passes, both in workers through the stage runner, so no process holds the dump:
1. the workers score their row groups of ``scored`` (each model loaded once per worker) into
   ``model_scores_staging``, one float per document and model: the costly pass runs once;
2. DuckDB finds each model's 19 thresholds over the staged scores (a spilling sort of one column), then
   the workers read the staged rows back and write ``model_scores`` with the buckets.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from corpuslake import __version__
from corpuslake.lineage import LINEAGE_KEY, Lineage, TableVersion
from corpuslake.names import check_name
from corpuslake.parallel import Workers
from corpuslake.quality.user_models import ModelScoresConfig, Scorer, UserModel, identity, load_scorer, resolve
from corpuslake.runner import JOB_ROWS, Sink, StageReport, StageRun, partition_output, run_stage
from corpuslake.spill import connect, dump_relation
from corpuslake.store import Lake

STAGE_VERSION = "1"
CODE_VERSION = f"corpuslake-{__version__}/stage-{STAGE_VERSION}"
TABLE = "model_scores"
STAGING = "model_scores_staging"
BUCKETS = 20
INPUT_COLUMNS = ("id", "dump", "text", "quality_score")
Note = Callable[[int, Any], None]


def score_schema(names: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [pa.field("id", pa.string(), nullable=False), pa.field("dump", pa.string(), nullable=False)]
        + [pa.field(f"score_{n}", pa.float64()) for n in names]
    )


def bucket_schema(names: Sequence[str]) -> pa.Schema:
    fields = [pa.field("id", pa.string(), nullable=False), pa.field("dump", pa.string(), nullable=False)]
    for name in names:
        fields += [pa.field(f"score_{name}", pa.float64()), pa.field(f"bucket_{name}", pa.int8())]
    return pa.schema([*fields, pa.field("quality_bucket", pa.int8())])


def merged(lake: Lake, table: str, schema: pa.Schema) -> pa.Schema:
    """``schema`` after the stored table's columns: columns are added, never dropped (another dump may
    have been scored by a model this run does not configure; its rows keep their columns)."""
    version = lake.version(table)
    if version is None:
        return schema
    stored = lake.dataset(table, version).schema
    return pa.schema(list(stored) + [f for f in schema if f.name not in stored.names])


@dataclass(frozen=True)
class ScorePass:
    """What a worker of pass 1 needs: the models and the staging table's columns."""

    models: tuple[UserModel, ...]
    """The checked models, in the configured order."""
    schema: pa.Schema
    """The staging table's columns (this run's scores after those of earlier runs, which stay null)."""
    torch_threads: int
    """torch threads per worker for hf models."""


@dataclass(frozen=True)
class BucketPass:
    """What a worker of pass 2 needs: each model's thresholds and the table's columns."""

    names: tuple[str, ...]
    """The models' names, in the configured order."""
    thresholds: tuple[tuple[float, ...], ...]
    """Per model, its 19 ascending percentile thresholds over the dump."""
    schema: pa.Schema
    """The ``model_scores`` columns (this run's after those of earlier runs, which stay null)."""


_SCORERS: dict[tuple[UserModel, int], Scorer] = {}  # each model loaded once per worker process


def score_batch(docs: pa.Table, config: ScorePass, sink: Sink) -> None:
    """Score one batch of documents with every model (pass 1)."""
    texts: list[str] | None = None
    columns: dict[str, Any] = {"id": docs.column("id"), "dump": docs.column("dump")}
    for model in config.models:
        started = time.perf_counter()
        if model.kind == "ours":
            scores = docs.column("quality_score").to_numpy().astype(np.float64)
        else:
            key = (model, config.torch_threads)
            if key not in _SCORERS:
                _SCORERS[key] = load_scorer(model, config.torch_threads)
            texts = docs.column("text").to_pylist() if texts is None else texts
            scores = _SCORERS[key].score(texts)
        columns[f"score_{model.name}"] = pa.array(scores, pa.float64())
        sink.measure(f"seconds.{model.name}", time.perf_counter() - started)
    sink.count("documents", docs.num_rows)
    sink.write("scores", _fill(columns, config.schema, docs.num_rows))


def bucket_batch(rows: pa.Table, config: BucketPass, sink: Sink) -> None:
    """Turn staged scores into percentile buckets and their maximum (pass 2)."""
    columns: dict[str, Any] = {"id": rows.column("id"), "dump": rows.column("dump")}
    best = np.zeros(rows.num_rows, np.int8)
    for name, thresholds in zip(config.names, config.thresholds, strict=True):
        scores = rows.column(f"score_{name}").to_numpy(zero_copy_only=False)
        buckets = bucket_of(scores, np.asarray(thresholds))
        columns[f"score_{name}"] = rows.column(f"score_{name}")
        columns[f"bucket_{name}"] = pa.array(buckets, pa.int8())
        best = np.maximum(best, buckets)
    columns["quality_bucket"] = pa.array(best, pa.int8())
    for bucket, count in zip(*np.unique(best, return_counts=True), strict=True):
        sink.count(f"quality_bucket.{int(bucket):02d}", int(count))
    sink.count("documents", rows.num_rows)
    sink.write("buckets", _fill(columns, config.schema, rows.num_rows))


def _fill(columns: dict[str, Any], schema: pa.Schema, rows: int) -> pa.Table:
    """The columns in ``schema``'s order, null where this run computed none (another dump's models)."""
    arrays = [columns[f.name] if f.name in columns else pa.nulls(rows, f.type) for f in schema]
    return pa.table(arrays, schema=schema)


def bucket_of(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Percentile bucket 0-19 of each score: how many thresholds it reaches."""
    return np.searchsorted(thresholds, scores, side="right").astype(np.int8)


def threshold_ranks(rows: int) -> list[int]:
    """The rank (0-based, ascending) of each of the 19 thresholds: bucket k starts at the score of rank
    floor(k * rows / 20), so each bucket holds a twentieth of the dump (ties share the higher bucket)."""
    return [k * rows // BUCKETS for k in range(1, BUCKETS)]


def percentile_thresholds(scores: np.ndarray) -> tuple[float, ...]:
    """The 19 thresholds over ``scores`` in memory (the rule :func:`dump_thresholds` applies in DuckDB)."""
    if not len(scores):
        return (float("inf"),) * (BUCKETS - 1)
    ordered = np.sort(scores)
    return tuple(float(ordered[r]) for r in threshold_ranks(len(scores)))


def dump_thresholds(lake: Lake, version: int, dump: str, names: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Each model's thresholds over the staged scores of ``dump``: one spilling sort of one column each."""
    schema = lake.dataset(STAGING, version).schema
    out: dict[str, tuple[float, ...]] = {}
    with lake.staging() as scratch:
        con = connect(scratch)
        try:
            for name in names:
                column = f"score_{name}"  # a checked name: safe in SQL
                dump_relation(con, lake, STAGING, version, dump, 0, [column], schema).create_view("s", replace=True)
                rows = int(con.execute("SELECT count(*) FROM s").fetchall()[0][0])
                if not rows:
                    out[name] = (float("inf"),) * (BUCKETS - 1)
                    continue
                ranks = threshold_ranks(rows)
                found = con.execute(
                    f"SELECT r, v FROM (SELECT CAST({column} AS DOUBLE) AS v, "
                    f"row_number() OVER (ORDER BY {column}) - 1 AS r FROM s) WHERE list_contains($ranks, r)",
                    {"ranks": ranks},
                ).fetchall()
                values = dict(found)
                out[name] = tuple(float(values[r]) for r in ranks)
        finally:
            con.close()
    return out


def ours_hash(lake: Lake, dump: str) -> str:
    """The hash of the model that scored ``dump`` in ``scored`` (its latest commit of that partition)."""
    for entry in lake.history("scored"):
        raw = entry.get(LINEAGE_KEY)
        if raw:
            lineage = Lineage.from_json(raw)
            if lineage.partition == dump:
                return str(lineage.config.get("model_hash", ""))
    return ""


def score_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    config: ModelScoresConfig,
    workers: Workers,
    note: Note | None = None,
    models: tuple[UserModel, ...] | None = None,
) -> StageReport | None:
    """Score ``dump``'s scored documents with every user model into ``model_scores``; None (nothing read)
    when no model is configured."""
    check_name(dump, "dump")
    models = resolve(config) if models is None else models
    if not models:
        return None
    names = tuple(m.name for m in models)
    scored_version = lake.partition_version("scored", dump)
    ours = ours_hash(lake, dump) if any(m.kind == "ours" for m in models) else ""
    identities = [asdict(identity(m, ours)) for m in models]
    common = {"models": identities, "batch_rows": config.batch_rows, "torch_threads": config.torch_threads}
    upstream: tuple[TableVersion, ...] = (TableVersion("scored", scored_version),)
    lineage = Lineage(STAGING, dump, run_id, CODE_VERSION, common, upstream)
    first = _score_pass(lake, dump, scored_version, models, config, lineage, workers, note)
    staged = first.versions["scores"]
    thresholds = dump_thresholds(lake, staged, dump, names)
    upstream += (TableVersion(STAGING, staged),)
    lineage_config = common | {"thresholds": {n: list(t) for n, t in thresholds.items()}, "percentiles": "dump"}
    lineage = Lineage(TABLE, dump, run_id, CODE_VERSION, lineage_config, upstream)
    second = _bucket_pass(
        lake,
        dump,
        staged,
        BucketPass(names, tuple(thresholds[n] for n in names), merged(lake, TABLE, bucket_schema(names))),
        lineage,
        workers,
        note,
    )
    documents = second.counters["documents"]
    rates = {n: documents / first.figures[f"seconds.{n}"] for n in names if first.figures.get(f"seconds.{n}")}
    return StageReport(
        TABLE,
        second.versions["buckets"],
        documents,
        upstream,
        dict(second.counters),
        seconds=first.seconds + second.seconds,
        places=dict(first.places + second.places),
        extra={"models": identities, "thresholds": thresholds, "docs_per_second_per_worker": rates},
    )


def _score_pass(
    lake: Lake,
    dump: str,
    scored_version: int,
    models: tuple[UserModel, ...],
    config: ModelScoresConfig,
    lineage: Lineage,
    workers: Workers,
    note: Note | None,
) -> StageRun:
    """Pass 1: the workers score their row groups of ``scored`` into the staging table."""
    schema = merged(lake, STAGING, score_schema([m.name for m in models]))
    return run_stage(
        lake,
        score_batch,
        ScorePass(models, schema, config.torch_threads),
        lake.row_groups("scored", scored_version, dump),
        outputs=[partition_output("scores", STAGING, schema, dump)],
        lineage=lineage,
        workers=workers,
        # ``ours`` alone needs no text: the widest column is read only when a model reads it
        columns=INPUT_COLUMNS if any(m.kind != "ours" for m in models) else ("id", "dump", "quality_score"),
        batch_rows=config.batch_rows,
        job_rows=config.job_rows,
        note=note,
    )


def _bucket_pass(
    lake: Lake, dump: str, staged: int, config: BucketPass, lineage: Lineage, workers: Workers, note: Note | None
) -> StageRun:
    """Pass 2: the workers read the staged scores back and write ``model_scores`` with the buckets."""
    return run_stage(
        lake,
        bucket_batch,
        config,
        lake.row_groups(STAGING, staged, dump),
        outputs=[partition_output("buckets", TABLE, config.schema, dump)],
        lineage=lineage,
        workers=workers,
        columns=("id", "dump", *(f"score_{n}" for n in config.names)),
        batch_rows=8_192,
        job_rows=JOB_ROWS,
        note=note,
    )
