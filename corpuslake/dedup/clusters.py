"""Clusters of duplicates from candidate edges, and which member each cluster keeps.

Connected components by union-find (path halving, union by index); a component larger than the alarm
size stops the run: with transitive closure, one bad bucket can chain thousands of unrelated documents
into a single cluster and delete them (the failure seen with short character shingles), so a runaway
cluster is an error to look at, never a silent deletion.
"""

from collections.abc import Iterable, Sequence

import numpy as np

POLICIES = ("earliest_dump", "latest_dump", "longest_text", "shortest_text")


class ClusterAlarmError(RuntimeError):
    """A duplicate cluster grew past the configured limit."""


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

    def labels(self) -> np.ndarray:
        return np.fromiter((self.find(i) for i in range(len(self.parent))), np.int64, len(self.parent))


def components(size: int, edges: Iterable[tuple[int, int]]) -> np.ndarray:
    """The component label (its smallest member) of each of ``size`` nodes."""
    forest = UnionFind(size)
    for a, b in edges:
        forest.union(a, b)
    return forest.labels()


def check_sizes(labels: np.ndarray, limit: int, names: Sequence[str]) -> None:
    """Raise ``ClusterAlarmError`` naming the largest cluster when one exceeds ``limit``."""
    if not len(labels):
        return
    values, counts = np.unique(labels, return_counts=True)
    worst = int(np.argmax(counts))
    if counts[worst] > limit:
        members = [names[i] for i in np.flatnonzero(labels == values[worst])[:5]]
        raise ClusterAlarmError(
            f"a duplicate cluster of {int(counts[worst])} documents exceeds max_cluster_size={limit} "
            f"(members include {', '.join(members)}); check the shingle size and band settings, turn on "
            "verify, or raise the limit if such clusters are expected"
        )


def choose_kept(
    labels: np.ndarray, dumps: Sequence[str], lengths: Sequence[int], ids: Sequence[str], policy: Sequence[str]
) -> np.ndarray:
    """For each node, the index of its cluster's kept member: the first by ``policy``, then smallest id."""
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown keep policy {unknown}; choose from {', '.join(POLICIES)}")
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
