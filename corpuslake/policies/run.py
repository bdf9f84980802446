"""The content_signals stage: PII counts, bad-word rates and benchmark overlaps of every filtered
document of a dump, one row per document (score first: selections decide what to drop or redact)."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers
from corpuslake.policies import badwords, pii
from corpuslake.policies.contamination import EVAL_SETS, EvalIndex, words
from corpuslake.runner import JOB_ROWS, Sink, StageReport, partition_output, run_stage
from corpuslake.store import Lake

STAGE_VERSION = "1"
INPUT_COLUMNS = ("id", "dump", "text", "language", "url_blocklisted")
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


_INDEX: tuple[tuple[str, int], EvalIndex] | None = None  # one loaded index per worker process


def _index(config: PolicyConfig) -> EvalIndex:
    global _INDEX
    key = (config.eval_sets, config.ngram)
    if _INDEX is None or _INDEX[0] != key:
        _INDEX = (key, EvalIndex.load(Path(config.eval_sets), config.ngram))
    return _INDEX[1]


def signal_batch(docs: pa.Table, config: PolicyConfig, sink: Sink) -> None:
    """The content signals of one batch of filtered documents, one row each, with counts and example ids."""
    index = _index(config)
    columns = {name: docs.column(name).to_pylist() for name in INPUT_COLUMNS}
    rows: list[dict[str, Any]] = []
    note = sink.example

    for doc_id, dump, text, language, blocked in zip(*columns.values(), strict=True):
        found = pii.find(text)
        lowered = text.lower()
        tokens = words(lowered)  # one split for the bad words and the n-grams
        bad = badwords.count_words(lowered, tokens, language, config.badword_lists)
        shared = index.overlaps_words(tokens)
        overlaps = {b: n for b, n in shared.items() if n >= config.min_shared_ngrams}
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
        for kind in ("emails", "ips", "phones", "cards"):
            if getattr(found, kind):
                note(f"pii.{kind}", doc_id)
        if found.any:
            note("pii.any", doc_id)
        for level in config.toxicity_levels:
            if bad.rate >= level and bad.matches:
                note(f"badword_rate>={level}", doc_id)
        if blocked is not None:
            note("adult_url", doc_id)
        for benchmark in overlaps:
            note(f"contaminated.{benchmark}", doc_id)
    sink.count("documents", docs.num_rows)
    sink.write("signals", pa.Table.from_pylist(rows, schema=CONTENT_SIGNALS))


def signal_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    config: PolicyConfig,
    workers: Workers,
    code_version: str,
    note: Note | None = None,
) -> StageReport:
    """Write the content signals of ``dump``'s filtered documents, with counters and example ids."""
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
    run = run_stage(
        lake,
        signal_batch,
        config,
        lake.row_groups("filtered", version, dump),
        outputs=[partition_output("signals", "content_signals", CONTENT_SIGNALS, dump)],
        lineage=lineage,
        workers=workers,
        columns=INPUT_COLUMNS,
        batch_rows=config.batch_rows,
        job_rows=JOB_ROWS,
        note=note,
    )
    documents = run.counters["documents"]
    return StageReport(
        "content_signals",
        run.versions["signals"],
        documents,
        upstream,
        dict(run.counters),
        seconds=run.seconds,
        places=dict(run.places),
        extra={
            "examples": run.examples,
            "docs_per_second_per_worker": documents / run.busy_seconds if run.busy_seconds else 0.0,
        },
    )
