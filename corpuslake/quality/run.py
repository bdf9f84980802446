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
import pyarrow.parquet as pq

from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers, run_jobs
from corpuslake.quality.model import Evaluation, ModelConfig, QualityModelError, QualityScorer, train
from corpuslake.quality.training import TrainingSetConfig, build_training_set
from corpuslake.schemas import QUALITY_MODELS, SCORED
from corpuslake.store import Lake, parquet_parts_reader

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
class ScoreJob:
    seq: int
    documents: pa.Table
    model_path: str
    staging_dir: str


@dataclass
class ScoreOutcome:
    seq: int
    part: str
    documents: int
    score_sum: float
    seconds: float

    @property
    def source_file(self) -> str:
        return f"batch {self.seq}"


_SCORER: QualityScorer | None = None  # one loaded model per worker process


def score_batch(job: ScoreJob) -> ScoreOutcome:
    global _SCORER
    started = time.perf_counter()
    if _SCORER is None or _SCORER.hash != Path(job.model_path).stem:
        _SCORER = QualityScorer(Path(job.model_path))
    docs = job.documents
    scores = _SCORER.score(docs.column("text").to_pylist())
    table = docs.append_column("quality_score", pa.array(scores, pa.float32()))
    table = table.append_column("quality_model", pa.array([_SCORER.hash] * docs.num_rows, pa.string()))
    part = f"{job.staging_dir}/scored.{job.seq:06d}.parquet"
    pq.write_table(table.select(SCORED.names).cast(SCORED), part)
    return ScoreOutcome(job.seq, part, docs.num_rows, float(scores.sum()), time.perf_counter() - started)


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
) -> dict[str, Any]:
    """Add a quality score to every kept document of ``dump`` into ``scored``; nothing is dropped."""
    started = time.perf_counter()
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
    with lake.staging() as staging:
        jobs = (
            ScoreJob(seq, batch, str(model_path), str(staging))
            for seq, batch in enumerate(lake.partition_batches("deduplicated", dedup_version, dump, batch_rows))
        )
        outcomes = sorted(run_jobs(score_batch, jobs, workers, note), key=lambda o: o.seq)
        version = lake.write_partition(
            "scored", parquet_parts_reader([o.part for o in outcomes], SCORED), lineage, {"dump": dump}
        )
    documents = sum(o.documents for o in outcomes)
    scoring = sum(o.seconds for o in outcomes)
    return {
        "version": version,
        "upstream": upstream,
        "documents": documents,
        "mean_score": sum(o.score_sum for o in outcomes) / documents if documents else 0.0,
        "model_hash": model["model_hash"],
        "seconds": time.perf_counter() - started,
        "docs_per_second_per_worker": documents / scoring if scoring else 0.0,
    }
