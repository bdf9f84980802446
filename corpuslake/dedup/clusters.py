"""Clusters of duplicates out of core: candidate pairs from shared keys, connected components, and the
member each cluster keeps, computed by DuckDB over the hash files the workers wrote.

Why DuckDB rather than Polars streaming or Ray Data: past its memory limit DuckDB spills its hash joins,
aggregations and sorts to a temp folder, so this step's memory is set by configuration, not by the dump
(bench/dedup_throughput.py: the same peak at 0.5 M and 1 M documents); it reads the workers' Parquet
files by path and Arrow streams as they are; the label propagation loop is a few SQL statements over
tables it keeps in a database file; and it is one library, with no cluster of its own. Polars' streaming
engine covers fewer of these operators out of core (the self-join of verification, the window that picks
each cluster's kept member), and Ray Data would send the whole edge list through its object store at
every round of the loop, for a step that fits one machine's disk.

The graph has a node per document of the dump (``seq << 32 | row``, so node order is crawl order) and
per earlier-dump document sharing a key with it (``EARLIER`` plus its rank by dump, then id). Edges: a
star over each group of equal exact keys and over each LSH bucket (every pair above the Jaccard
threshold instead, when verifying; never a pair of two earlier documents). Components by min-label
propagation with pointer jumping: each round a node takes the smallest label among itself and its
neighbours, then the label of its label, until no label changes; labels only shrink and stay inside
the component, so the fixed point labels each component with its smallest node.

A component larger than ``max_cluster_size`` stops the run: with transitive closure, one bad bucket can
chain thousands of unrelated documents into a single cluster and delete them (the failure seen with
short character shingles), so a runaway cluster is an error to look at, never a silent deletion.

The decisions are those of the in-memory reference the tests keep (union-find over the same edges):
kept member by the keep policy, then smallest id; ``dup_kind`` exact when the kept member's exact key
equals the document's, else near; a kept document lists what it absorbed.
"""

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from corpuslake.stages.deduplicated import DedupConfig

POLICIES = ("earliest_dump", "latest_dump", "longest_text", "shortest_text")
EARLIER = 1 << 62
"""The first node number of earlier-dump documents (above every ``seq << 32 | row``)."""

# The keep rules as ORDER BY terms: the only SQL text assembled here, from these constants alone.
_ORDER = {
    "earliest_dump": "dump ASC",
    "latest_dump": "dump DESC",
    "longest_text": "text_chars DESC",
    "shortest_text": "text_chars ASC",
}


# The columns of the hash files the cluster step reads (corpuslake.stages.deduplicated.hash_batch).
_NO_HASHES = pa.schema(
    [
        ("seq", pa.int32()),
        ("row", pa.int32()),
        ("id", pa.string()),
        ("exact", pa.int64()),
        ("text_chars", pa.int64()),
        ("bands", pa.list_(pa.int64())),
        ("shingles", pa.list_(pa.int64())),
    ]
)

# Edges from the smallest node of each group of equal keys to the group's other members.
_EXACT_STAR = (
    "INSERT INTO edges SELECT g.first, m.node FROM exact_members m JOIN (SELECT key, min(node) AS first "
    "FROM exact_members GROUP BY key HAVING count(*) > 1) g USING (key) WHERE m.node <> g.first"
)
_BAND_STAR = (
    "INSERT INTO edges SELECT g.first, m.node FROM band_members m JOIN (SELECT band, key, min(node) AS first "
    "FROM band_members GROUP BY band, key HAVING count(*) > 1) g USING (band, key) WHERE m.node <> g.first"
)


class ClusterAlarmError(RuntimeError):
    """A duplicate cluster grew past the configured limit."""


def check_policy(policy: tuple[str, ...]) -> None:
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown keep policy {unknown}; choose from {', '.join(POLICIES)}")


def connect(staging: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A database file and spill folder under ``staging``, limited to ``memory_limit``."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "temp_directory": str(staging / "spill"),
        "preserve_insertion_order": False,  # no step needs it, and it costs memory
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    return duckdb.connect(str(staging / "clusters.duckdb"), config=config)


def load_dump(con: duckdb.DuckDBPyConnection, hash_files: list[str], dump: str, verify: bool) -> None:
    """Tables ``docs`` (one row per document), ``bands`` (one per band key) and ``shingles`` from the
    workers' hash files."""
    if hash_files:
        con.read_parquet(hash_files).create_view("hashes")
    else:  # a dump partition without documents
        con.register("hashes", _NO_HASHES.empty_table())
    con.execute(
        "CREATE TABLE docs AS SELECT (seq::BIGINT << 32) + row AS node, seq, row, id, $dump AS dump, exact, text_chars "
        "FROM hashes",
        {"dump": dump},
    )
    con.execute(
        "CREATE TABLE bands AS SELECT node, (generate_subscripts(bands, 1) - 1)::SMALLINT AS band, "
        "unnest(bands) AS key FROM (SELECT (seq::BIGINT << 32) + row AS node, bands FROM hashes "
        "WHERE bands IS NOT NULL)"
    )
    con.execute("CREATE VIEW dump_keys AS SELECT exact AS key FROM docs UNION ALL SELECT key FROM bands")
    con.execute("CREATE TABLE shingles (node BIGINT, shingles BIGINT[])")
    if verify:
        con.execute("INSERT INTO shingles SELECT (seq::BIGINT << 32) + row, shingles FROM hashes")


def load_earlier(con: duckdb.DuckDBPyConnection, dump: str) -> int:
    """Tables ``earlier_rows`` (index rows of dumps before ``dump`` whose key the dump has) and ``earlier``
    (one node per such document) from ``earlier_index``, a view or Arrow stream of index rows; return the
    number of earlier documents."""
    # one pass over the index: an Arrow stream can be read only once
    con.execute(
        "CREATE TABLE earlier_rows AS SELECT dump, band, key, id, text_chars FROM earlier_index "
        "WHERE dump < $dump AND key IN (SELECT key FROM dump_keys)",
        {"dump": dump},
    )
    con.execute(
        "CREATE TABLE earlier AS SELECT $base + dense_rank() OVER (ORDER BY dump, id) - 1 AS node, id, dump, "
        "text_chars, exact FROM (SELECT dump, id, any_value(text_chars) AS text_chars, "
        "max(key) FILTER (WHERE band = -1) AS exact FROM earlier_rows GROUP BY dump, id)",
        {"base": EARLIER},
    )
    con.execute(
        "CREATE TABLE nodes AS SELECT node, id, dump, text_chars, exact FROM docs "
        "UNION ALL SELECT node, id, dump, text_chars, exact FROM earlier"
    )
    return int(_one(con, "SELECT count(*) FROM earlier")[0])


def candidate_edges(con: duckdb.DuckDBPyConnection, *, exact: bool, near: bool, verify_threshold: float | None) -> None:
    """Table ``edges`` (a, b) and, when verifying, ``similar_pairs`` (a < b, jaccard) of the verified pairs."""
    con.execute("CREATE TABLE edges (a BIGINT, b BIGINT)")
    con.execute("CREATE TABLE similar_pairs (a BIGINT, b BIGINT, jaccard DOUBLE)")
    if exact:
        con.execute(
            "CREATE TABLE exact_members AS SELECT node, exact AS key FROM docs UNION ALL "
            "SELECT e.node, r.key FROM earlier_rows r JOIN earlier e USING (dump, id) WHERE r.band = -1"
        )
        con.execute(_EXACT_STAR)
    if not near:
        return
    con.execute(
        "CREATE TABLE band_members AS SELECT node, band, key FROM bands UNION ALL "
        "SELECT e.node, r.band, r.key FROM earlier_rows r JOIN earlier e USING (dump, id) "
        "WHERE r.band >= 0 AND EXISTS (SELECT 1 FROM bands b WHERE b.band = r.band AND b.key = r.key)"
    )
    if verify_threshold is None:
        con.execute(_BAND_STAR)
        return
    con.execute(
        "CREATE TABLE pairs AS SELECT DISTINCT x.node AS a, y.node AS b FROM band_members x JOIN band_members y "
        "ON x.band = y.band AND x.key = y.key AND x.node < y.node WHERE x.node < $base",  # never two earlier ones
        {"base": EARLIER},
    )
    con.execute(
        "INSERT INTO similar_pairs SELECT a, b, jaccard FROM (SELECT a, b, CASE WHEN la + lb = 0 THEN 1.0 "
        "ELSE shared / (la + lb - shared) END AS jaccard FROM (SELECT p.a, p.b, "
        "len(list_intersect(x.shingles, y.shingles))::DOUBLE AS shared, len(x.shingles) AS la, "
        "len(y.shingles) AS lb FROM pairs p JOIN shingles x ON x.node = p.a JOIN shingles y ON y.node = p.b)) "
        "WHERE jaccard >= $threshold",
        {"threshold": verify_threshold},
    )
    con.execute("INSERT INTO edges SELECT a, b FROM similar_pairs")


def load_earlier_shingles(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    """Shingle sets of the earlier nodes (an earlier document whose text was not found has none)."""
    if files:
        con.read_parquet(files).create_view("earlier_shingle_files")
        found = "SELECT id, shingles FROM earlier_shingle_files"
    else:
        found = "SELECT NULL::VARCHAR AS id, NULL::BIGINT[] AS shingles WHERE false"
    con.execute(
        "INSERT INTO shingles SELECT e.node, coalesce(s.shingles, []) FROM earlier e LEFT JOIN (" + found + ") s "
        "USING (id)"
    )


def components(con: duckdb.DuckDBPyConnection) -> int:
    """Table ``labels`` (node, label): each node of an edge and the smallest node of its component.
    Returns the number of rounds."""
    con.execute("CREATE TABLE adjacency AS SELECT a AS src, b AS dst FROM edges UNION SELECT b, a FROM edges")
    con.execute("CREATE TABLE labels AS SELECT src AS node, least(src, min(dst)) AS label FROM adjacency GROUP BY src")
    rounds = 0
    while True:
        rounds += 1
        con.execute(
            "CREATE OR REPLACE TABLE spread AS SELECT l.node, least(l.label, m.label) AS label FROM labels l "
            "JOIN (SELECT a.src AS node, min(n.label) AS label FROM adjacency a JOIN labels n ON n.node = a.dst "
            "GROUP BY a.src) m USING (node)"
        )
        # pointer jumping: a node's label's label is in the same component and no larger
        con.execute(
            "CREATE OR REPLACE TABLE jumped AS SELECT s.node, least(s.label, t.label) AS label FROM spread s "
            "JOIN spread t ON t.node = s.label"
        )
        changed = _one(con, "SELECT count(*) FROM jumped j JOIN labels l USING (node) WHERE j.label <> l.label")[0]
        con.execute("DROP TABLE labels")
        con.execute("ALTER TABLE jumped RENAME TO labels")
        if not changed:
            return rounds


def check_sizes(con: duckdb.DuckDBPyConnection, limit: int) -> None:
    """Raise ``ClusterAlarmError`` naming the largest cluster when one exceeds ``limit``."""
    worst = _one(con, "SELECT label, count(*) AS size FROM labels GROUP BY label ORDER BY size DESC, label LIMIT 1")
    if worst is None or worst[1] <= limit:
        return
    members = con.execute(
        "SELECT n.id FROM labels l JOIN nodes n USING (node) WHERE l.label = $label ORDER BY l.node LIMIT 5",
        {"label": worst[0]},
    ).fetchall()
    raise ClusterAlarmError(
        f"a duplicate cluster of {worst[1]} documents exceeds max_cluster_size={limit} "
        f"(members include {', '.join(m[0] for m in members)}); check the shingle size and band settings, turn on "
        "verify, or raise the limit if such clusters are expected"
    )


def decide_all(
    con: duckdb.DuckDBPyConnection, config: DedupConfig, folder: Path, *, earlier_matched: bool
) -> dict[int, int]:
    """Edges, components, the size alarm and the decisions (see :func:`decide`), once the dump and the
    earlier documents are loaded."""
    threshold = config.verify_threshold if config.verify else None
    candidate_edges(con, exact=config.exact, near=config.near, verify_threshold=threshold)
    components(con)
    check_sizes(con, config.max_cluster_size)
    if config.scope == "incremental" and earlier_matched:
        # an earlier dump's kept document always wins: earlier dumps are never rewritten
        policy = ("earliest_dump", *[p for p in config.keep if p not in ("earliest_dump", "latest_dump")])
    else:
        policy = config.keep
    return decide(con, policy, folder)


def decide(con: duckdb.DuckDBPyConnection, policy: tuple[str, ...], folder: Path) -> dict[int, int]:
    """Write each document's decision under ``folder``, one ``seq=<n>`` folder per batch; return the
    number of the dump's clusters by size (earlier-dump members counted in the size)."""
    check_policy(policy)
    order = ", ".join([*(_ORDER[p] for p in policy), "id ASC", "node ASC"])
    con.execute(
        "CREATE TABLE keepers AS SELECT label, node AS keeper, id AS keeper_id, dump AS keeper_dump, "
        "exact AS keeper_exact, size FROM (SELECT m.*, row_number() OVER (PARTITION BY label ORDER BY "
        + order
        + ") AS rank, count(*) OVER (PARTITION BY label) AS size FROM (SELECT l.node, l.label, n.id, n.dump, "
        "n.text_chars, n.exact FROM labels l JOIN nodes n USING (node)) m) WHERE rank = 1"
    )
    con.execute(
        "CREATE TABLE dropped AS SELECT l.node, k.keeper, k.keeper_id, k.keeper_dump, "
        "CASE WHEN k.keeper_exact = d.exact THEN 'exact' ELSE 'near' END AS kind FROM labels l "
        "JOIN keepers k USING (label) JOIN docs d USING (node) WHERE l.node <> k.keeper"
    )
    con.execute(
        "CREATE TABLE absorbed AS SELECT keeper, bool_or(kind = 'exact') AS has_exact, "
        "bool_or(kind = 'near') AS has_near FROM dropped GROUP BY keeper"
    )
    con.execute(
        "COPY (SELECT d.seq, d.row, d.id, x.node IS NULL AS kept, coalesce(k.keeper_id, d.id) AS cluster_id, "
        "coalesce(k.size, 1)::INTEGER AS cluster_size, CASE WHEN x.node IS NOT NULL THEN x.kind "
        "WHEN a.has_exact AND a.has_near THEN 'exact+near' WHEN a.has_exact THEN 'exact' "
        "WHEN a.has_near THEN 'near' ELSE 'none' END AS kind, x.keeper_id AS duplicate_of, "
        "x.keeper_dump AS duplicate_dump, s.jaccard AS similarity FROM docs d "
        "LEFT JOIN labels l USING (node) LEFT JOIN keepers k USING (label) "
        "LEFT JOIN dropped x ON x.node = d.node LEFT JOIN absorbed a ON a.keeper = d.node "
        "LEFT JOIN similar_pairs s ON s.a = least(d.node, x.keeper) AND s.b = greatest(d.node, x.keeper)) "
        "TO $folder (FORMAT parquet, PARTITION_BY (seq))",
        {"folder": str(folder)},
    )
    return clusters_by_size(con)


def clusters_by_size(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    """Clusters holding a document of the dump, by size; a document without edges is a cluster of one."""
    rows = con.execute(
        "SELECT size, count(*) FROM (SELECT count(*) AS size FROM labels GROUP BY label "
        "HAVING min(node) < $base) GROUP BY size "
        "UNION ALL SELECT 1, count(*) FROM docs ANTI JOIN labels USING (node)",
        {"base": EARLIER},
    ).fetchall()
    sizes: dict[int, int] = {}
    for size, count in rows:
        if count:
            sizes[int(size)] = sizes.get(int(size), 0) + int(count)
    return dict(sorted(sizes.items()))


def _one(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    """The first row of a query's result, read to its end (DuckDB keeps an unread result open)."""
    rows = con.execute(query).fetchall()
    return rows[0] if rows else None
