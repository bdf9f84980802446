"""Speed of the content_signals stage: PII, bad words and benchmark overlaps per document.

Runs the stage's batch function in this process over a lake's documents (``--table filtered`` of any
lake, e.g. one written by ``corpuslake run`` on the scale benchmark input; ``documents`` of ``make demo``
works too), in batches of the stage's ``batch_rows``, after loading the evaluation index, and prints CPU
microseconds per document (CPU time of this process, which is what the run's workers spend):

- the stage's batch function, rows written to a scratch lake;
- its parts on the same batches: the compiled scan of the lowercased texts, the PII counts (pre-check
  flags from the scan, then the regexes where a flag is set), the bad-word counts, the n-gram overlaps;
- the implementation it replaced (tests/policies_reference.py: a regex split per text, a set lookup per
  word, three PII pre-check regexes per text, BLAKE2b per word) on ``--reference`` documents, and the ratio.

    python bench/policies_throughput.py --lake /tmp/lake-S [--table filtered] [--reference 5000]
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from corpuslake.policies import badwords, pii, textscan
from corpuslake.policies.contamination import EvalIndex
from corpuslake.policies.run import CONTENT_SIGNALS, INPUT_COLUMNS, PolicyConfig, signal_batch, warm_up
from corpuslake.runner import Sink, partition_output
from corpuslake.store import Lake
from tests import policies_reference as reference


def cpu_us(seconds: float, documents: int) -> str:
    return f"{seconds / documents * 1e6:9,.1f} us/doc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default="lake")
    parser.add_argument("--table", default="filtered")
    parser.add_argument("--reference", type=int, default=5_000, help="documents the old implementation runs on")
    args = parser.parse_args()
    lake = Lake(str(Path(args.lake).resolve()))
    if lake.version(args.table) is None:
        raise SystemExit(f"no {args.table} table in {args.lake}")
    columns = [c for c in INPUT_COLUMNS if c != "url_blocklisted"]
    docs = lake.read(args.table, columns=columns)
    if "url_blocklisted" not in docs.column_names:
        docs = docs.append_column("url_blocklisted", pa.nulls(docs.num_rows, pa.string()))
    docs = docs.select(list(INPUT_COLUMNS))
    config = PolicyConfig()
    n, texts = docs.num_rows, docs.column("text").to_pylist()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"input: {args.table} of {args.lake}, {n:,} documents, mean {sum(map(len, texts)) / n:,.0f} characters")
    index = EvalIndex.load(Path(config.eval_sets), config.ngram)
    warm_up(index)  # compiled loops loaded (or compiled) before timing, as the stage's driver does
    batches = [pa.Table.from_batches([b]) for b in docs.to_batches(max_chunksize=config.batch_rows)]
    with tempfile.TemporaryDirectory() as scratch:
        outputs = [partition_output("signals", "content_signals", CONTENT_SIGNALS, "bench")]
        sink = Sink(Lake(scratch), outputs, "bench", 10_000)
        signal_batch(batches[0].slice(0, 10), config, sink)  # loads the index in this process
        started = time.process_time()
        for batch in batches:
            signal_batch(batch, config, sink)
        sink.close()
        whole = time.process_time() - started
    parts = dict.fromkeys(("scan", "pii", "bad words", "contamination"), 0.0)
    for batch in batches:
        texts, languages = batch.column("text").to_pylist(), batch.column("language").to_pylist()
        started = time.process_time()
        lowered = [t.lower() for t in texts]
        scanned = textscan.scan(lowered)
        parts["scan"] += time.process_time() - started
        started = time.process_time()
        flags = textscan.pii_candidates(scanned).tolist()
        [pii.find(t, (bool(a), bool(b), bool(c))) for t, (a, b, c) in zip(texts, flags, strict=True)]
        parts["pii"] += time.process_time() - started
        started = time.process_time()
        badwords.count_batch(scanned, lowered, languages)
        parts["bad words"] += time.process_time() - started
        started = time.process_time()
        index.counts(scanned)
        parts["contamination"] += time.process_time() - started
    print(f"content_signals batch function, one process: {cpu_us(whole, n)}  ({n / whole:,.0f} docs per CPU-second)")
    for name, seconds in parts.items():
        print(f"  {name:14} {cpu_us(seconds, n)}  ({seconds / whole:.0%})")
    m = min(n, args.reference)
    if m:
        old = reference.EvalIndex(reference.eval_texts(Path(config.eval_sets)), config.ngram)
        sample = docs.slice(0, m)
        started = time.process_time()
        texts, languages = sample.column("text").to_pylist(), sample.column("language").to_pylist()
        for text, language in zip(texts, languages, strict=True):
            reference.signals(text, language, old)
        before = time.process_time() - started
        speedup = before / m / (whole / n)
        print(f"previous implementation on {m:,} of them: {cpu_us(before, m)}  (now {speedup:.1f}x faster)")


if __name__ == "__main__":
    main()
