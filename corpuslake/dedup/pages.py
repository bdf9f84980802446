"""What the deduplicated asset's page shows, computed in a process of its own.

Finding a dump's largest clusters scans the whole ``deduplicated`` partition; the scan's buffers stay
in the reading process's allocator after it (about 0.3 KB per document: +335 MiB at 1 M documents,
bench/dedup_memory.py's lakes), which in the driver would grow it with the dump for the rest of the
run. A short-lived process gives them back when it exits; it costs about a second of CPU to start, so
a dump small enough for its scan to stay small is read in the calling process.
"""

from dataclasses import dataclass

from corpuslake.fresh import run_apart
from corpuslake.inspect.markdown import deduplicated_clusters_markdown
from corpuslake.store import Lake


@dataclass(frozen=True)
class ClustersPage:
    lake: Lake
    dump: str
    version: int


def clusters_markdown(page: ClustersPage) -> str:
    return deduplicated_clusters_markdown(page.lake, page.dump, page.version)


APART_FROM = 50_000
"""Kept documents from which the page is read in a fresh process: below, the scan holds ~25 MB at most."""


def largest_clusters(lake: Lake, dump: str, version: int, workers: object, documents: int) -> str:
    """The markdown of ``dump``'s largest clusters (``documents`` kept), read in a fresh process unless
    ``workers <= 1`` or the dump is smaller than :data:`APART_FROM`."""
    page = ClustersPage(lake, dump, version)
    return run_apart(clusters_markdown, page, workers if documents >= APART_FROM else 1)
