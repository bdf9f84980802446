"""The in-memory dedup clustering the product used before its DuckDB cluster step, kept as the
reference the tests compare that step with: union-find over the same candidate edges, in one process.

It reads the hashing jobs' files (``corpuslake.stages.deduplicated.hash_batch``) and, for incremental
runs, the earlier dumps' index rows as a table. :func:`decide_both` runs both and asserts they agree.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from corpuslake.dedup import clusters
from corpuslake.dedup.clusters import POLICIES, ClusterAlarmError
from corpuslake.dedup.minhash import jaccard
from corpuslake.dedup.normalize import normalize_text
from corpuslake.schemas import MINHASH_INDEX
from corpuslake.stages.deduplicated import EXACT_BAND, DedupConfig, HashJob, ShingleJob, hash_batch, shingle_batch


@dataclass
class Hashed:
    """What the hashing jobs wrote, gathered: per document its id, exact key, band keys and length."""

    ids: list[str]
    exact: np.ndarray
    bands: np.ndarray  # documents x bands (zeros for a document without words)
    lengths: np.ndarray
    has_words: np.ndarray
    shingles: list[np.ndarray]

    @classmethod
    def read(cls, paths: Sequence[str], config: DedupConfig) -> "Hashed":
        table = pa.concat_tables([pq.read_table(p) for p in paths])
        column = table.column("bands").combine_chunks()
        has_words = column.is_valid().to_numpy(zero_copy_only=False)
        bands = np.zeros((len(table), config.bands), np.int64)  # zeros for a document without words
        bands[has_words] = column.flatten().to_numpy().reshape(-1, config.bands)
        shingles = table.column("shingles").to_pylist() if config.verify else []
        return cls(
            ids=table.column("id").to_pylist(),
            exact=table.column("exact").to_numpy(),
            bands=bands,
            lengths=table.column("text_chars").to_numpy(),
            has_words=has_words,
            shingles=[np.array(s, np.int64) for s in shingles],
        )


@dataclass
class Earlier:
    """Index rows of earlier dumps that share a key with this dump: one node per earlier document."""

    ids: list[str]
    dumps: list[str]
    lengths: list[int]
    exact_keys: list[int | None]
    exact: dict[int, list[int]]
    bands: dict[tuple[int, int], list[int]]
    shingles: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def none(cls) -> "Earlier":
        return cls([], [], [], [], {}, {})

    @classmethod
    def lookup(cls, index: pa.Table, hashed: Hashed, dump: str) -> "Earlier":
        """The rows of ``index`` from dumps before ``dump`` whose key the dump has."""
        wanted = set(hashed.exact.tolist()) | set(hashed.bands[hashed.has_words].ravel().tolist())
        rows = [r for r in index.to_pylist() if r["dump"] < dump and r["key"] in wanted]
        found = cls.none()
        node_of: dict[str, int] = {}
        for row in sorted(rows, key=lambda r: (r["dump"], r["id"], r["band"])):
            node = node_of.get(row["id"])
            if node is None:
                node = node_of[row["id"]] = len(found.ids)
                found.ids.append(row["id"])
                found.dumps.append(row["dump"])
                found.lengths.append(row["text_chars"])
                found.exact_keys.append(None)
            if row["band"] == EXACT_BAND:
                found.exact.setdefault(row["key"], []).append(node)
                found.exact_keys[node] = row["key"]
            else:
                found.bands.setdefault((row["band"], row["key"]), []).append(node)
        return found


@dataclass
class Decision:
    kept: np.ndarray
    cluster_id: list[str]
    cluster_size: np.ndarray
    kind: list[str]
    duplicate_of: list[str | None]
    duplicate_dump: list[str | None]
    similarity: list[float | None]
    clusters_by_size: dict[int, int]


class UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def check_sizes(labels: np.ndarray, limit: int, names: Sequence[str]) -> None:
    if not len(labels):
        return
    values, counts = np.unique(labels, return_counts=True)
    worst = int(np.argmax(counts))
    if counts[worst] > limit:
        members = [names[i] for i in np.flatnonzero(labels == values[worst])[:5]]
        raise ClusterAlarmError(f"a duplicate cluster of {int(counts[worst])} documents ({', '.join(members)})")


def choose_kept(
    labels: np.ndarray, dumps: Sequence[str], lengths: Sequence[int], ids: Sequence[str], policy: Sequence[str]
) -> np.ndarray:
    assert all(p in POLICIES for p in policy)
    dump_rank = {d: i for i, d in enumerate(sorted(set(dumps)))}

    def key(i: int) -> tuple[object, ...]:
        parts: list[object] = []
        for rule in policy:
            if rule == "earliest_dump":
                parts.append(dump_rank[dumps[i]])
            elif rule == "latest_dump":
                parts.append(-dump_rank[dumps[i]])
            elif rule == "longest_text":
                parts.append(-lengths[i])
            else:
                parts.append(lengths[i])
        parts.append(ids[i])
        return tuple(parts)

    best: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        current = best.get(label)
        if current is None or key(i) < key(current):
            best[label] = i
    return np.fromiter((best[label] for label in labels.tolist()), np.int64, len(labels))


def cluster_dump(dump: str, hashed: Hashed, earlier: Earlier, config: DedupConfig) -> Decision:
    """Cluster the dump's documents (with the earlier-dump documents they share keys with) and decide."""
    ids, exact, bands, shingles = hashed.ids, hashed.exact, hashed.bands, hashed.shingles
    n = len(ids)
    total = n + len(earlier.ids)
    names = ids + earlier.ids
    dumps = [dump] * n + earlier.dumps
    all_lengths = hashed.lengths.tolist() + earlier.lengths

    exact_edges: list[tuple[int, int]] = []
    if config.exact:
        groups: dict[int, list[int]] = defaultdict(list)
        for i, key in enumerate(exact.tolist()):
            groups[key].append(i)
        for key, members in earlier.exact.items():
            groups[key].extend(n + m for m in members)
        exact_edges = [(members[0], m) for members in groups.values() for m in members[1:]]

    near_edges: list[tuple[int, int, float | None]] = []
    if config.near:
        for band in range(config.bands):
            buckets: dict[int, list[int]] = defaultdict(list)
            for i in np.flatnonzero(hashed.has_words).tolist():
                buckets[int(bands[i, band])].append(i)
            for (b, key), members in earlier.bands.items():
                if b == band and key in buckets:
                    buckets[key].extend(n + m for m in members)
            for members in buckets.values():
                if len(members) > 1:
                    near_edges.extend(_bucket_edges(members, config, shingles, earlier, n))

    forest = UnionFind(total)
    for a, b in [*exact_edges, *[(a, b) for a, b, _ in near_edges]]:
        forest.union(a, b)
    labels = np.fromiter((forest.find(i) for i in range(total)), np.int64, total)
    check_sizes(labels, config.max_cluster_size, names)
    if config.scope == "incremental" and earlier.ids:
        policy = ("earliest_dump", *[p for p in config.keep if p not in ("earliest_dump", "latest_dump")])
    else:
        policy = config.keep
    keeper = choose_kept(labels, dumps, all_lengths, names, policy)
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    size_of = sizes[inverse]

    similarity: dict[tuple[int, int], float] = {}
    for a, b, value in near_edges:
        if value is not None:
            similarity[(a, b)] = similarity[(b, a)] = value
    exact_of: list[int | None] = [*exact.tolist(), *earlier.exact_keys]
    kinds_absorbed: dict[int, set[str]] = defaultdict(set)
    kind: list[str] = []
    for i in range(n):
        k = int(keeper[i])
        if k == i:
            kind.append("")
            continue
        kind.append("exact" if exact_of[k] == exact_of[i] else "near")
        kinds_absorbed[k].add(kind[-1])
    for i in range(n):
        if keeper[i] == i:
            absorbed = kinds_absorbed.get(i, set())
            kind[i] = "+".join(sorted(absorbed)) if absorbed else "none"
    kept = keeper[:n] == np.arange(n)
    clusters_by_size: dict[int, int] = defaultdict(int)
    _, first_members = np.unique(labels[:n], return_index=True)
    for size in size_of[first_members].tolist():
        clusters_by_size[int(size)] += 1
    return Decision(
        kept=kept,
        cluster_id=[names[int(k)] for k in keeper[:n]],
        cluster_size=size_of[:n],
        kind=kind,
        duplicate_of=[None if kept[i] else names[int(keeper[i])] for i in range(n)],
        duplicate_dump=[None if kept[i] else dumps[int(keeper[i])] for i in range(n)],
        similarity=[None if kept[i] else similarity.get((i, int(keeper[i]))) for i in range(n)],
        clusters_by_size=dict(sorted(clusters_by_size.items())),
    )


def _bucket_edges(
    members: list[int], config: DedupConfig, shingles: list[np.ndarray], earlier: Earlier, n: int
) -> Iterator[tuple[int, int, float | None]]:
    if not config.verify:
        for m in members[1:]:
            yield members[0], m, None
        return
    for x, a in enumerate(members):
        for b in members[x + 1 :]:
            if a >= n and b >= n:
                continue
            value = jaccard(_shingles_of(a, shingles, earlier, n), _shingles_of(b, shingles, earlier, n))
            if value >= config.verify_threshold:
                yield a, b, value


def _shingles_of(node: int, shingles: list[np.ndarray], earlier: Earlier, n: int) -> np.ndarray:
    return shingles[node] if node < n else earlier.shingles[node - n]


# --- the DuckDB step beside the reference ----------------------------------------------------------


def hash_files(staging: Path, ids: list[str], texts: list[str], config: DedupConfig) -> list[str]:
    rows = pa.table({"id": ids, "text": texts})
    step = config.batch_rows
    return [
        hash_batch(HashJob(seq, rows.slice(at, step), str(staging), config)).path
        for seq, at in enumerate(range(0, len(texts), step))
    ]


def index_rows(dump: str, ids: list[str], texts: list[str], tmp: Path) -> pa.Table:
    """Band-index rows of documents kept by an earlier dump (what the stage writes for them)."""
    table = pa.concat_tables(pq.read_table(p) for p in hash_files(tmp / uuid.uuid4().hex, ids, texts, DedupConfig()))
    rows = []
    for doc in table.to_pylist():
        rows.append(
            {"dump": dump, "band": EXACT_BAND, "key": doc["exact"], "id": doc["id"], "text_chars": doc["text_chars"]}
        )
        for band, key in enumerate(doc["bands"] or []):
            rows.append({"dump": dump, "band": band, "key": key, "id": doc["id"], "text_chars": doc["text_chars"]})
    return pa.Table.from_pylist(rows, schema=MINHASH_INDEX)


def decide_both(
    tmp: Path,
    texts: list[str],
    config: DedupConfig,
    *,
    dump: str = "D",
    index: pa.Table | None = None,
    earlier_texts: dict[str, str] | None = None,
    ids: list[str] | None = None,
) -> Decision:
    """Decide with the DuckDB step and with the reference; assert they agree; return the decision."""
    staging = tmp / uuid.uuid4().hex
    staging.mkdir()
    ids = ids or [f"{dump}-{i:05d}" for i in range(len(texts))]
    files = hash_files(staging, ids, texts, config)
    hashed = Hashed.read(files, config)
    index = MINHASH_INDEX.empty_table() if index is None else index
    earlier = Earlier.lookup(index, hashed, dump)
    for node, doc_id in enumerate(earlier.ids):
        words = normalize_text((earlier_texts or {}).get(doc_id, "")).split()
        earlier.shingles[node] = config.hasher().shingles([words], unique=True)[0].view(np.int64)
    with clusters.connect(staging, "256MB") as con:
        clusters.load_dump(con, files, dump, config.verify)
        con.register("earlier_index", index.to_reader())  # a stream, as from an object-store lake
        matched = clusters.load_earlier(con, dump)
        if config.verify:
            texts_of = earlier_texts or {}
            rows = pa.table({"id": list(texts_of), "text": list(texts_of.values())})
            parts = [shingle_batch(ShingleJob(0, rows, str(staging), config))] if rows.num_rows else []
            clusters.load_earlier_shingles(con, parts)
        try:
            sizes = clusters.decide_all(con, config, staging / "decisions", earlier_matched=matched > 0)
        except ClusterAlarmError:
            with pytest.raises(ClusterAlarmError):
                cluster_dump(dump, hashed, earlier, config)
            raise
    reference = cluster_dump(dump, hashed, earlier, config)
    assert matched == len(earlier.ids)
    got = (
        pads.dataset(staging / "decisions", partitioning="hive")
        .to_table()
        .sort_by([("seq", "ascending"), ("row", "ascending")])
    )
    assert got.column("id").to_pylist() == ids
    assert got.column("kept").to_pylist() == reference.kept.tolist()
    assert got.column("cluster_id").to_pylist() == reference.cluster_id
    assert got.column("cluster_size").to_pylist() == reference.cluster_size.tolist()
    assert got.column("kind").to_pylist() == reference.kind
    assert got.column("duplicate_of").to_pylist() == reference.duplicate_of
    assert got.column("duplicate_dump").to_pylist() == reference.duplicate_dump
    assert got.column("similarity").to_pylist() == reference.similarity
    assert sizes == reference.clusters_by_size
    return reference
