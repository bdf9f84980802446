"""Running the dedup stage for one dump: hash in workers, cluster in DuckDB, rewrite in workers, commit.

1. One hashing job per batch of the filtered partition writes its documents' keys to Parquet.
2. The driver clusters with DuckDB (:mod:`corpuslake.dedup.clusters`) over those files and, in
   incremental scope, the earlier dumps' rows of the ``minhash_index`` table; DuckDB writes each batch's
   decisions to a folder of its own. The driver's memory is DuckDB's limit (``cluster_memory``, plus
   DuckDB's own overhead) and the batches it feeds to the jobs, whatever the dump. A verified
   incremental run also streams the earlier dumps' kept texts, batch by batch, to find the matched ones.
3. With paragraph dedup, one sequential job runs the Bloom filter over the kept documents' paragraph keys.
4. One rewriting job per batch writes the batch's kept rows, rejections and band-index rows.

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
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from corpuslake.dedup import clusters
from corpuslake.dedup.paragraphs import ParagraphJob, paragraph_pass
from corpuslake.dedup.rewrite import RewriteJob, RewriteOutcome, rewrite_batch
from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers, run_jobs
from corpuslake.schemas import DEDUPLICATED, MINHASH_INDEX, REJECTIONS
from corpuslake.stages import deduplicated as stage
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.store import Lake, parquet_parts_reader

Note = Callable[[int, Any], None]


def hash_jobs(
    lake: Lake, filtered_version: int, dump: str, config: DedupConfig, staging: str
) -> Iterator[stage.HashJob]:
    batches = lake.partition_batches("filtered", filtered_version, dump, config.batch_rows, ["id", "text"])
    for seq, batch in enumerate(batches):
        yield stage.HashJob(seq, batch, staging, config)


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
    hashed: list[stage.HashOutcome],
    config: DedupConfig,
    staging: Path,
    workers: Workers,
    earlier: tuple[int, int | None] | None,
) -> tuple[int, dict[int, int]]:
    """Decide every document of the dump into ``staging/decisions``; return the number of earlier
    documents matched and the clusters by size. ``earlier``: the index and deduplicated versions."""
    with clusters.connect(staging, config.cluster_memory) as con:
        clusters.load_dump(con, [o.path for o in hashed], dump, config.verify)
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


def rewrite_jobs(
    lake: Lake, filtered_version: int, dump: str, config: DedupConfig, staging: Path, paragraphs: tuple[str, ...]
) -> Iterator[RewriteJob]:
    batches = lake.partition_batches("filtered", filtered_version, dump, config.batch_rows)
    for seq, batch in enumerate(batches):
        yield RewriteJob(
            seq=seq,
            dump=dump,
            rows=batch,
            decisions=str(staging / "decisions" / f"seq={seq}"),
            hashes=stage.hash_path(str(staging), seq),
            paragraphs=paragraphs[seq] if paragraphs else None,
            staging=str(staging),
        )


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
    with lake.staging() as staging:
        jobs = hash_jobs(lake, filtered_version, dump, config, str(staging))
        hashed = sorted(run_jobs(stage.hash_batch, jobs, workers, note), key=lambda o: o.seq)
        figures["hashing_seconds"] = time.perf_counter() - started
        matched, sizes = cluster(lake, dump, hashed, config, staging, workers, earlier)
        figures["cluster_seconds"] = time.perf_counter() - started - figures["hashing_seconds"]
        decisions = tuple(str(staging / "decisions" / f"seq={o.seq}") for o in hashed)
        paragraphs: tuple[str, ...] = ()
        if config.paragraphs:
            job = ParagraphJob(
                tuple(o.path for o in hashed),
                decisions,
                str(staging),
                config.paragraph_capacity,
                config.paragraph_fp_rate,
            )
            (outcome,) = run_jobs(paragraph_pass, [job], workers)
            paragraphs = outcome.parts
            figures["paragraph_bloom_bits"] = float(outcome.bloom_bits)
            figures["paragraph_bloom_bits_per_item"] = outcome.bloom_bits / config.paragraph_capacity
        rewrites = rewrite_jobs(lake, filtered_version, dump, config, staging, paragraphs)
        written = sorted(run_jobs(rewrite_batch, rewrites, workers, note), key=lambda o: o.seq)
        versions = _commit(lake, dump, written, lineage)
    counters: Counter[str] = Counter()
    for part in written:
        counters.update(part.counters)
    counters["documents"] = sum(o.documents for o in hashed)
    removed = sum(n for name, n in counters.items() if name.startswith("removed."))
    counters["kept"] = counters["documents"] - removed
    counters["earlier_documents_matched"] = matched
    figures["seconds"] = time.perf_counter() - started
    return {
        "version": versions[2],
        "upstream": tuple(upstream),
        "index_version": versions[1],
        "rejections_version": versions[0],
        "counters": dict(counters),
        "clusters_by_size": sizes,
        "figures": figures,
    }


def _commit(lake: Lake, dump: str, written: list[RewriteOutcome], lineage: Lineage) -> tuple[int, int, int]:
    """Commit rejections, then the index rows, then the kept rows; return the three versions."""
    rejected = [o.rejection_part for o in written if o.rejection_part]
    indexed = [o.index_part for o in written if o.index_part]
    kept = [o.kept_part for o in written if o.kept_part]
    rejections = lake.write_partition(
        "rejections", parquet_parts_reader(rejected, REJECTIONS), lineage, {"dump": dump, "stage": stage.STAGE}
    )
    index = lake.write_partition("minhash_index", parquet_parts_reader(indexed, MINHASH_INDEX), lineage, {"dump": dump})
    version = lake.write_partition("deduplicated", parquet_parts_reader(kept, DEDUPLICATED), lineage, {"dump": dump})
    return rejections, index, version
