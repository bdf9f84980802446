"""Streaming reads shared by the samples and ``why``: one table version, a pushed-down filter, bounded memory."""

import hashlib
import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.dataset as pads

from corpuslake.errors import InputError
from corpuslake.lineage import LINEAGE_KEY, Lineage
from corpuslake.names import check_name
from corpuslake.store import Lake

Kind = Literal["reason", "cluster", "score", "language", "domain"]
"""What the documents of a sample share."""
KINDS: tuple[str, ...] = get_args(Kind)

BATCH_ROWS = 8_192
EXCERPT_CHARS = 300


class InspectError(InputError, LookupError):
    """A table, version, dump or document that is not in the lake as asked."""


def table_version(lake: Lake, table: str, version: int | None) -> int:
    """``version`` of ``table`` (the latest when None), checked to exist."""
    latest = lake.version(table)
    if latest is None:
        raise InspectError(f"table {table} does not exist in {lake.root}: materialize it first")
    if version is None:
        return latest
    if not 0 <= version <= latest:
        raise InspectError(f"{table} has no version {version} (latest is {latest})")
    return version


def upstream_version(lake: Lake, table: str, version: int, upstream: str) -> int | None:
    """The version of ``upstream`` that the commit of ``table@version`` read, from its lineage (None if the
    lineage does not name it: the caller then reads the latest)."""
    try:
        lineage = lake.lineage(table, version)
    except LookupError:
        return None
    return next((u.version for u in lineage.upstream if u.table == upstream), None)


def partition_lineage(lake: Lake, table: str, dump: str) -> Lineage | None:
    """The lineage of the newest commit of ``table`` that wrote ``dump``: the run that decided that dump's
    rows (the latest version may have been written for another dump, with another configuration)."""
    for entry in lake.history(table):  # newest first
        raw = entry.get(LINEAGE_KEY)
        if raw and (lineage := Lineage.from_json(raw)).partition == dump and lineage.asset == table:
            return lineage
    return None


def dump_filter(dump: str | None) -> pads.Expression | None:
    return None if dump is None else pads.field("dump") == check_name(dump, "dump")


def both(*terms: pads.Expression | None) -> pads.Expression | None:
    """The conjunction of the terms given (None when none is)."""
    result: pads.Expression | None = None
    for term in terms:
        if term is not None:
            result = term if result is None else result & term
    return result


def stream(
    lake: Lake, table: str, version: int, where: pads.Expression | None, columns: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """The rows of ``table@version`` that match ``where`` (pushed down to the Parquet reader), a batch at a time."""
    dataset = lake.dataset(table, version)
    scanner = dataset.scanner(columns=list(columns), filter=where, batch_size=BATCH_ROWS)
    for batch in scanner.to_batches():
        if batch.num_rows:
            yield batch


def sample_key(doc_id: str, seed: int) -> int:
    """A document's draw key for ``seed``: the same documents come first for the same seed on any machine."""
    digest = hashlib.blake2b(f"{seed}\x00{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def smallest_keys(ids: Iterable[str], k: int, seed: int) -> list[str]:
    """The ``k`` ids with the smallest draw keys, in key order; holds ``k`` ids at a time."""
    heap: list[tuple[int, str]] = []  # the negated key on top: the largest key kept so far is dropped first
    for doc_id in ids:
        keep_smallest(heap, doc_id, k, seed)
    return drawn(heap)


def keep_smallest(heap: list[tuple[int, str]], doc_id: str, k: int, seed: int) -> None:
    """One step of :func:`smallest_keys`: ``doc_id`` joins ``heap`` if its key is among the ``k`` smallest."""
    item = (-sample_key(doc_id, seed), doc_id)
    if len(heap) < k:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


def drawn(heap: list[tuple[int, str]]) -> list[str]:
    """The ids of a :func:`keep_smallest` heap, in key order."""
    return [doc_id for _, doc_id in sorted(heap, reverse=True)]


def ids_of(batches: Iterable[pa.RecordBatch]) -> Iterator[str]:
    for batch in batches:
        yield from batch.column("id").to_pylist()


def rows_by_id(
    lake: Lake, table: str, version: int, ids: Sequence[str], columns: Sequence[str], dump: str | None = None
) -> dict[str, dict[str, Any]]:
    """The rows of ``ids`` in ``table@version``, keyed by id.

    Each row group is first read for its ``id`` column alone; only the row groups that hold one of the
    ids are read for ``columns``: a few documents' texts cost a few row groups, not the table's texts.
    """
    if not ids:
        return {}
    wanted = pads.field("id").isin(pa.array(list(ids), pa.string()))
    dataset = lake.dataset(table, version)
    names = list(dict.fromkeys(["id", *[c for c in columns if c in dataset.schema.names]]))
    found: dict[str, dict[str, Any]] = {}
    for fragment in dataset.get_fragments(filter=dump_filter(dump)):
        for group in fragment.split_by_row_group():
            if not group.to_table(schema=dataset.schema, columns=["id"], filter=wanted).num_rows:
                continue
            for row in group.to_table(schema=dataset.schema, columns=names, filter=wanted).to_pylist():
                found.setdefault(row["id"], row)
            if len(found) == len(set(ids)):
                return found
    return found


def excerpt(text: str | None, chars: int = EXCERPT_CHARS) -> str:
    """The text's first ``chars`` characters with whitespace runs collapsed, cut at a word when it can be."""
    flat = " ".join((text or "").split())
    if len(flat) <= chars:
        return flat
    cut = flat[:chars]
    space = cut.rfind(" ")
    return (cut[:space] if space > chars // 2 else cut) + " …"
