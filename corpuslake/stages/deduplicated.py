"""The deduplicated stage: exact and MinHash near-duplicates of a dump's filtered documents, clustered,
one document kept per cluster; optionally exact paragraph dedup of what is kept.

Workers hash batches of documents (normalized text, shingles, signatures, band keys); the caller
gathers the keys of the whole dump, and in ``incremental`` scope the matching keys of earlier dumps from
the ``minhash_index`` table, then clusters and decides (:func:`cluster_dump`).
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from corpuslake.dedup.clusters import check_sizes, choose_kept, components
from corpuslake.dedup.minhash import MinHasher, jaccard
from corpuslake.dedup.normalize import normalize_text

STAGE = "deduplicated"
STAGE_VERSION = "1"
EXACT_BAND = -1  # the index row holding a document's exact-text hash


@dataclass(frozen=True)
class DedupConfig:
    """Settings of the dedup stage; the defaults are FineWeb's MinHash (per dump, 5-grams, 14 x 8)."""

    scope: str = "per_dump"
    """``per_dump``: duplicates within the dump only (FineWeb). ``incremental``: also against everything
    kept from earlier dumps (dump names sorting before this one), read from the band index."""
    exact: bool = True
    """Drop documents whose normalized text equals another's."""
    near: bool = True
    """Drop MinHash near-duplicates."""
    ngram: int = 5
    """Words per shingle."""
    bands: int = 14
    """LSH bands; with ``rows`` this sets the similarity threshold, about (1/bands)^(1/rows)."""
    rows: int = 8
    """Signature values per band."""
    seed: int = 1
    """Seed of the hash permutations: signatures in one index must share it."""
    verify: bool = False
    """Check each candidate pair's exact shingle Jaccard before merging (slower, no false merges)."""
    verify_threshold: float = 0.8
    """Minimum Jaccard of a verified pair."""
    keep: tuple[str, ...] = ("earliest_dump", "longest_text")
    """Which cluster member is kept: rules applied in order (earliest_dump, latest_dump, longest_text,
    shortest_text), then the smallest id. In incremental scope a document kept by an earlier dump
    always wins: earlier dumps are never rewritten."""
    max_cluster_size: int = 10_000
    """A cluster larger than this stops the run with an error instead of deleting its members."""
    paragraphs: bool = False
    """Exact paragraph dedup (DCLM and Dolma style) over the kept documents, in crawl order, with a
    Bloom filter: a paragraph seen before is removed; a document left without text is dropped."""
    paragraph_fp_rate: float = 0.001
    """False-positive rate of the paragraph Bloom filter."""
    paragraph_capacity: int = 1_000_000
    """Paragraphs the Bloom filter is sized for (its bits per item are reported)."""
    batch_rows: int = 1_000
    """Documents per hashing job."""

    def hasher(self) -> MinHasher:
        return MinHasher(ngram=self.ngram, bands=self.bands, rows=self.rows, seed=self.seed)


@dataclass(frozen=True)
class HashJob:
    seq: int
    ids: list[str]
    texts: list[str]
    config: DedupConfig


@dataclass
class HashOutcome:
    """What a batch gave: per document its exact key, band keys, length and shingle count."""

    seq: int
    ids: list[str]
    exact: np.ndarray  # int64
    bands: np.ndarray  # int64, documents x bands
    lengths: np.ndarray  # int64, characters of the text
    shingle_counts: np.ndarray  # int64
    shingles: list[np.ndarray] = field(default_factory=list)  # kept only to verify candidate pairs
    seconds: float = 0.0

    @property
    def source_file(self) -> str:  # what the progress line names
        return f"batch {self.seq}"


def exact_key(normalized: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True
    )


def hash_batch(job: HashJob) -> HashOutcome:
    """Normalize, shingle and sign one batch of documents."""
    import time

    started = time.perf_counter()
    hasher = job.config.hasher()
    normalized = [normalize_text(t) for t in job.texts]
    words = [n.split() for n in normalized]
    shingles, offsets = hasher.shingles(words)
    signatures = hasher.signatures(shingles, offsets)
    kept_shingles: list[np.ndarray] = []
    if job.config.verify:
        sets, set_offsets = hasher.shingles(words, unique=True)
        kept_shingles = [sets[set_offsets[i] : set_offsets[i + 1]] for i in range(len(words))]
    return HashOutcome(
        seq=job.seq,
        ids=job.ids,
        exact=np.fromiter(map(exact_key, normalized), np.int64, len(normalized)),
        bands=hasher.band_keys(signatures),
        lengths=np.fromiter(map(len, job.texts), np.int64, len(job.texts)),
        shingle_counts=np.diff(offsets),
        shingles=kept_shingles,
        seconds=time.perf_counter() - started,
    )


@dataclass
class Earlier:
    """Index rows of earlier dumps that share a key with this dump: one node per earlier document."""

    ids: list[str]
    dumps: list[str]
    lengths: list[int]
    exact_keys: list[int | None]  # each node's exact-text key, when its index rows hold one
    exact: dict[int, list[int]]  # exact key -> node indices (among the earlier nodes)
    bands: dict[tuple[int, int], list[int]]  # (band, key) -> node indices
    shingles: dict[int, np.ndarray] = field(default_factory=dict)  # filled when verifying

    @classmethod
    def none(cls) -> "Earlier":
        return cls([], [], [], [], {}, {})

    @classmethod
    def from_rows(cls, rows: pa.Table) -> "Earlier":
        """From index rows (id, dump, band, key, text_chars) of earlier dumps."""
        found = cls.none()
        node_of: dict[str, int] = {}
        for row in rows.to_pylist():
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
    """What happens to each document of the dump."""

    kept: np.ndarray  # bool per document
    cluster_id: list[str]  # the kept member's id, per document
    cluster_size: np.ndarray  # members of the document's cluster (earlier-dump members included)
    kind: list[str]  # kept: none/exact/near/exact+near (what it absorbed); dropped: exact or near
    duplicate_of: list[str | None]
    duplicate_dump: list[str | None]
    similarity: list[float | None]  # verified Jaccard with the kept member, when known
    clusters_by_size: dict[int, int]


def cluster_dump(dump: str, outcomes: Sequence[HashOutcome], earlier: Earlier, config: DedupConfig) -> Decision:
    """Cluster the dump's documents (with the earlier-dump documents they share keys with) and decide."""
    ids = [i for o in outcomes for i in o.ids]
    n = len(ids)
    exact = np.concatenate([o.exact for o in outcomes]) if outcomes else np.zeros(0, np.int64)
    bands = np.concatenate([o.bands for o in outcomes]) if outcomes else np.zeros((0, config.bands), np.int64)
    lengths = np.concatenate([o.lengths for o in outcomes]) if outcomes else np.zeros(0, np.int64)
    counts = np.concatenate([o.shingle_counts for o in outcomes]) if outcomes else np.zeros(0, np.int64)
    shingles = [s for o in outcomes for s in o.shingles]
    total = n + len(earlier.ids)
    names = ids + earlier.ids
    dumps = [dump] * n + earlier.dumps
    all_lengths = lengths.tolist() + earlier.lengths

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
            for i in np.flatnonzero(counts > 0).tolist():  # documents without words have no signature
                buckets[int(bands[i, band])].append(i)
            for (b, key), members in earlier.bands.items():
                if b == band and key in buckets:
                    buckets[key].extend(n + m for m in members)
            for members in buckets.values():
                if len(members) > 1:
                    near_edges.extend(_bucket_edges(members, config, shingles, earlier, n))

    edges = [(a, b) for a, b in exact_edges] + [(a, b) for a, b, _ in near_edges]
    labels = components(total, edges)
    check_sizes(labels, config.max_cluster_size, names)
    if config.scope == "incremental" and earlier.ids:
        # an earlier dump's kept document always wins: earlier dumps are never rewritten
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
    """Edges of one LSH bucket: a star on its first member, or every verified pair when verifying."""
    if not config.verify:
        for m in members[1:]:
            yield members[0], m, None
        return
    for x, a in enumerate(members):
        for b in members[x + 1 :]:
            if a >= n and b >= n:
                continue  # two earlier documents: already decided by their own dumps
            value = jaccard(_shingles_of(a, shingles, earlier, n), _shingles_of(b, shingles, earlier, n))
            if value >= config.verify_threshold:
                yield a, b, value


def _shingles_of(node: int, shingles: list[np.ndarray], earlier: Earlier, n: int) -> np.ndarray:
    return shingles[node] if node < n else earlier.shingles[node - n]


def paragraph_keys(text: str) -> list[int]:
    """Hash of each paragraph (line) of ``text`` after normalization; blank paragraphs hash to 0."""
    keys = []
    for line in text.split("\n"):
        normalized = normalize_text(line)
        keys.append(exact_key(normalized) if normalized else 0)
    return keys
