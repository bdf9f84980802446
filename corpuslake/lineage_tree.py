"""The whole provenance of a pin or a table version: every table version, dump and input file behind it.

A commit's lineage names the upstream versions it *read*, and a stage reads the latest version of its
upstream table, which may have been written for another dump (``documents@v4`` for dump B can read
``crawl_files@v5``, made when dump C was scanned). So each upstream is followed to the version that last
wrote the dump in question at or before the version read (its *writer*): that is the commit whose rows
were used. A publication reads every dump it covers (the ``coverage`` of its catalog entry), so its tree
has one branch per dump; a mixture's branches are the publications it draws from.

The tree is a graph of nodes keyed by id (a pin, or ``table@vN``): a version read twice (the quality
model behind every dump's scores) is one node, printed once.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from corpuslake.catalog import Catalog, CatalogEntry
from corpuslake.lineage import Lineage, TableVersion
from corpuslake.pins import SCHEME
from corpuslake.store import Lake

INVENTORY = "crawl_files"
_FILE_COLUMNS = ["source_file", "path", "size", "sha256", "records", "format", "error"]


@dataclass(frozen=True)
class LineageNode:
    """One pin or one table version, with what it was built from (node ids, in order)."""

    id: str
    kind: Literal["pin", "version"]
    detail: Mapping[str, Any]
    upstream: tuple[str, ...] = ()
    files: tuple[Mapping[str, Any], ...] = ()
    """The input files a ``crawl_files`` version lists for its dump."""


@dataclass(frozen=True)
class LineageTree:
    target: str
    roots: tuple[str, ...]
    nodes: Mapping[str, LineageNode] = field(default_factory=dict)

    def walk(self) -> Iterator[tuple[int, LineageNode, bool]]:
        """Depth first: (depth, node, first time seen); a node seen before is not descended again."""
        seen: set[str] = set()
        stack = [(0, root) for root in reversed(self.roots)]
        while stack:
            depth, node_id = stack.pop()
            node = self.nodes[node_id]
            first = node_id not in seen
            seen.add(node_id)
            yield depth, node, first
            if first:
                stack.extend((depth + 1, up) for up in reversed(node.upstream))

    @property
    def dumps(self) -> list[str]:
        return sorted({str(n.detail["partition"]) for n in self.nodes.values() if n.detail.get("table") == INVENTORY})

    @property
    def files(self) -> list[Mapping[str, Any]]:
        return [f for n in self.nodes.values() for f in n.files]


def lineage_tree(lake: Lake, target: str) -> LineageTree:
    """The tree behind ``target``: a pin ``corpuslake://name@N``, or ``TABLE`` / ``TABLE@N`` (latest if no
    number). A table version holding several dumps has one root per dump (the version that wrote it)."""
    walker = _Walker(lake)
    if target.startswith(SCHEME):
        entry = Catalog(lake).resolve(target)
        return LineageTree(entry.uri, (walker.pin(entry),), walker.nodes)
    table, _, number = target.partition("@")
    latest = lake.version(table)
    if latest is None:
        raise LookupError(f"table {table} does not exist in {lake.root}")
    version = int(number.removeprefix("v")) if number else latest
    if not 0 <= version <= latest:
        raise LookupError(f"{table} has no version {version} (its latest is {latest})")
    publication = walker.published(TableVersion(table, version))
    if publication is not None:  # a publication's table version: the same tree as its pin
        return LineageTree(publication.uri, (walker.pin(publication),), walker.nodes)
    writers = walker.writers(table, version)
    own = walker.lineage(TableVersion(table, version))
    if not writers or (own is not None and list(writers.items()) == [(own.partition, version)]):
        roots: tuple[str, ...] = (walker.version(TableVersion(table, version)),)
    else:
        roots = tuple(walker.version(TableVersion(table, writers[d])) for d in sorted(writers))
    return LineageTree(f"{table}@v{version}", roots, walker.nodes)


class _Walker:
    """Builds nodes once each, reading every commit's lineage at most once."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.nodes: dict[str, LineageNode] = {}
        self._lineages: dict[TableVersion, Lineage | None] = {}
        self._writers: dict[TableVersion, dict[str, int]] = {}
        self._published = {(e.table, e.delta_version): e for e in Catalog(lake).entries()}

    def lineage(self, node: TableVersion) -> Lineage | None:
        if node not in self._lineages:
            try:
                self._lineages[node] = self.lake.lineage(node.table, node.version)
            except LookupError:  # written by another tool, or its commit file is gone
                self._lineages[node] = None
        return self._lineages[node]

    def writers(self, table: str, version: int) -> dict[str, int]:
        """The version that last wrote each partition (dump) of ``table`` at or before ``version``."""
        key = TableVersion(table, version)
        if key not in self._writers:
            found: dict[str, int] = {}
            for v in range(version, -1, -1):
                lineage = self.lineage(TableVersion(table, v))
                if lineage is not None and lineage.partition and lineage.partition not in found:
                    found[lineage.partition] = v
            self._writers[key] = found
        return self._writers[key]

    def published(self, node: TableVersion) -> CatalogEntry | None:
        return self._published.get((node.table, node.version))

    def _read(self, read: TableVersion, dump: str | None) -> str:
        """The node for ``read`` as seen from dump ``dump``: a publication, or the version that wrote the dump."""
        entry = self.published(read)
        if entry is not None:
            return self.pin(entry)
        writer = self.writers(read.table, read.version).get(dump) if dump else None
        return self.version(TableVersion(read.table, read.version if writer is None else writer))

    def pin(self, entry: CatalogEntry) -> str:
        if entry.uri in self.nodes:
            return entry.uri
        dumps, left_out = entry_dumps(entry)
        upstream: list[str] = []
        for text in entry.lineage.get("upstream", []):
            table, _, number = str(text).rpartition("@v")
            read = TableVersion(table, int(number))
            for dump in [None] if self.published(read) or not dumps else dumps:
                upstream.append(self._read(read, dump))
        detail = {
            "name": entry.name,
            "number": entry.number,
            "publication": entry.kind,
            "table": entry.table,
            "version": entry.delta_version,
            "documents": entry.documents,
            "tokens": entry.tokens,
            "manifest_sha256": entry.manifest_sha256,
            "dumps": dumps,
            "left_out": left_out,
        }
        self.nodes[entry.uri] = LineageNode(entry.uri, "pin", detail, tuple(dict.fromkeys(upstream)))
        return entry.uri

    def version(self, node: TableVersion) -> str:
        node_id = str(node)
        if node_id in self.nodes:
            return node_id
        lineage = self.lineage(node)
        detail: dict[str, Any] = {"table": node.table, "version": node.version, "lineage": lineage is not None}
        if lineage is None:
            self.nodes[node_id] = LineageNode(node_id, "version", detail)
            return node_id
        detail |= {
            "asset": lineage.asset,
            "partition": lineage.partition,
            "run_id": lineage.run_id,
            "code_version": lineage.code_version,
            "config_fingerprint": lineage.config_fingerprint,
            "commit_id": lineage.commit_id,
        }
        files: tuple[Mapping[str, Any], ...] = ()
        if node.table == INVENTORY and lineage.partition:
            rows = self.lake.read(INVENTORY, node.version, dumps=[lineage.partition], columns=_FILE_COLUMNS)
            files = tuple({"dump": lineage.partition, **row} for row in rows.to_pylist())
        upstream = tuple(dict.fromkeys(self._read(u, lineage.partition) for u in lineage.upstream))
        self.nodes[node_id] = LineageNode(node_id, "version", detail, upstream, files)
        return node_id


def entry_dumps(entry: CatalogEntry) -> tuple[list[str], dict[str, Any]]:
    """The dumps a publication covers and those it left out (with why): a mixture's, over its sources."""
    coverage = entry.report.get("coverage", {})
    coverages = list(coverage["sources"].values()) if "sources" in coverage else [coverage]
    # Entries published before coverage was recorded still have their rows counted per dump.
    dumps = sorted({str(d) for c in coverages for d in c.get("dumps", [])} or set(entry.report.get("by_dump", {})))
    left_out = {str(d): why for c in coverages for d, why in c.get("left_out", {}).items()}
    return dumps, left_out


def render_text(tree: LineageTree) -> list[str]:
    """An indented tree: a node read twice is printed once, later mentions say so."""
    lines = [f"{tree.target}: {len(tree.roots)} dump(s)"] if len(tree.roots) > 1 else []
    base = 1 if len(tree.roots) > 1 else 0
    for depth, node, first in tree.walk():
        indent = "  " * (depth + base)
        if not first:
            lines.append(f"{indent}{node.id}  (shown above)")
            continue
        lines.append(indent + _describe(node))
        for f in node.files:
            why = f"  error={f['error']}" if f["error"] else ""
            lines.append(
                f"{indent}  {f['path']}  sha256={f['sha256'][:16]}  records={f['records']} "
                f"format={f['format']} size={f['size']:,}{why}"
            )
    versions = sum(1 for n in tree.nodes.values() if n.kind == "version")
    dumps = tree.dumps
    lines.append(
        f"{len(tree.nodes)} node(s): {versions} table version(s), {len(dumps)} dump(s)"
        f"{' (' + ', '.join(dumps) + ')' if dumps else ''}, {len(tree.files)} input file(s)"
    )
    return lines


def _describe(node: LineageNode) -> str:
    d = node.detail
    if node.kind == "pin":
        left = "".join(f"; left out {dump}: {why}" for dump, why in d["left_out"].items())
        return (
            f"{node.id}  {d['publication']} {d['table']}@v{d['version']}  documents={d['documents']:,} "
            f"tokens={d['tokens']:,}  dumps={','.join(d['dumps']) or '-'}{left}"
        )
    if not d["lineage"]:
        return f"{node.id}  (no corpuslake lineage)"
    return (
        f"{node.id}  asset={d['asset']} partition={d['partition']} run={d['run_id']} "
        f"code={d['code_version']} config={d['config_fingerprint']}"
    )


def render_json(tree: LineageTree) -> str:
    """The tree for tools: nodes in depth-first order, each naming its upstream nodes by id."""
    order = [node for _, node, first in tree.walk() if first]
    document = {
        "target": tree.target,
        "roots": list(tree.roots),
        "dumps": tree.dumps,
        "files": tree.files,
        "nodes": [
            {"id": n.id, "kind": n.kind, **n.detail, "upstream": list(n.upstream), "files": list(n.files)}
            for n in order
        ],
    }
    return json.dumps(document, indent=2, sort_keys=False, default=str)
