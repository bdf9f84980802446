"""Documents per registered domain and per top-level domain, kept against dropped, counted in a stream.

A registered domain is the public suffix plus one label (``bbc.co.uk``, ``example.com``), from the
Public Suffix List snapshot that ships inside ``tldextract`` (never fetched: the extractor is built
with no suffix-list URL). The top-level domain is the host's last label (``uk``, ``com``). A URL with
no host gives ``(none)``, an IP address ``(ip)``.

Each batch is grouped with Arrow and its partial counts go into a DuckDB table, which spills to disk:
a dump with millions of distinct domains never holds them all in Python. The totals per domain are
summed once at the end, and only the top ones are returned.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa

NO_HOST = "(none)"
IP_HOST = "(ip)"


@lru_cache(maxsize=1)
def _extractor() -> Any:
    import tldextract  # deferred: only the plots need the suffix list

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=65_536)  # hosts repeat: a crawl is a few sites many times, and a long tail
def host_domains(host: str) -> tuple[str, str]:
    """The registered domain and the top-level domain of a host name."""
    if not host:
        return NO_HOST, NO_HOST
    try:
        ipaddress.ip_address(host)
        return IP_HOST, IP_HOST
    except ValueError:
        pass
    parts = _extractor().extract_str(host)
    registered = parts.top_domain_under_public_suffix or host
    return registered, host.rsplit(".", 1)[-1]


def url_domains(url: str | None) -> tuple[str, str]:
    """:func:`host_domains` of a URL's host (lower-cased, without port or credentials)."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:  # a malformed netloc (an unclosed IPv6 bracket)
        host = ""
    return host_domains(host.rstrip("."))


# Per domain column, every document of the dump and those kept: fixed texts, one per column.
_TOTALS = {
    column: f"""SELECT {column} AS domain, sum(n) FILTER (WHERE side = 'all') AS documents,
        coalesce(sum(n) FILTER (WHERE side = 'kept'), 0) AS kept FROM parts GROUP BY {column}"""
    for column in ("registered", "tld")
}


@dataclass(frozen=True)
class DomainCount:
    domain: str
    kept: int
    dropped: int

    @property
    def documents(self) -> int:
        return self.kept + self.dropped


class DomainCounter:
    """Partial counts per batch in DuckDB; ``top`` sums them. ``all`` rows are every document of the
    dump, ``kept`` rows those still in the last stage: dropped is their difference."""

    def __init__(self, spill: Path) -> None:
        self._con = duckdb.connect(config={"temp_directory": str(spill), "memory_limit": "128MB", "threads": 1})
        self._con.execute("CREATE TABLE parts (side VARCHAR, registered VARCHAR, tld VARCHAR, n BIGINT)")

    def add(self, side: str, urls: Iterable[str | None]) -> None:
        pairs = [url_domains(u) for u in urls]
        if not pairs:
            return
        rows = pa.table({"registered": [p[0] for p in pairs], "tld": [p[1] for p in pairs]})
        grouped = rows.group_by(["registered", "tld"]).aggregate([([], "count_all")])
        batch = grouped.append_column("side", pa.array([side] * grouped.num_rows, pa.string()))
        self._con.register("batch", batch)
        self._con.execute("INSERT INTO parts SELECT side, registered, tld, count_all FROM batch")
        self._con.unregister("batch")

    def top(self, column: str, limit: int) -> tuple[list[DomainCount], DomainCount, int]:
        """The ``limit`` largest ``column`` values (``registered`` or ``tld``) by documents, ties by name;
        everything else summed as ``(other)``; and how many distinct values there are."""
        totals = _TOTALS.get(column)
        if totals is None:
            raise ValueError(f"no domain column {column!r}")
        ranked = self._con.execute(
            f"SELECT domain, documents, kept FROM ({totals}) ORDER BY documents DESC, domain LIMIT ?", [limit]
        ).fetchall()
        top = [DomainCount(d, int(k), int(n) - int(k)) for d, n, k in ranked]
        distinct, documents, kept = self._con.execute(
            f"SELECT count(*), coalesce(sum(documents), 0), coalesce(sum(kept), 0) FROM ({totals})"
        ).fetchone() or (0, 0, 0)
        shown_documents = sum(d.documents for d in top)
        shown_kept = sum(d.kept for d in top)
        other_kept = int(kept) - shown_kept
        other = DomainCount("(other)", other_kept, int(documents) - shown_documents - other_kept)
        return top, other, int(distinct)

    def close(self) -> None:
        self._con.close()
