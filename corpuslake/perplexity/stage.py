"""The perplexity stage: one row per scored document of a dump with its language model perplexity and
its CCNet bucket (head / middle / tail) for its language; languages without a model get nulls."""

import multiprocessing
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake import __version__
from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers
from corpuslake.perplexity.model import Model, ModelSpec, build, facts, load
from corpuslake.runner import JOB_ROWS, Sink, StageReport, partition_output, run_stage
from corpuslake.store import Lake

STAGE_VERSION = "1"
SOURCE = "scored"
INPUT_COLUMNS = ("id", "dump", "text", "language")
REFERENCES = Path(__file__).resolve().parent.parent.parent / "samples" / "perplexity"
Note = Callable[[int, Any], None]

PERPLEXITY = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("perplexity", pa.float64()),  # null: no model for the language, or no tokens
        pa.field("perplexity_bucket", pa.string()),  # head | middle | tail, by the model's cutoffs
    ]
)


@dataclass(frozen=True)
class PerplexityConfig:
    """Which reference models score which languages, and where the estimated models are kept."""

    references: str = str(REFERENCES)
    """Folder of reference files, ``<language>.jsonl.gz`` (English prose by default)."""
    languages: tuple[str, ...] = ("en",)
    """Languages that get a model; their reference file must exist. Others get null perplexity."""
    order: int = 3
    """Words per n-gram at the highest order."""
    discount: float = 0.75
    """The absolute discount of interpolated Kneser-Ney."""
    dev_share: int = 10
    """One reference source in this many is held out of training and sets the bucket cutoffs."""
    model_dir: str = ""
    """Where estimated models are cached by identity; empty means ``corpuslake-perplexity`` in the
    system's temporary folder. Each machine estimates a model once (seconds) if it has no copy."""
    batch_rows: int = 1_000
    """Documents per batch."""

    def specs(self) -> list[ModelSpec]:
        return [
            ModelSpec(lang, str(Path(self.references) / f"{lang}.jsonl.gz"), self.order, self.discount, self.dev_share)
            for lang in self.languages
        ]

    def folder(self) -> Path:
        return Path(self.model_dir) if self.model_dir else Path(tempfile.gettempdir()) / "corpuslake-perplexity"


_MODELS: tuple[PerplexityConfig, dict[str, Model]] | None = None  # the loaded models of this process


def models(config: PerplexityConfig) -> dict[str, Model]:
    """The models of ``config`` by language, loaded once per process."""
    global _MODELS
    if _MODELS is None or _MODELS[0] != config:
        _MODELS = (config, {spec.language: load(spec, config.folder()) for spec in config.specs()})
    return _MODELS[1]


def built(config: PerplexityConfig) -> dict[str, dict[str, Any]]:
    """The stored facts of each language's model, estimating the missing ones first in a child process:
    the estimate's n-gram dictionaries (hundreds of MiB) never inflate the driver, and the workers on this
    machine find the models built."""
    specs, folder = config.specs(), config.folder()
    missing = [spec for spec in specs if not (folder / spec.key() / "model.json").is_file()]
    if missing:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(build, missing, [folder] * len(missing)))
    return {spec.language: facts(folder / spec.key()) for spec in specs}


def perplexity_batch(docs: pa.Table, config: PerplexityConfig, sink: Sink) -> None:
    """Perplexity and bucket of every document of one batch."""
    by_language = models(config)
    ids, dumps, texts, languages = (docs.column(name).to_pylist() for name in INPUT_COLUMNS)
    values: list[float | None] = []
    buckets: list[str | None] = []
    for doc_id, text, language in zip(ids, texts, languages, strict=True):
        model = by_language.get(language)
        value = model.perplexity(text) if model is not None else None
        bucket = model.bucket(value) if model is not None else None
        values.append(value)
        buckets.append(bucket)
        if bucket is None:
            sink.count("bucket.none")
        else:
            sink.example(f"bucket.{bucket}", doc_id)  # counts it too
    sink.count("documents", docs.num_rows)
    columns = {"id": ids, "dump": dumps, "language": languages, "perplexity": values, "perplexity_bucket": buckets}
    sink.write("perplexity", pa.table(columns, schema=PERPLEXITY))


def perplexity_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    config: PerplexityConfig,
    workers: Workers,
    code_version: str,
    note: Note | None = None,
) -> StageReport:
    """Write the perplexity of every scored document of ``dump``; the models' identities go into lineage."""
    check_name(dump, "dump")
    version = lake.partition_version(SOURCE, dump)
    identities = {lang: {k: v for k, v in info.items() if k != "reference"} for lang, info in built(config).items()}
    lineage_config = plain(config) | {"models": identities}
    upstream = (TableVersion(SOURCE, version),)
    lineage = Lineage("perplexity", dump, run_id, code_version, lineage_config, upstream)
    run = run_stage(
        lake,
        perplexity_batch,
        config,
        lake.row_groups(SOURCE, version, dump),
        outputs=[partition_output("perplexity", "perplexity", PERPLEXITY, dump)],
        lineage=lineage,
        workers=workers,
        columns=INPUT_COLUMNS,
        batch_rows=config.batch_rows,
        job_rows=JOB_ROWS,
        note=note,
    )
    return run.report("perplexity", upstream, {"models": identities})


def score_perplexity(
    lake: Lake, dump: str, run_id: str, config: PerplexityConfig, workers: Workers, note: Note | None = None
) -> StageReport:
    """:func:`perplexity_dump` under this release's code version: what the asset and the CLI call."""
    return perplexity_dump(lake, dump, run_id, config, workers, f"corpuslake-{__version__}/stage-{STAGE_VERSION}", note)
