"""Perplexity as a quality signal: how well it separates edited prose from spam (AUC), and its cost.

1. The quality examples (samples/quality/examples.jsonl.gz, 2,400 passages): AUC of low perplexity for
   ``hq`` passages against spam passages and against all ``cc`` (spam and ordinary mail). Positives are
   reported twice: from source files held out of the reference (never seen by the model) and all of them.
2. The perplexity stage over every dump of a lake with ``scored`` (a copy: the stage writes ``perplexity``
   into it), as a measured child process: documents per CPU-second of the whole process tree (pool
   workers included) and the largest process's peak RSS. The model is estimated before, outside the
   measurement (its cost is printed on its own).
3. The same AUC on the lake's documents, prose pages against spam pages, joined on URL to the bench crawl's
   pages.jsonl.gz. The crawl's prose pages recombine paragraphs of every reference source, held out or
   not: this figure is optimistic (most of their text is in the reference).

    python bench/perplexity_auc.py --lake /work/runs/h5/lake --pages /work/bench-data/S/pages.jsonl.gz
    python bench/perplexity_auc.py --lake /work/runs/h5/lake-100k     # cost only, at another size
"""

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from measure import run_measured

from corpuslake.perplexity.model import load
from corpuslake.perplexity.stage import PerplexityConfig, perplexity_dump
from corpuslake.store import Lake

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's samples/ package
from samples.perplexity.build_reference import held_out

EXAMPLES = Path(__file__).resolve().parent.parent / "samples" / "quality" / "examples.jsonl.gz"


def auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting one half (the Mann-Whitney AUC)."""
    negatives = np.sort(negatives)
    below = np.searchsorted(negatives, positives, side="left")
    equal = np.searchsorted(negatives, positives, side="right") - below
    return float((below + equal / 2).sum() / (len(positives) * len(negatives)))


def quality_set(config: PerplexityConfig) -> None:
    model = load(config.specs()[0], config.folder())
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as rows:
        examples = [json.loads(row) for row in rows]
    started = time.process_time()
    scores = {id(e): -(model.perplexity(e["text"]) or float("inf")) for e in examples}
    seconds = time.process_time() - started
    hq_all = np.array([scores[id(e)] for e in examples if e["label"] == "hq"])
    hq_unseen = np.array([scores[id(e)] for e in examples if e["label"] == "hq" and held_out(e["source"])])
    spam = np.array([scores[id(e)] for e in examples if e["source"].startswith("spam")])
    cc = np.array([scores[id(e)] for e in examples if e["label"] == "cc"])
    print(f"quality examples ({len(examples):,} passages, {seconds:.1f} CPU-s in one process)")
    for name, positives in (("hq held out", hq_unseen), ("hq all", hq_all)):
        print(f"  {name} ({len(positives)}): AUC vs spam ({len(spam)}) {auc(positives, spam):.3f}, ", end="")
        print(f"vs all cc ({len(cc)}) {auc(positives, cc):.3f}")


def child(args: argparse.Namespace) -> None:
    """The measured process: the stage over every dump, the versions written as JSON on the last line."""
    lake = Lake(args.lake)
    config = PerplexityConfig(model_dir=args.model_dir, batch_rows=args.batch_rows)
    versions, documents, rates = {}, 0, []
    for dump in args.dumps.split(","):
        report = perplexity_dump(lake, dump, "bench", config, args.workers, "bench")
        versions[dump], documents = report.version, documents + report.rows
        rates.append(report.extra["docs_per_second_per_worker"])
    print(json.dumps({"versions": versions, "documents": documents, "busy_rate": min(rates)}))


def crawl_auc(lake: Lake, pages: Path, version: int) -> None:
    with gzip.open(pages, "rt", encoding="utf-8") as rows:
        source = {(p["dump"], p["url"]): p["source"] for p in map(json.loads, rows)}
    scored = lake.read("scored", columns=["id", "dump", "url"])
    signal = lake.read("perplexity", version, columns=["id", "dump", "perplexity", "perplexity_bucket"])
    joined = signal.join(scored, ["id", "dump"])
    pairs = zip(joined["dump"].to_pylist(), joined["url"].to_pylist(), strict=True)
    kinds = [source.get(pair, "?") for pair in pairs]
    joined = joined.append_column("source", pa.array(kinds)).filter(pc.is_valid(joined["perplexity"]))
    by_source = {s: -joined.filter(pc.equal(joined["source"], s))["perplexity"].to_numpy() for s in ("prose", "spam")}
    print(f"bench lake: prose ({len(by_source['prose']):,}) vs spam ({len(by_source['spam']):,}) pages in scored,")
    print(f"  AUC {auc(by_source['prose'], by_source['spam']):.3f} (prose text is mostly in the reference)")
    for name in ("prose", "spam", "doc"):
        part = joined.filter(pc.equal(joined["source"], name))
        counted = pc.value_counts(part["perplexity_bucket"]).to_pylist()
        buckets = {row["values"]: row["counts"] for row in sorted(counted, key=lambda row: str(row["values"]))}
        median = float(np.median(part["perplexity"].to_numpy())) if part.num_rows else float("nan")
        print(f"  {name}: {part.num_rows:,} documents, median perplexity {median:,.1f}, buckets {buckets}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--pages", type=Path, help="the bench crawl's pages.jsonl.gz; without it, no lake AUC")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=1_000)
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dumps", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    lake = Lake(str(Path(args.lake).resolve()))
    with tempfile.TemporaryDirectory(prefix="perplexity-bench-") as scratch:
        model_dir = args.model_dir or str(Path(scratch) / "models")
        config = PerplexityConfig(model_dir=model_dir)
        started = time.process_time()
        model = load(config.specs()[0], config.folder())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"model {model.info['key']}: n-grams {model.info['ngrams']}, {model.info['train_tokens']:,} tokens,")
        seconds = time.process_time() - started
        print(f"  estimated in {seconds:.1f} CPU-s, peak RSS {rss:,.0f} MiB; cutoffs {model.cutoffs}")
        quality_set(config)
        dumps = sorted(set(lake.read("scored", columns=["dump"])["dump"].to_pylist()))
        command = [sys.executable, __file__, "--child", "--lake", lake.root]
        command += ["--workers", str(args.workers), "--batch-rows", str(args.batch_rows), "--model-dir", model_dir]
        command += ["--dumps", ",".join(dumps)]
        log = Path(scratch) / "child.log"
        measured = run_measured(command, log=log, env=dict(os.environ))
        output = log.read_text(errors="replace")
        if measured.returncode:
            raise SystemExit(f"the stage failed ({measured.returncode}):\n{output[-3000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    documents = result["documents"]
    print(f"perplexity stage, {len(dumps)} dumps, {args.workers} workers: {documents:,} documents,")
    print(f"  wall {measured.wall_seconds:.1f}s, CPU {measured.cpu_seconds:.1f}s (whole tree),")
    print(f"  documents per CPU-second {documents / measured.cpu_seconds:,.1f} (whole tree, model loads included)")
    print(f"  documents per busy second of one worker, scoring only: {result['busy_rate']:,.1f} (slowest dump)")
    largest = measured.largest
    print(f"  peak RSS {largest.peak_rss / 2**20:,.0f} MiB ({largest.role}); by role:", end="")
    print(", ".join(f" {role} {peak / 2**20:,.0f} MiB" for role, peak in sorted(measured.peak_by_role().items())))
    if args.pages:
        crawl_auc(lake, args.pages, max(result["versions"].values()))


if __name__ == "__main__":
    main()
