"""The content_signals stage: PII counts, bad-word rates and benchmark overlaps of every filtered
document of a dump, one row per document (score first: selections decide what to drop or redact)."""

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers, run_jobs
from corpuslake.policies import badwords, pii
from corpuslake.policies.contamination import EVAL_SETS, EvalIndex, words
from corpuslake.store import Lake, parquet_parts_reader

STAGE_VERSION = "1"
Note = Callable[[int, Any], None]

CONTENT_SIGNALS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("pii_emails", pa.int32(), nullable=False),
        pa.field("pii_ips", pa.int32(), nullable=False),
        pa.field("pii_phones", pa.int32(), nullable=False),
        pa.field("pii_cards", pa.int32(), nullable=False),
        pa.field("badword_list", pa.string()),  # the language list used; null when none exists
        pa.field("badword_matches", pa.int32(), nullable=False),
        pa.field("badword_rate", pa.float32(), nullable=False),  # matches per word
        pa.field("adult_url", pa.bool_(), nullable=False),  # the URL filter's blocklist matched
        pa.field("contaminated", pa.list_(pa.string()), nullable=False),  # benchmarks overlapped
        pa.field("contamination_ngrams", pa.int32(), nullable=False),  # shared n-grams, all benchmarks
        pa.field("contamination", pa.string(), nullable=False),  # JSON {benchmark: shared n-grams}
    ]
)


@dataclass(frozen=True)
class PolicyConfig:
    """Where the policy inputs are and how overlaps are measured."""

    eval_sets: str = str(EVAL_SETS)
    """Folder of evaluation sets (<benchmark>.jsonl[.gz] with a text field, or <benchmark>.txt);
    the default holds HumanEval's 164 problems."""
    ngram: int = 13
    """Words per n-gram for contamination (GPT-3 and Dolma use 13)."""
    min_shared_ngrams: int = 1
    """A document shares at least this many n-grams with a benchmark to be flagged for it."""
    badword_lists: str = str(badwords.LISTS)
    """Folder of <language>.txt bad-word lists (LDNOOBW, 28 languages, by default)."""
    toxicity_levels: tuple[float, ...] = (0.001, 0.01, 0.05)
    """Bad-word rates reported in the metadata (documents at or above each); selections pick their own."""
    batch_rows: int = 1_000
    """Documents per job."""


@dataclass(frozen=True)
class SignalJob:
    seq: int
    documents: pa.Table
    config: PolicyConfig
    staging_dir: str


@dataclass
class SignalOutcome:
    seq: int
    part: str
    counters: Counter[str]
    examples: dict[str, list[str]]
    seconds: float

    @property
    def source_file(self) -> str:
        return f"batch {self.seq}"


_INDEX: tuple[tuple[str, int], EvalIndex] | None = None  # one loaded index per worker process


def _index(config: PolicyConfig) -> EvalIndex:
    global _INDEX
    key = (config.eval_sets, config.ngram)
    if _INDEX is None or _INDEX[0] != key:
        _INDEX = (key, EvalIndex.load(Path(config.eval_sets), config.ngram))
    return _INDEX[1]


def signal_batch(job: SignalJob) -> SignalOutcome:
    started = time.perf_counter()
    index = _index(job.config)
    docs = job.documents
    columns = {name: docs.column(name).to_pylist() for name in ("id", "dump", "text", "language", "url_blocklisted")}
    rows: list[dict[str, Any]] = []
    counters: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)

    def note(key: str, doc_id: str) -> None:
        counters[key] += 1
        if len(examples[key]) < 5:
            examples[key].append(doc_id)

    for doc_id, dump, text, language, blocked in zip(*columns.values(), strict=True):
        found = pii.find(text)
        lowered = text.lower()
        tokens = words(lowered)  # one split for the bad words and the n-grams
        bad = badwords.count_words(lowered, tokens, language, job.config.badword_lists)
        shared = index.overlaps_words(tokens)
        overlaps = {b: n for b, n in shared.items() if n >= job.config.min_shared_ngrams}
        rows.append(
            {
                "id": doc_id,
                "dump": dump,
                "pii_emails": found.emails,
                "pii_ips": found.ips,
                "pii_phones": found.phones,
                "pii_cards": found.cards,
                "badword_list": bad.language,
                "badword_matches": bad.matches,
                "badword_rate": bad.rate,
                "adult_url": blocked is not None,
                "contaminated": sorted(overlaps),
                "contamination_ngrams": sum(overlaps.values()),
                "contamination": json.dumps(overlaps, sort_keys=True),
            }
        )
        counters["documents"] += 1
        for kind in ("emails", "ips", "phones", "cards"):
            if getattr(found, kind):
                note(f"pii.{kind}", doc_id)
        if found.any:
            note("pii.any", doc_id)
        for level in job.config.toxicity_levels:
            if bad.rate >= level and bad.matches:
                note(f"badword_rate>={level}", doc_id)
        if blocked is not None:
            note("adult_url", doc_id)
        for benchmark in overlaps:
            note(f"contaminated.{benchmark}", doc_id)
    part = f"{job.staging_dir}/content_signals.{job.seq:06d}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=CONTENT_SIGNALS), part)
    return SignalOutcome(job.seq, part, counters, dict(examples), time.perf_counter() - started)


def signal_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    config: PolicyConfig,
    workers: Workers,
    code_version: str,
    note: Note | None = None,
) -> dict[str, Any]:
    """Write the content signals of ``dump``'s filtered documents; return version, counters, examples."""
    started = time.perf_counter()
    check_name(dump, "dump")
    version = lake.partition_version("filtered", dump)
    index = EvalIndex.load(Path(config.eval_sets), config.ngram)  # fail early, in the caller, on a bad folder
    inputs = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(config.eval_sets).iterdir())
        if p.is_file()
    }
    lineage_config = plain(config) | {"eval_set_sha256": inputs, "benchmarks": index.examples}
    upstream = (TableVersion("filtered", version),)
    lineage = Lineage("content_signals", dump, run_id, code_version, lineage_config, upstream)
    columns = ["id", "dump", "text", "language", "url_blocklisted"]
    with lake.staging() as staging:
        jobs = (
            SignalJob(seq, batch, config, str(staging))
            for seq, batch in enumerate(lake.partition_batches("filtered", version, dump, config.batch_rows, columns))
        )
        outcomes = sorted(run_jobs(signal_batch, jobs, workers, note), key=lambda o: o.seq)
        written = lake.write_partition(
            "content_signals",
            parquet_parts_reader([o.part for o in outcomes], CONTENT_SIGNALS),
            lineage,
            {"dump": dump},
        )
    counters: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for outcome in outcomes:
        counters.update(outcome.counters)
        for key, ids in outcome.examples.items():
            examples[key] = (examples[key] + ids)[:5]
    busy = sum(o.seconds for o in outcomes)
    return {
        "version": written,
        "upstream": upstream,
        "counters": dict(counters),
        "examples": dict(examples),
        "seconds": time.perf_counter() - started,
        "docs_per_second_per_worker": counters["documents"] / busy if busy else 0.0,
    }
