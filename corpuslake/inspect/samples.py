"""Samples per decision: documents for a filter reason, a duplicate cluster, a score bucket, a language, a domain.

Documents are drawn by a hash of their id and the seed (:func:`corpuslake.inspect.scan.sample_key`): the
same seed gives the same documents from the same table version, and no draw holds more than ``k`` ids.
The deciding table is scanned with its filter pushed down, once for the ids, then once more for the
chosen rows; texts missing from it (rejections hold none) come from the version its commit read.
"""

import functools
import heapq
import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pads

from corpuslake.dedup.minhash import MinHasher, jaccard
from corpuslake.dedup.normalize import normalize_text
from corpuslake.filters import c4, fineweb, gopher_quality, gopher_repetition, url
from corpuslake.inspect.scan import (
    KINDS,
    InspectError,
    Kind,
    both,
    dump_filter,
    excerpt,
    ids_of,
    rows_by_id,
    sample_key,
    smallest_keys,
    stream,
    table_version,
    upstream_version,
)
from corpuslake.store import Lake

DEFAULT_TABLE: dict[str, str] = {
    "reason": "rejections",
    "cluster": "deduplicated",
    "score": "scored",
    "language": "documents",
    "domain": "documents",
}
# The signals each filter unit decides on: a rejection shows these, not the fifty others it stores.
UNIT_SIGNALS: dict[str, list[str]] = {
    url.NAME: [s.name for s in url.SIGNALS],
    "language": ["language", "language_score"],
    gopher_repetition.NAME: [s.name for s in gopher_repetition.SIGNALS],
    gopher_quality.NAME: [s.name for s in gopher_quality.SIGNALS],
    c4.NAME: [s.name for s in c4.SIGNALS],
    "refinedweb": ["c4_removed_word_fraction"],
    fineweb.NAME: [s.name for s in fineweb.SIGNALS],
}
# Where a rejection's text is: the table its stage read (the documents stage's rejections have none).
TEXT_TABLE = {"filtered": "documents", "deduplicated": "filtered"}
SAMPLE_COLUMNS = [
    "id",
    "dump",
    "url",
    "text",
    "language",
    "language_score",
    "quality_score",
    "cluster_id",
    "cluster_size",
]


@dataclass(frozen=True)
class SampleQuery:
    """What to draw: a kind of decision and its value, from one table version."""

    kind: Kind
    """reason (``filter/reason`` or ``reason``), cluster (the kept document's id), score (``LOW:HIGH``),
    language (a lid.176 label) or domain (a registered domain: its subdomains match too)."""
    value: str | None
    """The reason, cluster id, score bucket, language or domain; a cluster without one draws clusters."""
    table: str | None = None
    """The table sampled (default per kind: rejections, deduplicated, scored, documents, documents)."""
    version: int | None = None
    """The table's Delta version (default: the latest)."""
    dump: str | None = None
    """Only this dump (default: every dump)."""
    seed: int = 0
    """Another seed, other documents; the same seed, the same documents."""
    k: int = 5
    """How many documents (or clusters)."""


@dataclass
class SampleResult:
    """The documents drawn, and exactly where they were drawn from."""

    query: SampleQuery
    table: str
    version: int
    documents: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        q = self.query
        asked = {"kind": q.kind, "value": q.value, "dump": q.dump, "seed": q.seed, "k": q.k}
        return {"query": asked, "table": self.table, "version": self.version, "documents": self.documents}


def sample(lake: Lake, query: SampleQuery) -> SampleResult:
    """Up to ``query.k`` documents for the decision asked, from the table version asked."""
    if query.kind not in KINDS:
        raise InspectError(f"sample kind must be one of {', '.join(KINDS)}, not {query.kind!r}")
    if query.k < 1:
        raise InspectError(f"the number of samples must be at least 1, not {query.k}")
    if query.value is None and query.kind != "cluster":
        raise InspectError(f"sample {query.kind} needs a value")
    table = query.table or DEFAULT_TABLE[query.kind]
    result = SampleResult(query, table, table_version(lake, table, query.version))
    if query.kind == "cluster":
        result.documents = _clusters(lake, result) if query.value is None else cluster_members(lake, result)
        return result
    where = both(_condition(query.kind, str(query.value)), dump_filter(query.dump))
    chosen = smallest_keys(ids_of(stream(lake, table, result.version, where, ["id"])), query.k, query.seed)
    if query.kind == "reason":
        result.documents = rejected_documents(lake, result, chosen)
    else:
        rows = rows_by_id(lake, table, result.version, chosen, SAMPLE_COLUMNS, query.dump)
        result.documents = [document(rows[i], _signal_names(query.kind)) for i in chosen if i in rows]
    return result


def _condition(kind: str, value: str) -> pads.Expression:
    if kind == "reason":
        unit, _, reason = value.rpartition("/")
        term = pads.field("reason") == reason
        return term & (pads.field("filter") == unit) if unit else term
    if kind == "language":
        return pads.field("language") == value
    if kind == "domain":
        host = re.escape(value.strip().lower().strip("."))
        return pc.match_substring_regex(
            pads.field("url"), rf"^[a-z][a-z0-9+.-]*://([^/@]*@)?([^/]*\.)?{host}(:\d+)?([/?#]|$)", ignore_case=True
        )
    low, high = parse_bucket(value)
    score = pads.field("quality_score")
    return (score >= low) & ((score <= high) if high >= 1.0 else (score < high))


def parse_bucket(value: str) -> tuple[float, float]:
    """``LOW:HIGH`` (``HIGH`` excluded, except 1) into two floats in [0, 1]."""
    try:
        low, high = (float(x) for x in value.split(":"))
    except ValueError:
        raise InspectError(f"a score bucket is LOW:HIGH, e.g. 0.8:0.9, not {value!r}") from None
    if not 0 <= low < high <= 1:
        raise InspectError(f"a score bucket needs 0 <= LOW < HIGH <= 1, not {value!r}")
    return low, high


def _signal_names(kind: str) -> list[str]:
    return {"score": ["quality_score"], "language": ["language", "language_score"]}.get(kind, ["language"])


def document(row: dict[str, Any], signals: list[str]) -> dict[str, Any]:
    values = {name: _plain(row.get(name)) for name in signals if name in row}
    return {
        "id": row["id"],
        "dump": row["dump"],
        "url": row.get("url"),
        "excerpt": excerpt(row.get("text")),
        "signals": values,
    }


def _plain(value: Any) -> Any:
    return round(value, 5) if isinstance(value, float) else value


def rejected_documents(lake: Lake, result: SampleResult, chosen: list[str]) -> list[dict[str, Any]]:
    """Each chosen rejection with the signals of its deciding unit, its text taken from its stage's input."""
    columns = ["id", "dump", "url", "stage", "filter", "reason", "detail", "signals"]
    rows = rows_by_id(lake, result.table, result.version, chosen, columns, result.query.dump)
    texts: dict[str, dict[str, Any]] = {}
    for stage in sorted({r["stage"] for r in rows.values()}):
        source = TEXT_TABLE.get(stage)
        if source is None or lake.version(source) is None:
            continue
        version = upstream_version(lake, result.table, result.version, source) or lake.version(source)
        ids = [i for i, r in rows.items() if r["stage"] == stage]
        texts |= rows_by_id(lake, source, int(version or 0), ids, ["text"])
    out = []
    for doc_id in (i for i in chosen if i in rows):
        row = rows[doc_id]
        stored = json.loads(row["signals"] or "{}")
        names = UNIT_SIGNALS.get(row["filter"], list(stored))
        found = document({**row, "text": texts.get(doc_id, {}).get("text")}, [])
        found["signals"] = {n: stored[n] for n in names if n in stored}
        found |= {"stage": row["stage"], "decision": f"{row['filter']}/{row['reason']}"}
        found["detail"] = deciding_detail(row["detail"], found["decision"])
        out.append(found)
    return out


def deciding_detail(detail: str | None, code: str) -> str | None:
    """The part of a rejection's detail about its deciding rule (the filtered stage lists every failure)."""
    for part in (detail or "").split("; "):
        if part.startswith(f"{code}: "):
            return part.removeprefix(f"{code}: ")
    return detail


def cluster_members(
    lake: Lake,
    result: SampleResult,
    cluster_id: str | None = None,
    read: Mapping[str, dict[str, dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """The kept document of a cluster and up to ``k - 1`` removed members, each with its Jaccard similarity
    to the kept one: as stored by dedup, and recomputed from both texts (the stage's normalization and shingles).
    ``read``: removed members the caller read already per cluster id (:func:`removed_members`); a cluster
    not in it is read here."""
    query, cluster_id = result.query, cluster_id or result.query.value
    kept = rows_by_id(lake, result.table, result.version, [str(cluster_id)], SAMPLE_COLUMNS, query.dump)
    if not kept:
        raise InspectError(f"no cluster {cluster_id} in {result.table}@v{result.version}: give a kept document's id")
    head = kept[str(cluster_id)]
    removed = (read or {}).get(head["cluster_id"])
    if removed is None:
        removed = removed_members(lake, result, [head["cluster_id"]], query.dump)[head["cluster_id"]]
    chosen = smallest_keys(removed, max(query.k - 1, 0), query.seed) if query.k > 1 else []
    filtered_version = upstream_version(lake, result.table, result.version, "filtered")
    if filtered_version is None:
        filtered_version = table_version(lake, "filtered", None)
    texts = rows_by_id(lake, "filtered", filtered_version, [head["id"], *chosen], ["text", "url", "dump"])
    hasher = MinHasher(ngram=int(lake.lineage(result.table, result.version).config.get("ngram", 5)))
    anchor = _shingles(hasher, texts.get(head["id"], {}).get("text") or head["text"])
    members = [document(head, ["cluster_size"]) | {"member": "kept", "jaccard": 1.0}]
    for doc_id in chosen:
        row = texts.get(doc_id, {"id": doc_id, "dump": head["dump"]})
        similarity = round(jaccard(anchor, _shingles(hasher, row.get("text"))), 4)
        stored = removed[doc_id]
        member = {"member": stored["reason"], "jaccard": similarity, "stored_jaccard": stored["jaccard"]}
        members.append(document(row, []) | member | {"duplicate_of": stored["duplicate_of"]})
    return members


def removed_members(
    lake: Lake, result: SampleResult, clusters: Sequence[str], dump: str | None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per cluster id, the cluster's removed members, from the rejections written by the same dedup commit as
    the table version (of every dump unless ``dump`` is given: incremental dedup merges a later dump's copies
    into an earlier dump's cluster); one scan for all ``clusters``."""
    commit = lake.lineage(result.table, result.version).commit_id
    try:
        version = lake.version_of_commit("rejections", commit)
    except LookupError:
        version = table_version(lake, "rejections", None)
    markers = {cluster: f'"cluster_id": "{cluster}"' for cluster in clusters}
    found: dict[str, dict[str, dict[str, Any]]] = {cluster: {} for cluster in clusters}
    if not markers:
        return found
    marked = functools.reduce(
        operator.or_, (pc.match_substring(pads.field("signals"), marker) for marker in markers.values())
    )
    where = both(pads.field("stage") == "deduplicated", dump_filter(dump), marked)
    for batch in stream(lake, "rejections", version, where, ["id", "reason", "signals"]):
        for row in batch.to_pylist():
            signals = json.loads(row["signals"])
            member = {"reason": row["reason"], "jaccard": signals.get("jaccard")}
            member["duplicate_of"] = signals.get("duplicate_of")
            for cluster, marker in markers.items():
                if marker in row["signals"]:
                    found[cluster][row["id"]] = dict(member)
    return found


def _shingles(hasher: MinHasher, text: str | None) -> Any:
    return hasher.shingles([normalize_text(text or "").split()], unique=True)[0]


def _clusters(lake: Lake, result: SampleResult) -> list[dict[str, Any]]:
    """The ``k`` largest clusters (ties broken by the seed's draw), each as its kept document."""
    where = both(pads.field("cluster_size") > 1, dump_filter(result.query.dump))
    best: list[tuple[int, str]] = []
    seed = result.query.seed
    for batch in stream(lake, result.table, result.version, where, ["id", "cluster_size"]):
        pairs = zip(batch.column("cluster_size").to_pylist(), batch.column("id").to_pylist(), strict=True)
        best = heapq.nsmallest(result.query.k, [*best, *pairs], key=lambda p: (-p[0], sample_key(p[1], seed)))
    rows = rows_by_id(lake, result.table, result.version, [i for _, i in best], SAMPLE_COLUMNS, result.query.dump)
    return [document(rows[i], ["cluster_size"]) for _, i in best if i in rows]
