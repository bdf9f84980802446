"""Speed of the content_signals stage: PII, bad words and benchmark overlaps per document.

Runs the stage's batch function on one core over the extracted sample-crawl texts (``make demo``
builds the lake), after loading the evaluation index, and prints docs/s per core (target: at least
2,000) with the share of time of each detector measured alone on the same texts.

    python bench/policies_throughput.py [--lake lake]
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from corpuslake.policies import badwords, pii
from corpuslake.policies.contamination import EvalIndex
from corpuslake.policies.run import CONTENT_SIGNALS, PolicyConfig, signal_batch
from corpuslake.runner import Sink, partition_output
from corpuslake.store import Lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default="lake")
    args = parser.parse_args()
    lake = Lake(str(Path(args.lake).resolve()))
    if lake.version("documents") is None:
        raise SystemExit(f"no documents table in {args.lake}: run `make demo` first")
    docs = lake.read("documents", columns=["id", "dump", "text", "language"])
    docs = docs.append_column("url_blocklisted", pa.nulls(docs.num_rows, pa.string()))
    texts, languages = docs["text"].to_pylist(), docs["language"].to_pylist()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    config = PolicyConfig()
    index = EvalIndex.load(Path(config.eval_sets), config.ngram)
    badwords.count("warm up", "en")
    with tempfile.TemporaryDirectory() as scratch:
        outputs = [partition_output("signals", "content_signals", CONTENT_SIGNALS, "bench")]
        sink = Sink(Lake(scratch), outputs, "bench", 1_000)  # rows are written as the stage writes them
        signal_batch(docs.slice(0, 10), config, sink)  # loads the index in this process
        started = time.perf_counter()
        for batch in docs.to_batches(max_chunksize=1_000):
            signal_batch(pa.Table.from_batches([batch]), config, sink)
        sink.close()
        whole = time.perf_counter() - started
    parts = {}
    started = time.perf_counter()
    for text in texts:
        pii.find(text)
    parts["pii"] = time.perf_counter() - started
    started = time.perf_counter()
    for text, language in zip(texts, languages, strict=True):
        badwords.count(text, language)
    parts["bad words"] = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        index.overlaps(text)
    parts["contamination"] = time.perf_counter() - started
    n = len(texts)
    print(f"content_signals on {n} documents (one core): {n / whole:,.0f} docs/s (target >= 2,000)")
    for name, seconds in parts.items():
        print(f"  {name:14} alone {n / seconds:9,.0f} docs/s ({seconds / whole:.0%} of the stage's time)")


if __name__ == "__main__":
    main()
