"""What changed between two published snapshots: documents added, removed and changed, by dump and language."""

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from corpuslake.client import Snapshot


@dataclass(frozen=True)
class SnapshotDiff:
    a: str
    b: str
    added: int
    removed: int
    changed: int
    unchanged: int
    by_dump: dict[str, Counter[str]] = field(default_factory=dict)
    """Per dump: counts of added, removed, changed."""
    by_language: dict[str, Counter[str]] = field(default_factory=dict)


def _keyed(snapshot: Snapshot) -> dict[str, tuple[str, str, str]]:
    """id -> (text hash, dump, language), one entry per distinct id."""
    names = snapshot.schema.names
    columns = ["id", "text", "dump"] + (["language"] if "language" in names else [])
    rows: dict[str, tuple[str, str, str]] = {}
    for batch in snapshot.batches(columns):
        table = pa.Table.from_batches([batch])
        texts = table["text"].to_pylist()
        languages = table["language"].to_pylist() if "language" in columns else [""] * len(texts)
        for doc_id, text, dump, language in zip(
            table["id"].to_pylist(), texts, table["dump"].to_pylist(), languages, strict=True
        ):
            digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
            rows.setdefault(doc_id, (digest, dump, language or ""))
    return rows


def diff_snapshots(a: Snapshot, b: Snapshot) -> SnapshotDiff:
    """Compare by document id; a document whose text differs is ``changed``."""
    left, right = _keyed(a), _keyed(b)
    by_dump: dict[str, Counter[str]] = {}
    by_language: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()

    def count(kind: str, dump: str, language: str) -> None:
        totals[kind] += 1
        by_dump.setdefault(dump, Counter())[kind] += 1
        by_language.setdefault(language, Counter())[kind] += 1

    for doc_id, (digest, dump, language) in right.items():
        if doc_id not in left:
            count("added", dump, language)
        elif left[doc_id][0] != digest:
            count("changed", dump, language)
        else:
            totals["unchanged"] += 1
    for doc_id, (_, dump, language) in left.items():
        if doc_id not in right:
            count("removed", dump, language)
    return SnapshotDiff(
        a.uri,
        b.uri,
        totals["added"],
        totals["removed"],
        totals["changed"],
        totals["unchanged"],
        dict(sorted(by_dump.items())),
        dict(sorted(by_language.items())),
    )
