"""The URL filter of RefinedWeb and FineWeb: a domain blocklist, blocked URLs, banned words, soft
banned words (two or more drop the page) and banned sub-words.

The built-in lists are the ones FineWeb used, shipped in the ``datatrove`` wheel's ``assets`` folder:
the UT1 blocklist's adult category (4.56 M domains, 19.6 k URLs) and the banned-word lists. Any list
file works instead: one entry per line, ``#`` starts a comment line; a domain list may also be a
``.tar.gz`` holding a ``domains`` member.

The domain list is compiled once into a sorted array of 64-bit hashes kept in a cache folder (tens of
megabytes instead of half a gigabyte of Python strings per worker); a lookup hashes the host and each
of its parent domains.

Where this differs from datatrove: every parent domain of the host is looked up (datatrove looks up
the registered domain and the full host, which needs the public-suffix list); URL words are compared
lowercased (datatrove compares them with the URL's own case, so "Sex" in a path passes there); blocked
URLs are compared without the scheme, as the UT1 list writes them (datatrove compares the full URL,
scheme included, so that list never matches there).
"""

import hashlib
import importlib.util
import logging
import re
import tarfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa

from corpuslake.filters.base import Failure, SignalColumn, Signals

NAME = "url"
BUILTIN = "builtin"

log = logging.getLogger(__name__)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_BUILTIN_FILES = {
    "domains": "url_filterblacklistsv0_3_0.tar.gz",
    "urls": "url_filterblacklistsv0_3_0.tar.gz",
    "banned_words": "banned_words.txt",
    "soft_banned_words": "soft_banned_words.txt",
    "banned_subwords": "banned_subwords.txt",
}


class BlocklistError(ValueError):
    """A configured list file is missing or unreadable."""


@dataclass(frozen=True)
class UrlConfig:
    """Which lists to check URLs against. ``"builtin"`` is FineWeb's list; ``""`` switches a list off."""

    enabled: bool = True
    """Apply the URL rules (their signals are stored either way)."""
    domains: str = BUILTIN
    """Blocked domains: a page whose host or any parent domain is listed is dropped (``domain``)."""
    urls: str = BUILTIN
    """Blocked URLs, written without scheme (``url``)."""
    banned_words: str = BUILTIN
    """Words that drop a page when one is a word of its URL (``banned_word``)."""
    soft_banned_words: str = BUILTIN
    """Words that drop a page when ``soft_banned_threshold`` of them are words of its URL (``soft_banned_words``)."""
    banned_subwords: str = BUILTIN
    """Strings that drop a page when found in its URL with separators removed (``banned_subword``)."""
    soft_banned_threshold: int = 2
    """How many soft banned words drop a page."""


SIGNALS = [
    SignalColumn("url_blocklisted", pa.string(), "the blocked domain or URL the page matched"),
    SignalColumn("url_banned_word", pa.string(), "a banned word of the URL"),
    SignalColumn("url_soft_banned_words", pa.int32(), "soft banned words in the URL"),
    SignalColumn("url_banned_subword", pa.string(), "a banned sub-word of the URL"),
]


def builtin_path(kind: str) -> Path:
    """Where the datatrove wheel keeps FineWeb's list of ``kind`` (found without importing datatrove)."""
    spec = importlib.util.find_spec("datatrove")
    if spec is None or not spec.submodule_search_locations:
        raise BlocklistError("the built-in URL lists come with the datatrove package, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / _BUILTIN_FILES[kind]
    if not path.is_file():
        raise BlocklistError(f"built-in URL list missing: {path}")
    return path


def read_entries(source: str, kind: str, member: str | None = None) -> Iterator[str]:
    """The entries of a list file (``builtin`` resolves to FineWeb's), stripped, comments skipped."""
    path = builtin_path(kind) if source == BUILTIN else Path(source)
    if not path.is_file():
        raise BlocklistError(f"{kind} list not found: {path}")
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path, "r:gz") as tar:
            stream = tar.extractfile(member or kind)
            if stream is None:
                raise BlocklistError(f"{path} has no {member or kind} member")
            yield from _lines(stream)
    else:
        with path.open("rb") as stream:
            yield from _lines(stream)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    for raw in stream:
        entry = raw.decode("utf-8", "replace").strip()
        if entry and not entry.startswith("#"):
            yield entry


def domain_hash(domain: str) -> int:
    return int.from_bytes(hashlib.blake2b(domain.encode(), digest_size=8).digest(), "little")


def compile_domains(entries: Iterable[str]) -> np.ndarray:
    """Sorted unique 64-bit hashes of lowercased domains (collisions: about 1 in 4e12 lookups)."""
    hashes = np.fromiter((domain_hash(e.lower().rstrip(".")) for e in entries), dtype=np.uint64)
    return np.unique(hashes)


def cached_domains(source: str, cache_dir: Path) -> Path:
    """The compiled domain list for ``source``, built into ``cache_dir`` on first use."""
    path = builtin_path("domains") if source == BUILTIN else Path(source)
    if not path.is_file():
        raise BlocklistError(f"domains list not found: {path}")
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / f"domains-{key}.npy"
    if not target.exists():
        # Millions of domains: seconds of silence the first time a lake (or a new list) is used, so say why.
        log.info("compiling the URL domain blocklist %s into %s (once per list)...", path, cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        hashes = compile_domains(read_entries(source, "domains"))
        partial = target.with_suffix(f".{uuid.uuid4().hex}.part")  # unique: workers may race to build it
        with partial.open("wb") as out:
            np.save(out, hashes)
        partial.replace(target)  # atomic: a concurrent run sees the whole file or none
        log.info("compiled the URL domain blocklist: %s domains", f"{len(hashes):,}")
    return target


def cached_entries(source: str, kind: str, cache_dir: Path) -> Iterator[str]:
    """``read_entries``, from a plain-text copy kept in ``cache_dir`` when the source is an archive (the
    built-in blocked URLs sit behind 123 MB of domains in the same tarball)."""
    path = builtin_path(kind) if source == BUILTIN else Path(source)
    if not path.name.endswith((".tar.gz", ".tgz")):
        yield from read_entries(source, kind)
        return
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{kind}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / f"{kind}-{key}.txt"
    if not target.exists():
        log.info("extracting the blocked %s of %s into %s (once per list)...", kind, path, cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{uuid.uuid4().hex}.part")  # unique: workers may race to build it
        partial.write_text("".join(f"{entry}\n" for entry in read_entries(source, kind)), encoding="utf-8")
        partial.replace(target)
    yield from read_entries(str(target), kind)


def prepare(config: UrlConfig, cache_dir: Path) -> None:
    """Build the cached forms of the configured lists once, before workers start."""
    if config.enabled and config.domains:
        cached_domains(config.domains, cache_dir)
    if config.enabled and config.urls:
        for _ in cached_entries(config.urls, "urls", cache_dir):
            break


class UrlMatcher:
    """The loaded lists; ``score`` measures one URL against them."""

    def __init__(self, config: UrlConfig, cache_dir: Path) -> None:
        self.config = config
        self.domains = (
            np.load(cached_domains(config.domains, cache_dir), mmap_mode="r")
            if config.domains
            else np.empty(0, np.uint64)
        )
        self.urls = {e.lower() for e in cached_entries(config.urls, "urls", cache_dir)} if config.urls else set()
        self.banned = self._words(config.banned_words, "banned_words")
        self.soft = self._words(config.soft_banned_words, "soft_banned_words")
        subwords = sorted(self._words(config.banned_subwords, "banned_subwords"), key=len, reverse=True)
        self.subwords = re.compile("|".join(map(re.escape, subwords))) if subwords else None

    @staticmethod
    def _words(source: str, kind: str) -> set[str]:
        if not source:
            return set()
        return {w for w in (_NON_ALNUM.sub("", e.lower()) for e in read_entries(source, kind)) if w}

    def _domain_listed(self, host: str) -> str | None:
        labels = host.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            h = np.uint64(domain_hash(candidate))
            at = int(np.searchsorted(self.domains, h))
            if at < len(self.domains) and self.domains[at] == h:
                return candidate
        return None

    def score(self, url: str | None) -> Signals:
        signals: Signals = {s.name: None for s in SIGNALS}
        signals["url_soft_banned_words"] = 0
        if not url:
            return signals
        lowered = url.lower()
        parts = urlsplit(lowered)
        host = (parts.hostname or "").rstrip(".")
        listed = self._domain_listed(host) if host and len(self.domains) else None
        bare = lowered.split("://", 1)[-1]
        if listed is None and (bare in self.urls or bare.rstrip("/") in self.urls):
            listed = bare
        words = set(_NON_ALNUM.split(lowered))
        banned = sorted(words & self.banned)
        match = self.subwords.search(_NON_ALNUM.sub("", lowered)) if self.subwords else None
        signals.update(
            url_blocklisted=listed,
            url_banned_word=banned[0] if banned else None,
            url_soft_banned_words=len(words & self.soft),
            url_banned_subword=match.group(0) if match else None,
        )
        return signals


def decide(s: Signals, config: UrlConfig) -> Failure | None:
    if s["url_blocklisted"] is not None:
        return Failure(NAME, "blocklisted", f"listed: {s['url_blocklisted']}")
    if s["url_banned_word"] is not None:
        return Failure(NAME, "banned_word", f"URL word {s['url_banned_word']!r}")
    if s["url_soft_banned_words"] >= config.soft_banned_threshold:
        return Failure(NAME, "soft_banned_words", f"{s['url_soft_banned_words']} soft banned words")
    if s["url_banned_subword"] is not None:
        return Failure(NAME, "banned_subword", f"URL contains {s['url_banned_subword']!r}")
    return None
