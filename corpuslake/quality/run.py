"""Stage runners of model-based quality: build the training set, train and register a model, score a dump.

Models are files under ``<lake>/_models/quality/<sha256>.bin`` registered in the append-only
``quality_models`` table; ``scored`` always records which model (hash) and which registry version it used.
"""

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers
from corpuslake.quality.model import Evaluation, ModelConfig, QualityModelError, QualityScorer, train
from corpuslake.quality.training import TrainingSetConfig, build_training_set
from corpuslake.runner import JOB_ROWS, Sink, StageReport, partition_output, run_stage
from corpuslake.schemas import QUALITY_MODELS, SCORED
from corpuslake.store import Lake

MODELS_DIR = "_models/quality"
Note = Callable[[int, Any], None]


def write_training_set(
    lake: Lake, run_id: str, config: TrainingSetConfig, code_version: str
) -> tuple[int, dict[str, int]]:
    """Build and commit the training set (the whole table is replaced); return its version and counts."""
    table = build_training_set(config)
    # the sources by content, so the lineage says exactly which examples were read
    sources = {source: hashlib.sha256(Path(source).read_bytes()).hexdigest() for source in config.sources}
    lineage = Lineage("quality_training_set", "", run_id, code_version, plain(config) | {"source_sha256": sources})
    version = lake.write_partition("quality_training_set", table, lineage, {})
    counts = {
        f"{r['split']}.{r['label']}": r["text_count"]
        for r in table.group_by(["split", "label"]).aggregate([("text", "count")]).to_pylist()
    }
    return version, counts


def train_model(lake: Lake, run_id: str, config: ModelConfig, code_version: str) -> tuple[int, str, Evaluation]:
    """Train on the latest training set, store the model by hash, register it; return registry version,
    model hash and the held-out evaluation."""
    set_version = lake.version("quality_training_set")
    if set_version is None:
        raise LookupError("quality_training_set does not exist yet: materialize it first")
    table = lake.read("quality_training_set", set_version)
    folder = lake.local_path(MODELS_DIR) if lake.is_local else lake.cache_dir() / "trained"
    path, digest, evaluation = train(table, config, folder)
    lake.store_file(path, f"{MODELS_DIR}/{path.name}")  # an object-store lake gets its own copy
    row = {
        "model_hash": digest,
        "path": f"{MODELS_DIR}/{path.name}",
        "training_set_version": set_version,
        "config": json.dumps(plain(config), sort_keys=True),
        "precision": evaluation.precision,
        "recall": evaluation.recall,
        "auc": evaluation.auc,
        "heldout": evaluation.heldout,
        "trained_at": datetime.now(UTC),
    }
    upstream = (TableVersion("quality_training_set", set_version),)
    lineage = Lineage("quality_model", "", run_id, code_version, plain(config), upstream)
    version = lake.append("quality_models", pa.Table.from_pylist([row], schema=QUALITY_MODELS), lineage)
    return version, digest, evaluation


@dataclass(frozen=True)
class ScoreSettings:
    """The model a worker scores with: its local file, named by its hash."""

    model_path: str


_SCORER: QualityScorer | None = None  # one loaded model per worker process


def score_batch(docs: pa.Table, settings: ScoreSettings, sink: Sink) -> None:
    """Add the quality score (P(hq)) and the model's hash to one batch of deduplicated documents."""
    global _SCORER
    if _SCORER is None or _SCORER.hash != Path(settings.model_path).stem:
        _SCORER = QualityScorer(Path(settings.model_path))
    started = time.perf_counter()
    scores = _SCORER.score(docs.column("text").to_pylist())
    table = docs.append_column("quality_score", pa.array(scores, pa.float32()))
    table = table.append_column("quality_model", pa.array([_SCORER.hash] * docs.num_rows, pa.string()))
    sink.write("scored", table.select(SCORED.names).cast(SCORED))
    sink.count("documents", docs.num_rows)
    sink.measure("score_sum", float(scores.sum()))
    sink.measure("scoring_seconds", time.perf_counter() - started)


def current_model(lake: Lake) -> tuple[int, dict[str, Any]]:
    """The latest registered model: (registry version, its row)."""
    version = lake.version("quality_models")
    if version is None:
        raise LookupError("no quality model yet: materialize quality_training_set and quality_model first")
    rows = lake.read("quality_models", version).sort_by([("trained_at", "descending")]).to_pylist()
    return version, rows[0]


def score_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    workers: Workers,
    code_version: str,
    note: Note | None = None,
    batch_rows: int = 1_000,
) -> StageReport:
    """Add a quality score to every kept document of ``dump`` into ``scored``; nothing is dropped."""
    check_name(dump, "dump")
    dedup_version = lake.partition_version("deduplicated", dump)
    registry_version, model = current_model(lake)
    try:
        model_path = lake.fetch_file(model["path"], model["model_hash"])
    except FileNotFoundError as error:
        raise QualityModelError(
            f"model {model['model_hash']} is registered but its file is missing: {error}"
        ) from error
    if not model_path.is_file():
        raise QualityModelError(f"model {model['model_hash']} is registered but its file is missing: {model_path}")
    upstream = (TableVersion("deduplicated", dedup_version), TableVersion("quality_models", registry_version))
    config = {"model_hash": model["model_hash"], "batch_rows": batch_rows}
    lineage = Lineage("scored", dump, run_id, code_version, config, upstream)
    run = run_stage(
        lake,
        score_batch,
        ScoreSettings(str(model_path)),
        lake.row_groups("deduplicated", dedup_version, dump),
        outputs=[partition_output("scored", "scored", SCORED, dump)],
        lineage=lineage,
        workers=workers,
        batch_rows=batch_rows,
        job_rows=JOB_ROWS,
        note=note,
    )
    documents = run.counters["documents"]
    scoring = run.figures.get("scoring_seconds", 0.0)
    return StageReport(
        "scored",
        run.versions["scored"],
        documents,
        upstream,
        {"documents": documents},
        seconds=run.seconds,
        places=dict(run.places),
        extra={
            "model_hash": model["model_hash"],
            "mean_score": run.figures.get("score_sum", 0.0) / documents if documents else 0.0,
            "docs_per_second_per_worker": documents / scoring if scoring else 0.0,
        },
    )
