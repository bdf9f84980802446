"""The content_signals stage: PII counts, bad-word rates and benchmark overlaps of every filtered
document of a dump, one row per document (score first: selections decide what to drop or redact)."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers
from corpuslake.policies import badwords, pii, textscan
from corpuslake.policies.contamination import EVAL_SETS, EvalIndex
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
    """The content signals of one batch of filtered documents, one row each, with counts and example ids.

    The batch's texts are scanned once (:mod:`corpuslake.policies.textscan`): one split into words serves
    the bad words and the n-grams, one pass finds the texts where PII patterns may match."""
    index = _index(config)
    ids, dumps, texts, languages, blocked = (docs.column(name).to_pylist() for name in INPUT_COLUMNS)
    lowered = [text.lower() for text in texts]
    scanned = textscan.scan(lowered)
    found = [
        pii.find(text, (ip, phone, card)) for text, (ip, phone, card) in zip(texts, pii_flags(scanned), strict=True)
    ]
    bad = badwords.count_batch(scanned, lowered, languages, config.badword_lists)
    shared = index.counts(scanned)
    shared[shared < config.min_shared_ngrams] = 0
    overlaps = [{index.benchmarks[b]: int(row[b]) for b in np.flatnonzero(row).tolist()} for row in shared]
    columns = {
        "id": ids,
        "dump": dumps,
        "pii_emails": [f.emails for f in found],
        "pii_ips": [f.ips for f in found],
        "pii_phones": [f.phones for f in found],
        "pii_cards": [f.cards for f in found],
        "badword_list": [b.language for b in bad],
        "badword_matches": [b.matches for b in bad],
        "badword_rate": [b.rate for b in bad],
        "adult_url": [b is not None for b in blocked],
        "contaminated": [sorted(o) for o in overlaps],
        "contamination_ngrams": shared.sum(axis=1),
        "contamination": [json.dumps(o, sort_keys=True) if o else "{}" for o in overlaps],
    }
    _note(sink, config, ids, found, bad, blocked, overlaps)
    sink.count("documents", docs.num_rows)
    sink.write("signals", pa.table(columns, schema=CONTENT_SIGNALS))


def warm_up(index: EvalIndex) -> None:
    """Run every compiled loop once on a tiny batch: the first process to run them compiles and writes
    numba's cache, so the workers started next load it instead of each compiling the same loops."""
    lowered = ["warm up 8.8.8.8 555 0100 4111 1111 1111 1111"]
    scanned = textscan.scan(lowered)
    textscan.pii_candidates(scanned)
    index.counts(scanned)
    badwords.count_batch(scanned, lowered, ["en"])


def pii_flags(scanned: textscan.Scan) -> list[tuple[bool, bool, bool]]:
    return [(bool(ip), bool(phone), bool(card)) for ip, phone, card in textscan.pii_candidates(scanned).tolist()]


def _note(
    sink: Sink,
    config: PolicyConfig,
    ids: list[str],
    found: list[pii.PiiCounts],
    bad: list[badwords.BadWords],
    blocked: list[str | None],
    overlaps: list[dict[str, int]],
) -> None:
    """Count each signal and keep its first example ids, document by document in batch order."""
    note = sink.example
    for doc_id, pii_found, bad_words, url_blocked, shared in zip(ids, found, bad, blocked, overlaps, strict=True):
        if pii_found.any:
            for kind in ("emails", "ips", "phones", "cards"):
                if getattr(pii_found, kind):
                    note(f"pii.{kind}", doc_id)
            note("pii.any", doc_id)
        if bad_words.matches:
            for level in config.toxicity_levels:
                if bad_words.rate >= level:
                    note(f"badword_rate>={level}", doc_id)
        if url_blocked is not None:
            note("adult_url", doc_id)
        for benchmark in shared:
            note(f"contaminated.{benchmark}", doc_id)


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
    warm_up(index)
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
    return run.report("content_signals", upstream, {}, output="signals")
