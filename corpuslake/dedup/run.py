"""Running the dedup stage for one dump: hash in workers, cluster in DuckDB, rewrite in workers, commit.

1. One hashing job per row group of the filtered partition writes its documents' keys to Parquet.
2. One fresh process (:mod:`corpuslake.fresh`; in the driver itself with ``workers <= 1``)
   clusters with DuckDB (:mod:`corpuslake.dedup.clusters`) over those files and, in incremental scope,
   the earlier dumps' rows of the ``minhash_index`` table; DuckDB writes each batch's decisions to a
   folder of its own. That process's memory is its imports plus DuckDB's limit (``cluster_memory``, plus
   DuckDB's own overhead), whatever the dump, and it gives all of it back when it exits: the driver only
   waits. A verified incremental run also streams the earlier dumps' kept texts, batch by batch, to find
   the matched ones, and hashes them with a pool of the cluster process's own.
3. With paragraph dedup, one sequential job runs the Bloom filter over the kept documents' paragraph keys.
4. One rewriting job per row group writes its kept rows, rejections and band-index rows into the three
   tables' folders; the driver commits them with add actions (both passes run on
   :func:`corpuslake.runner.run_stage`, whose workers read their own row groups).

Three commits carry the same lineage: the rejections of the dump's duplicates, the dump's rows of the
band index, and the kept documents. The index and the kept rows are written last, so an incremental
run of a later dump never sees an index without the documents it points to.

Earlier dumps' index files: DuckDB reads a local lake's files by path. On an object store (s3://,
lakefs://) DuckDB would need its httpfs extension, which is never loaded: the index rows are streamed
through Arrow's own filesystem into DuckDB as a record batch reader instead of being copied to the
staging folder first, because DuckDB reads them once, in one pass that keeps only the rows sharing a
key with the dump, and the index of all earlier dumps (15 rows per kept document) is the largest input
of the step: streaming costs no staging space and no second write of it.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from corpuslake.dedup import clusters
from corpuslake.dedup.paragraphs import ParagraphJob, paragraph_pass
from corpuslake.dedup.rewrite import RewriteSettings, rewrite_rows
from corpuslake.fresh import peak_rss, run_apart
from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers, default_workers, run_jobs
from corpuslake.runner import partition_output, run_stage
from corpuslake.schemas import DEDUPLICATED, MINHASH_INDEX, REJECTIONS
from corpuslake.stages import deduplicated as stage
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.store import Lake

Note = Callable[[int, Any], None]


def earlier_index(con: duckdb.DuckDBPyConnection, lake: Lake, version: int, dump: str) -> None:
    """Make the earlier dumps' rows of ``minhash_index`` at ``version`` readable as ``earlier_index``."""
    if not lake.is_local:
        dataset = lake.dataset("minhash_index", version)
        columns = ["dump", "band", "key", "id", "text_chars"]
        reader = dataset.scanner(columns=columns, filter=pads.field("dump") < dump).to_reader()
        con.register("earlier_index", reader)
        return
    base = lake.table_uri("minhash_index").removeprefix("file://")
    files = [(f"{base}/{f['path']}", f["partition.dump"]) for f in lake.files("minhash_index", version)]
    files = [(path, part) for path, part in files if part < dump]
    if not files:
        _empty_index(con)
        return
    # a partition column lives in the file's path, not in the file: each file's dump comes from its add action
    con.register("index_files", pa.table({"filename": [p for p, _ in files], "dump": [d for _, d in files]}))
    con.read_parquet([p for p, _ in files], filename=True).create_view("index_parts")
    con.execute(
        "CREATE VIEW earlier_index AS SELECT f.dump, p.band, p.key, p.id, p.text_chars FROM index_parts p "
        "JOIN index_files f USING (filename)"
    )


def _empty_index(con: duckdb.DuckDBPyConnection) -> None:
    con.register("earlier_index", MINHASH_INDEX.empty_table())


def earlier_shingles(
    con: duckdb.DuckDBPyConnection, lake: Lake, dedup_version: int, dump: str, config: DedupConfig, staging: str
) -> Iterator[stage.ShingleJob]:
    """Jobs hashing the texts of the matched earlier documents, read from ``deduplicated`` batch by batch."""
    scanner = lake.dataset("deduplicated", dedup_version).scanner(
        columns=["id", "text"], filter=pads.field("dump") < dump, batch_size=config.batch_rows
    )
    for seq, batch in enumerate(scanner.to_batches()):
        con.register("text_batch", batch)
        wanted = con.sql("SELECT id, text FROM text_batch SEMI JOIN earlier USING (id)").to_arrow_table()
        con.unregister("text_batch")
        if wanted is not None and wanted.num_rows:
            yield stage.ShingleJob(seq, wanted, staging, config)


def cluster(
    lake: Lake,
    dump: str,
    hash_files: list[str],
    config: DedupConfig,
    staging: Path,
    workers: Workers,
    earlier: tuple[int, int | None] | None,
) -> tuple[int, dict[int, int]]:
    """Decide every document of the dump into ``staging/decisions``; return the number of earlier
    documents matched and the clusters by size. ``earlier``: the index and deduplicated versions."""
    with clusters.connect(staging, config.cluster_memory) as con:
        clusters.load_dump(con, hash_files, dump, config.verify)
        if earlier:
            earlier_index(con, lake, earlier[0], dump)
        else:
            _empty_index(con)
        matched = clusters.load_earlier(con, dump)
        if config.verify and matched and earlier and earlier[1] is not None:
            jobs = earlier_shingles(con, lake, earlier[1], dump, config, str(staging))
            clusters.load_earlier_shingles(con, list(run_jobs(stage.shingle_batch, jobs, workers)))
        elif config.verify:
            clusters.load_earlier_shingles(con, [])
        sizes = clusters.decide_all(con, config, staging / "decisions", earlier_matched=matched > 0)
    return matched, sizes


@dataclass(frozen=True)
class ClusterJob:
    """What the cluster step needs, sent to the process it runs in (see :func:`cluster`)."""

    lake: Lake
    dump: str
    hash_files: tuple[str, ...]
    config: DedupConfig
    staging: str
    workers: int  # the verified incremental run's hashing pool, started by the cluster process
    earlier: tuple[int, int | None] | None


@dataclass(frozen=True)
class ClusterOutcome:
    matched: int
    sizes: dict[int, int]
    peak_rss: int  # bytes: the cluster process's high-water mark


def cluster_job(job: ClusterJob) -> ClusterOutcome:
    """Run the cluster step; its result and the peak resident set of the process that ran it."""
    staging = Path(job.staging)
    matched, sizes = cluster(job.lake, job.dump, list(job.hash_files), job.config, staging, job.workers, job.earlier)
    return ClusterOutcome(matched, sizes, peak_rss())


def cluster_elsewhere(job: ClusterJob, workers: Workers) -> ClusterOutcome:
    """The cluster step in a fresh process, or in this one when ``workers <= 1`` (tests, debugging)."""
    return run_apart(cluster_job, job, workers)


def deduplicate_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    config: DedupConfig,
    workers: Workers,
    code_version: str,
    note: Note | None = None,
) -> dict[str, Any]:
    """Deduplicate ``dump``'s filtered documents; return versions, counters and figures for the report."""
    started = time.perf_counter()
    check_name(dump, "dump")
    if config.scope not in ("per_dump", "incremental"):
        raise ValueError(f"scope must be per_dump or incremental, not {config.scope!r}")
    clusters.check_policy(config.keep)
    filtered_version = lake.partition_version("filtered", dump)
    upstream = [TableVersion("filtered", filtered_version)]
    earlier: tuple[int, int | None] | None = None
    if config.scope == "incremental" and (index_version := lake.version("minhash_index")) is not None:
        dedup_version = lake.version("deduplicated")
        upstream.append(TableVersion("minhash_index", index_version))
        if dedup_version is not None:
            upstream.append(TableVersion("deduplicated", dedup_version))
        earlier = (index_version, dedup_version)
    lineage = Lineage("deduplicated", dump, run_id, code_version, plain(config), tuple(upstream))
    figures: dict[str, float] = {}
    groups = lake.row_groups("filtered", filtered_version, dump)
    # One call of the stage function per row group: the hash file, the decisions and the rewrite of a
    # row group share its job number. The runner writes the filtered table's row groups of batch_rows.
    whole = max([config.batch_rows, *(g.rows for g in groups)])
    stage.warm_up(config)
    with lake.staging() as staging:
        hashed = run_stage(
            lake,
            stage.hash_rows,
            stage.HashSettings(config, str(staging)),
            groups,
            outputs=[],
            lineage=lineage,
            workers=workers,
            columns=["id", "text"],
            batch_rows=whole,
            note=note,
        )
        figures["hashing_seconds"] = time.perf_counter() - started
        hash_files = [stage.hash_path(str(staging), seq) for seq in range(hashed.jobs)]
        # a Ray cluster's workers cannot join a local process's pool: the cluster process uses this machine's cores
        local = workers if isinstance(workers, int) else default_workers()
        plan = ClusterJob(lake, dump, tuple(hash_files), config, str(staging), local, earlier)
        clustered = cluster_elsewhere(plan, workers)
        matched, sizes = clustered.matched, clustered.sizes
        figures["cluster_seconds"] = time.perf_counter() - started - figures["hashing_seconds"]
        figures["cluster_peak_rss_mib"] = clustered.peak_rss / 2**20
        paragraphs: tuple[str, ...] | None = None
        if config.paragraphs:
            decisions = tuple(str(staging / "decisions" / f"seq={seq}") for seq in range(hashed.jobs))
            job = ParagraphJob(
                tuple(hash_files),
                decisions,
                str(staging),
                config.paragraph_capacity,
                config.paragraph_fp_rate,
            )
            (outcome,) = run_jobs(paragraph_pass, [job], workers)
            paragraphs = outcome.parts
            figures["paragraph_bloom_bits"] = float(outcome.bloom_bits)
            figures["paragraph_bloom_bits_per_item"] = outcome.bloom_bits / config.paragraph_capacity
        written = run_stage(
            lake,
            rewrite_rows,
            RewriteSettings(dump, str(staging), paragraphs),
            groups,
            outputs=[
                partition_output("rejections", "rejections", REJECTIONS, dump, stage.STAGE),
                partition_output("index", "minhash_index", MINHASH_INDEX, dump),
                partition_output("kept", "deduplicated", DEDUPLICATED, dump),
            ],
            lineage=lineage,
            workers=workers,
            batch_rows=whole,
            note=note,
        )
    counters: Counter[str] = Counter(written.counters)
    counters["documents"] = hashed.counters["documents"]
    removed = sum(n for name, n in counters.items() if name.startswith("removed."))
    counters["kept"] = counters["documents"] - removed
    counters["earlier_documents_matched"] = matched
    figures["seconds"] = time.perf_counter() - started
    return {
        "version": written.versions["kept"],
        "upstream": tuple(upstream),
        "index_version": written.versions["index"],
        "rejections_version": written.versions["rejections"],
        "places": dict(hashed.places + written.places),
        "counters": dict(counters),
        "clusters_by_size": sizes,
        "figures": figures,
    }
