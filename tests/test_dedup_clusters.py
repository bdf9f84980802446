"""The DuckDB cluster step against the in-memory reference (tests/dedup_reference.py): identical
decisions for every document (kept, cluster id and size, dup kind, duplicate of, its dump, Jaccard)
and cluster-size counts, on randomized dumps with planted exact, near and chained duplicates, with
and without earlier dumps, under every keep policy and with verification. Pure functions over files in
tmp_path; the sample-crawl comparison is in test_dedup.py.
"""

import random
from pathlib import Path

import pyarrow as pa
import pytest

from corpuslake.dedup import clusters
from corpuslake.dedup.clusters import ClusterAlarmError
from corpuslake.schemas import MINHASH_INDEX
from corpuslake.stages.deduplicated import DedupConfig
from tests.dedup_reference import decide_both, index_rows

# letters only: normalization maps digits to 0, which would make numbered words equal
VOCAB = ["".join("abcdefghijklmnopqrstuvwxyz"[(i // 26**k) % 26] for k in range(4)) for i in range(20_000)]


def planted_dump(rng: random.Random, count: int, prefix: list[str] | None = None) -> list[str]:
    """``count`` texts: originals, exact copies (case, punctuation, digits changed), near copies (a few
    words changed), chains of near copies, short and empty texts, and copies of ``prefix`` texts."""
    texts: list[str] = []
    while len(texts) < count:
        roll = rng.random()
        if texts and roll < 0.15:
            words = rng.choice(texts).split()
            texts.append(" ".join(w.upper() if rng.random() < 0.3 else w for w in words) + " 1999!")
        elif texts and roll < 0.35:
            words = rng.choice(texts).split()
            for at in rng.sample(range(len(words)), min(len(words), rng.randint(1, 6))):
                words[at] = rng.choice(VOCAB)
            texts.append(" ".join(words))
        elif prefix and roll < 0.45:
            words = rng.choice(prefix).split()
            if words and rng.random() < 0.5:
                words[rng.randrange(len(words))] = rng.choice(VOCAB)
            texts.append(" ".join(words))
        elif roll < 0.48:
            texts.append(rng.choice(["", "   ", "one two", "!!!"]))
        else:
            texts.append(" ".join(rng.sample(VOCAB[:3_000], rng.randint(20, 120))))
    return texts


CONFIGS = {
    "default": DedupConfig(batch_rows=97),
    "shortest": DedupConfig(batch_rows=97, keep=("shortest_text",)),
    "latest": DedupConfig(batch_rows=97, keep=("latest_dump", "shortest_text")),
    "near only": DedupConfig(batch_rows=97, exact=False),
    "exact only": DedupConfig(batch_rows=97, near=False),
    "verified": DedupConfig(batch_rows=97, verify=True, verify_threshold=0.7),
    "few bands": DedupConfig(batch_rows=97, bands=4, rows=2),  # loose buckets: long chains, big clusters
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_per_dump_decisions_equal_the_in_memory_reference(tmp_path: Path, name: str) -> None:
    texts = planted_dump(random.Random(7), 400)
    decision = decide_both(tmp_path, texts, CONFIGS[name])
    assert not decision.kept.all()  # duplicates were found


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("scope", ["per_dump", "incremental"])
def test_decisions_against_earlier_dumps_equal_the_reference(tmp_path: Path, name: str, scope: str) -> None:
    rng = random.Random(11)
    first = planted_dump(rng, 150)
    second = planted_dump(rng, 150, prefix=first)
    index = pa.concat_tables(
        [
            index_rows("A", [f"A-{i:05d}" for i in range(len(first))], first, tmp_path),
            index_rows("B", [f"B-{i:05d}" for i in range(len(second))], second, tmp_path),
            index_rows("Z", ["Z-00000"], [first[0]], tmp_path),  # a later dump: never looked at
        ]
    )
    earlier_texts = dict(zip([f"A-{i:05d}" for i in range(len(first))], first, strict=True))
    earlier_texts |= dict(zip([f"B-{i:05d}" for i in range(len(second))], second, strict=True))
    texts = planted_dump(rng, 300, prefix=first + second)
    config = DedupConfig(**{**CONFIGS[name].__dict__, "scope": scope})
    decision = decide_both(tmp_path, texts, config, dump="C", index=index, earlier_texts=earlier_texts)
    if scope == "incremental":  # earlier dumps win every cluster they are in
        assert any(d in ("A", "B") for d in decision.duplicate_dump)


def test_runaway_clusters_stop_both(tmp_path: Path) -> None:
    texts = ["one and the same text for every copy of it"] * 5 + planted_dump(random.Random(3), 50)
    with pytest.raises(ClusterAlarmError, match="cluster of 5 documents exceeds max_cluster_size=3"):
        decide_both(tmp_path, texts, DedupConfig(max_cluster_size=3))


def test_an_empty_dump_has_no_decisions(tmp_path: Path) -> None:
    with clusters.connect(tmp_path, "128MB") as con:
        clusters.load_dump(con, [], "D", verify=True)
        con.register("earlier_index", MINHASH_INDEX.empty_table())
        assert clusters.load_earlier(con, "D") == 0
        assert clusters.decide_all(con, DedupConfig(), tmp_path / "decisions", earlier_matched=False) == {}
