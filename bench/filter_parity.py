"""Parity and speed of the filter stage against datatrove's filters, on the same extracted documents.

Reads the documents table of a lake (``make demo`` builds it from the sample crawl), then prints:

- parity: for each of GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter (FineWeb's setting:
  no terminal-punctuation rule) and FineWebQualityFilter, keep/drop agreement between datatrove and the
  matching corpuslake unit, each run on the original text of every document, with the disagreeing
  documents' signals beside datatrove's reason so each difference can be explained;
- speed, documents per CPU-second (the timed process's own CPU time, so other load on the machine does
  not count), same documents, each timing in a fresh process, one after the other:
    datatrove  its four filters chained as in FineWeb (each runs on what the previous kept; C4's edited
               text goes on), with spaCy word tokenization as datatrove loads it for English;
    ours       the whole corpuslake chain (URL, language, both Gopher units, C4, FineWeb), scoring every
               unit on every document;
    stage      the filter stage function on batches of 1,000, Arrow in, Parquet parts out (the real
               languages, so the language rule drops more here);
  and the ratio ours/datatrove (target at least 10x, and at least 1,000 docs/s per core).

Needs the bench extra: ``pip install -e ".[bench]"`` (datatrove's filters and spaCy).

    python bench/filter_parity.py [--lake lake] [--limit N] [--show 3]
"""

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpuslake.filters import c4, fineweb, gopher_quality, gopher_repetition
from corpuslake.filters.base import Failure, Signals, TextView
from corpuslake.filters.chain import Document, FilterChain, FilterConfig
from corpuslake.filters.text import clear_caches
from corpuslake.runner import Sink, partition_output
from corpuslake.schemas import FILTERED, REJECTIONS
from corpuslake.stages.filtered import FilterSettings, filter_batch
from corpuslake.store import Lake

Judge = Callable[[str], Failure | None]


def datatrove_filters() -> dict[str, Any]:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(filter_no_terminal_punct=False),
        "fineweb": FineWebQualityFilter(),
    }


def our_units(config: FilterConfig) -> dict[str, Judge]:
    def rep(text: str) -> Failure | None:
        return gopher_repetition.decide(
            gopher_repetition.score(TextView(text), config.gopher_repetition), config.gopher_repetition
        )

    def quality(text: str) -> Failure | None:
        return gopher_quality.decide(gopher_quality.score(TextView(text), config.gopher_quality), config.gopher_quality)

    def c4_unit(text: str) -> Failure | None:
        return c4.decide(c4.edit(TextView(text), config.c4)[1], config.c4)

    def fineweb_unit(text: str) -> Failure | None:
        return fineweb.decide(fineweb.score(TextView(text), config.fineweb), config.fineweb)

    return {"gopher_repetition": rep, "gopher_quality": quality, "c4": c4_unit, "fineweb": fineweb_unit}


def our_signals(name: str, text: str, config: FilterConfig) -> Signals:
    view = TextView(text)
    if name == "gopher_repetition":
        return gopher_repetition.score(view, config.gopher_repetition)
    if name == "gopher_quality":
        return gopher_quality.score(view, config.gopher_quality)
    if name == "c4":
        return c4.edit(view, config.c4)[1]
    return fineweb.score(view, config.fineweb)


def datatrove_verdict(flt: Any, text: str) -> str | None:
    from datatrove.data import Document

    result = flt.filter(Document(text=text, id="x", metadata={}))
    if result is True:
        return None
    return result[1] if isinstance(result, tuple) else "dropped"


def parity(docs: list[dict[str, Any]], show: int) -> None:
    config = FilterConfig()
    theirs, ours = datatrove_filters(), our_units(config)
    print(f"parity on {len(docs)} documents (keep/drop per filter, each on the original text):")
    for name, flt in theirs.items():
        agree = 0
        confusion: Counter[str] = Counter()
        examples: list[str] = []
        for doc in docs:
            dt = datatrove_verdict(flt, doc["text"])
            mine = ours[name](doc["text"])
            if (dt is None) == (mine is None):
                agree += 1
                continue
            theirs_says = "keeps" if dt is None else f"drops ({dt})"
            ours_says = "keeps" if mine is None else f"drops ({mine.reason})"
            key = f"datatrove {theirs_says}, ours {ours_says}"
            confusion[key] += 1
            if len(examples) < show:
                signals = {
                    k: round(v, 3) if isinstance(v, float) else v
                    for k, v in our_signals(name, doc["text"], config).items()
                }
                examples.append(f"      {doc['id']} {doc['url']}\n        {key}\n        ours: {json.dumps(signals)}")
        print(f"  {name:18} {agree / len(docs):7.2%} agree ({len(docs) - agree} differ)")
        for key, n in confusion.most_common():
            print(f"      {n:4}  {key}")
        for line in examples:
            print(line)


def _load(lake_root: str, limit: int) -> pa.Table:
    table = Lake(lake_root).read("documents")
    return table.slice(0, limit) if limit else table


def datatrove_chain_seconds(lake_root: str, limit: int) -> tuple[float, int]:
    from datatrove.data import Document as DatatroveDocument

    docs = _load(lake_root, limit).select(["id", "text", "url"]).to_pylist()
    chain = list(datatrove_filters().values())
    for f in chain:  # warm up: spaCy's pipeline loads on first use
        f.filter(DatatroveDocument(text="Warm up. " * 60, id="w", metadata={"url": "http://example.com/"}))
    kept = 0
    started = time.process_time()
    for doc in docs:
        document = DatatroveDocument(text=doc["text"], id=doc["id"], metadata={"url": doc["url"]})
        if all(f.filter(document) is True for f in chain):
            kept += 1
    return time.process_time() - started, kept


def our_chain_seconds(lake_root: str, limit: int) -> tuple[float, int]:
    table = _load(lake_root, limit)
    chain = FilterChain(FilterConfig(), Lake(lake_root).cache_dir())
    chain.judge("Warm up. " * 60, "http://example.com/", "en", 1.0)  # regexes and Unicode tables
    clear_caches()  # the splitter remembers chunks and lines: time it cold
    # language "en" for all: datatrove's chain above has no language filter, so both see every document
    inputs = [
        Document(text, page, "en", 1.0)
        for text, page in zip(*table.select(["text", "url"]).to_pydict().values(), strict=True)
    ]
    kept = 0
    started = time.process_time()
    for at in range(0, len(inputs), 1_000):  # the stage's batch size
        kept += sum(v.rejected_by is None for v in chain.judge_batch(inputs[at : at + 1_000]))
    return time.process_time() - started, kept


def stage_seconds(lake_root: str, limit: int) -> tuple[float, int]:
    table = _load(lake_root, limit)
    settings = FilterSettings(FilterConfig(), str(Lake(lake_root).cache_dir()))
    kept = 0
    with tempfile.TemporaryDirectory() as scratch:
        scratch_lake = Lake(scratch)  # the stage writes its rows as it would into the lake

        def sink(dump: str, stem: str) -> Sink:
            outputs = [
                partition_output("rejections", "rejections", REJECTIONS, dump, "filtered"),
                partition_output("kept", "filtered", FILTERED, dump),
            ]
            return Sink(scratch_lake, outputs, stem, 1_000)

        warm = sink("warm-up", "warm-up")
        filter_batch(table.slice(0, 1), settings, warm)  # lists, regexes
        warm.close()
        clear_caches()
        started = time.process_time()
        for seq, batch in enumerate(table.to_batches(max_chunksize=1_000)):
            out = sink(batch.column("dump")[0].as_py(), f"b{seq}")
            filter_batch(pa.Table.from_batches([batch]), settings, out)
            out.close()
            kept += out.counters["kept"]
        return time.process_time() - started, kept


def in_fresh_process(fn: Callable[[str, int], tuple[float, int]], lake_root: str, limit: int) -> tuple[float, int]:
    """Each timing runs alone in a new process: no warm caches and no large heap from the others."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, lake_root, limit).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default="lake")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents (0: all)")
    parser.add_argument("--show", type=int, default=3, help="disagreeing documents shown per filter")
    args = parser.parse_args()
    lake = Lake(str(Path(args.lake).resolve()))
    if lake.version("documents") is None:
        raise SystemExit(f"no documents table in {args.lake}: run `make demo` first")
    table = lake.read("documents")
    if args.limit:
        table = table.slice(0, args.limit)
    docs = table.to_pylist()
    chars = sum(len(d["text"]) for d in docs)
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    version = lake.version("documents")
    print(f"input: {len(docs)} documents of {lake.root} (documents@v{version}), mean {chars / len(docs):,.0f} chars")
    parity(docs, args.show)
    FilterChain(FilterConfig(), lake.cache_dir())  # compile the URL blocklist outside the timings
    dt_seconds, dt_kept = in_fresh_process(datatrove_chain_seconds, lake.root, args.limit)
    our_seconds, our_kept = in_fresh_process(our_chain_seconds, lake.root, args.limit)
    whole, stage_kept = in_fresh_process(stage_seconds, lake.root, args.limit)
    print("speed (documents per CPU-second, same documents, each timing in a fresh process):")
    print(f"  datatrove chain  {len(docs) / dt_seconds:9,.0f} docs/CPU-s  ({dt_kept} kept)")
    print(f"  ours, chain      {len(docs) / our_seconds:9,.0f} docs/CPU-s  ({our_kept} kept)")
    print(f"  ours, stage      {len(docs) / whole:9,.0f} docs/CPU-s  ({stage_kept} kept with the language rule on)")
    print(f"  ratio stage/datatrove {dt_seconds / whole:.1f}x (target >= 10x; >= 1,000 docs/s per core)")


if __name__ == "__main__":
    main()
