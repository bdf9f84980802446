"""Stage runners: read the inputs, run a stage over them, commit one partition, report.

These are what the Dagster assets call (one call per asset) and what tests call directly. Each returns a
:class:`StageReport` with the new table version and the counters the UI and the CLI show.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake import __version__
from corpuslake import landing as landing_zone
from corpuslake.dedup.run import deduplicate_dump
from corpuslake.filters import url as url_filter
from corpuslake.filters.chain import FilterConfig
from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers, run_jobs
from corpuslake.policies import run as policy_run
from corpuslake.policies.run import PolicyConfig
from corpuslake.quality import run as quality_run
from corpuslake.quality.model import ModelConfig
from corpuslake.quality.training import TrainingSetConfig
from corpuslake.runner import JOB_ROWS, StageReport, partition_output, run_stage
from corpuslake.schemas import CRAWL_FILES, DOCUMENTS, FILTERED, REJECTIONS
from corpuslake.stages import crawl_files as crawl_stage
from corpuslake.stages import deduplicated as dedup_stage
from corpuslake.stages import documents as doc_stage
from corpuslake.stages import filtered as filter_stage
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.store import Lake

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def ingest_crawl_files(
    lake: Lake, landing: Path | str, dump: str, run_id: str, workers: Workers, progress: Progress | None = None
) -> StageReport:
    """Inventory and scan every file of ``dump`` in the landing zone into the crawl_files table."""
    started = time.perf_counter()
    files = landing_zone.list_dump_files(str(landing), dump)
    jobs = [crawl_stage.ScanJob(dump, location, relative) for location, relative in files]
    note = _progress_printer("crawl_files", dump, len(jobs), progress)
    rows = sorted(run_jobs(crawl_stage.scan_file, jobs, workers, note), key=lambda r: r["source_file"])
    table = pa.Table.from_pylist(rows, schema=CRAWL_FILES)
    lineage = Lineage("crawl_files", dump, run_id, _code_version(crawl_stage.STAGE_VERSION), {"landing": str(landing)})
    version = lake.write_partition("crawl_files", table, lineage, {"dump": dump})
    counters: Counter[str] = Counter()
    for row in rows:
        counters["files"] += 1
        counters[f"format.{row['format']}"] += 1
        counters["records"] += row["records"]
        counters["response_records"] += row["response_records"]
        counters["damaged_regions"] += row["damaged_regions"]
        counters["bytes"] += row["size"]
    problems = [row["error"] for row in rows if row["error"]]
    elapsed = time.perf_counter() - started
    return StageReport("crawl_files", version, len(rows), (), dict(counters), seconds=elapsed, problems=problems)


def extract_documents(
    lake: Lake,
    dump: str,
    run_id: str,
    config: doc_stage.DocumentsConfig,
    workers: Workers,
    progress: Progress | None = None,
) -> StageReport:
    """Extract and language-tag the HTML records of ``dump``'s WARC files into ``documents``.

    Reads the crawl_files rows of the dump at the table's current version (recorded in lineage);
    files rejected by the inventory are not read. Rejected records go to ``rejections``.
    """
    started = time.perf_counter()
    check_name(dump, "dump")
    files_version = lake.version("crawl_files")
    if files_version is None:
        raise LookupError("crawl_files does not exist yet: materialize crawl_files for this dump first")
    inventory = lake.read("crawl_files", files_version, dumps=[dump]).to_pylist()
    if not inventory:
        raise LookupError(f"crawl_files@v{files_version} has no files for dump {dump!r}")
    upstream = (TableVersion("crawl_files", files_version),)
    readable = [row for row in inventory if row["error"] is None and row["format"] != "empty"]
    lineage = Lineage("documents", dump, run_id, _code_version(doc_stage.STAGE_VERSION), plain(config), upstream)
    run = run_stage(
        lake,
        doc_stage.extract_file,
        config,
        [doc_stage.FileJob(dump, r["path"], r["source_file"], config) for r in readable],
        outputs=[
            partition_output("rejections", "rejections", REJECTIONS, dump, doc_stage.STAGE),
            partition_output("documents", "documents", DOCUMENTS, dump),
        ],
        lineage=lineage,
        workers=workers,
        batch_rows=config.batch_rows,
        note=_progress_printer("documents", dump, len(readable), progress),
    )
    counters = Counter(run.counters)
    counters["files_skipped"] = len(inventory) - len(readable)
    return StageReport(
        "documents",
        run.versions["documents"],
        counters["documents"],
        upstream,
        dict(counters),
        {"rejections": run.versions["rejections"]},
        time.perf_counter() - started,
        places=dict(run.places),
    )


def filter_documents(
    lake: Lake,
    dump: str,
    run_id: str,
    config: FilterConfig,
    workers: Workers,
    progress: Progress | None = None,
    batch_rows: int = 1_000,
) -> StageReport:
    """Score every document of ``dump`` with the filter chain into ``filtered`` (kept) and ``rejections``.

    Workers read the documents partition at the table's current version (recorded in lineage) one row
    group at a time, in batches of at most ``batch_rows``.
    """
    check_name(dump, "dump")
    docs_version = lake.partition_version("documents", dump)
    upstream = (TableVersion("documents", docs_version),)
    cache = lake.cache_dir()
    url_filter.prepare(config.url, cache)  # compile the lists once here, not in every worker
    lineage = Lineage("filtered", dump, run_id, _code_version(filter_stage.STAGE_VERSION), plain(config), upstream)
    run = run_stage(
        lake,
        filter_stage.filter_batch,
        filter_stage.FilterSettings(config, str(cache)),
        lake.row_groups("documents", docs_version, dump),
        outputs=[
            partition_output("rejections", "rejections", REJECTIONS, dump, filter_stage.STAGE),
            partition_output("kept", "filtered", FILTERED, dump),
        ],
        lineage=lineage,
        workers=workers,
        batch_rows=batch_rows,
        job_rows=JOB_ROWS,
        note=_progress_printer("filtered", dump, 0, progress),
    )
    return StageReport(
        "filtered",
        run.versions["kept"],
        run.rows["kept"],
        upstream,
        dict(run.counters),
        {"rejections": run.versions["rejections"]},
        run.seconds,
        places=dict(run.places),
    )


def deduplicate(
    lake: Lake,
    dump: str,
    run_id: str,
    config: DedupConfig,
    workers: Workers,
    progress: Progress | None = None,
) -> StageReport:
    """Remove exact and near-duplicates from ``dump``'s filtered documents into ``deduplicated``.

    Dropped documents go to ``rejections`` (stage ``deduplicated``) with the id they duplicate; the
    kept documents' band keys go to ``minhash_index`` for incremental dedup of later dumps.
    """
    note = _progress_printer("deduplicated", dump, 0, progress)
    result = deduplicate_dump(lake, dump, run_id, config, workers, _code_version(dedup_stage.STAGE_VERSION), note)
    counters = dict(result["counters"])
    counters.update({f"clusters_of_size.{size}": n for size, n in result["clusters_by_size"].items()})
    if "paragraph_bloom_bits" in result["figures"]:
        counters["paragraph_bloom_bits"] = int(result["figures"]["paragraph_bloom_bits"])
    return StageReport(
        "deduplicated",
        result["version"],
        counters["kept"],
        result["upstream"],
        counters,
        {"rejections": result["rejections_version"], "minhash_index": result["index_version"]},
        result["figures"]["seconds"],
        places=result["places"],
    )


def build_quality_training_set(lake: Lake, run_id: str, config: TrainingSetConfig) -> StageReport:
    """Build the quality classifier's labelled, balanced, split training set into ``quality_training_set``."""
    started = time.perf_counter()
    version, counts = quality_run.write_training_set(lake, run_id, config, _code_version("1"))
    return StageReport(
        "quality_training_set", version, sum(counts.values()), (), counts, seconds=time.perf_counter() - started
    )


def train_quality_model(lake: Lake, run_id: str, config: ModelConfig) -> StageReport:
    """Train the fastText quality classifier on the current training set and register it."""
    started = time.perf_counter()
    version, digest, evaluation = quality_run.train_model(lake, run_id, config, _code_version("1"))
    upstream = lake.lineage("quality_models", version).upstream
    report = StageReport(
        "quality_models", version, 1, upstream, {"heldout": evaluation.heldout}, seconds=time.perf_counter() - started
    )
    report.extra = {
        "model_hash": digest,
        "precision": evaluation.precision,
        "recall": evaluation.recall,
        "auc": evaluation.auc,
    }
    return report


def score_documents(
    lake: Lake, dump: str, run_id: str, workers: Workers, progress: Progress | None = None
) -> StageReport:
    """Give every deduplicated document of ``dump`` a quality score (P(hq)) into ``scored``."""
    note = _progress_printer("scored", dump, 0, progress)
    return quality_run.score_dump(lake, dump, run_id, workers, _code_version("1"), note)


def tag_content(
    lake: Lake, dump: str, run_id: str, config: PolicyConfig, workers: Workers, progress: Progress | None = None
) -> StageReport:
    """Count PII, bad words and benchmark overlaps of ``dump``'s filtered documents into ``content_signals``."""
    note = _progress_printer("content_signals", dump, 0, progress)
    return policy_run.signal_dump(lake, dump, run_id, config, workers, _code_version(policy_run.STAGE_VERSION), note)


def _code_version(stage_version: str) -> str:
    return f"corpuslake-{__version__}/stage-{stage_version}"


def _progress_printer(stage: str, dump: str, total: int, progress: Progress | None) -> Callable[[int, Any], None]:
    started = time.perf_counter()

    def note(done: int, result: Any) -> None:
        elapsed = time.perf_counter() - started
        name = result["source_file"] if isinstance(result, dict) else getattr(result, "source_file", "")
        of_total = f"{done}/{total} files" if total else f"{done} done"
        message = f"{stage} [{dump}] {of_total} ({elapsed:.1f}s): {name}"
        if progress:
            progress(message)
        else:
            log.info(message)

    return note
