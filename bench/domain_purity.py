"""How well the domain model's clusters follow the known sources of the bench crawl, and what it costs.

Trains the domain model on the lake's latest ``scored`` version and labels every dump (each step a
measured child process: CPU seconds of its whole tree, peak RSS of its largest process), then joins the
``domains`` rows with the crawl's ``pages.jsonl.gz`` on URL and prints, against each page's ``source``
(prose, doc, spam), its corpus (a prose page's paragraphs come from the State of the Union addresses,
Moby-Dick or the Python documentation, told by its URL's section) and its corpus or package:
- purity: the share of documents whose cluster's most common source is their own;
  beside it, the purity of one single cluster (the largest class's share), its floor;
- normalized mutual information (scikit-learn, arithmetic mean);
- the table of domains with their names, sizes and corpus shares.

    python bench/domain_purity.py --lake /work/runs/h4/lake --pages /work/bench-data/S/pages.jsonl.gz [--k 16]

The lake is written to (a model is registered, ``domains`` replaced per dump): use a copy.
"""

import argparse
import gzip
import json
import os
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
from build_scale_crawl import SECTIONS
from measure import Measurement, run_measured
from sklearn.metrics import normalized_mutual_info_score

from corpuslake.domains.model import DomainModelConfig
from corpuslake.domains.run import code_version, label_dump, train_model
from corpuslake.store import Lake


def _step(lake: Lake, step: str, k: int, workers: int) -> None:
    if step == "train":
        _, model, digest = train_model(lake, "bench", DomainModelConfig(k=k), code_version())
        print(f"model {digest[:16]}: {model.header['training']['documents']:,} training documents", flush=True)
    else:
        for dump in lake.dumps("scored"):
            report = label_dump(lake, dump, "bench", workers, code_version())
            print(f"labelled {dump}: {report.rows:,} documents", flush=True)


# A prose page's section (a segment of its URL's path) names the corpus its paragraphs were drawn from.
CORPUS_OF_SECTION = {section: corpus for corpus, sections in SECTIONS.items() for section in sections}


def _pages(path: Path) -> pa.Table:
    """url, source, corpus (prose split by the corpus its paragraphs come from) and corpus+package (a
    documentation page's package) of every page of the crawl."""
    urls, sources, corpora, fine = [], [], [], []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            page = json.loads(line)
            urls.append(page["url"])
            sources.append(page["source"])
            corpus = _prose_corpus(page["url"]) if page["source"] == "prose" else page["source"]
            corpora.append(corpus)
            fine.append(f"doc/{page['package']}" if page.get("package") else corpus)
    return pa.table({"url": urls, "source": sources, "corpus": corpora, "fine": fine})


def _prose_corpus(url: str) -> str:
    """The corpus named by the first known section of the URL's path (planted copies sit under /amp/...)."""
    sections = [CORPUS_OF_SECTION[p] for p in urlsplit(url).path.split("/") if p in CORPUS_OF_SECTION]
    return f"prose/{sections[0]}" if sections else "prose/unknown"


def purity(clusters: list[str], truth: list[str]) -> float:
    by_cluster: dict[str, Counter[str]] = {}
    for cluster, label in zip(clusters, truth, strict=True):
        by_cluster.setdefault(cluster, Counter())[label] += 1
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / max(len(clusters), 1)


def _evaluate(lake: Lake, pages: pa.Table) -> None:
    con = duckdb.connect()
    con.register("pages", pages)
    con.register("labels", lake.read("domains", columns=["id", "dump", "domain", "domain_name"]))
    con.register("urls", lake.read("scored", columns=["id", "dump", "url"]))
    joined = con.sql(
        "SELECT l.domain, l.domain_name, p.source, p.corpus, p.fine FROM labels l JOIN urls u USING (id, dump) "
        "JOIN (SELECT DISTINCT ON (url) * FROM pages) p ON p.url = u.url ORDER BY l.domain"
    ).to_arrow_table()
    domains, sources, corpora, fine = (joined.column(c).to_pylist() for c in ("domain", "source", "corpus", "fine"))
    unmatched = lake.read("domains", columns=["id"]).num_rows - joined.num_rows
    print(f"documents labelled and matched to a page: {joined.num_rows:,} ({unmatched:,} without a page)")
    for name, truth in (("source", sources), ("corpus", corpora), ("corpus+package", fine)):
        nmi = normalized_mutual_info_score(truth, domains)
        majority = Counter(truth).most_common(1)[0][1] / max(len(truth), 1)
        print(
            f"against {name} ({len(set(truth))} classes): purity {purity(domains, truth):.3f} "
            f"(one cluster: {majority:.3f}), NMI {nmi:.3f}"
        )
    names = dict(zip(domains, joined.column("domain_name").to_pylist(), strict=True))
    kinds = sorted(set(corpora))
    print(f"| domain | documents | {' | '.join(kinds)} | name |")
    print(f"| --- | ---: | {' | '.join('---:' for _ in kinds)} | --- |")
    for domain in sorted(names):
        counts = Counter(c for d, c in zip(domains, corpora, strict=True) if d == domain)
        total = sum(counts.values())
        shares = " | ".join(f"{counts[k] / total:.0%}" for k in kinds)
        print(f"| {domain} | {total:,} | {shares} | {names[domain]} |")


def _report(what: str, measured: Measurement) -> None:
    largest = measured.largest
    print(
        f"{what}: {measured.cpu_seconds:.1f} CPU s (user+sys, whole tree), wall {measured.wall_seconds:.1f} s, "
        f"peak RSS {largest.peak_rss / 2**20:.0f} MiB ({largest.role})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--pages", required=True, type=Path)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--step", choices=["train", "label"], help=argparse.SUPPRESS)  # the measured children
    args = parser.parse_args()
    lake = Lake(str(Path(args.lake).resolve()))
    if args.step:
        _step(lake, args.step, args.k, args.workers)
        return
    if lake.version("scored") is None:
        raise SystemExit(f"no scored table in {args.lake}: run `corpuslake run` first")
    base = [sys.executable, str(Path(__file__).resolve()), "--lake", args.lake, "--pages", str(args.pages)]
    base += ["--k", str(args.k), "--workers", str(args.workers)]
    env = dict(os.environ) | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for step in ("train", "label"):
        measured = run_measured([*base, "--step", step], env=env)
        if measured.returncode:
            raise SystemExit(f"the {step} step failed with exit status {measured.returncode}")
        _report(f"{step} (k={args.k}, {args.workers} workers)" if step == "label" else f"train (k={args.k})", measured)
    _evaluate(lake, _pages(args.pages))


if __name__ == "__main__":
    main()
