"""Dedup: normalization, MinHash against datasketch, planted near-duplicates at known Jaccard
similarities, exact duplicates, keep policy and paragraph dedup; every decision is made by the DuckDB
cluster step and checked against the in-memory reference (tests/dedup_reference.py). Pure functions
over files in tmp_path, except the last tests, which run the stages over the sample crawl into a lake
under tmp_path (and compare both cluster paths on its documents).
"""

import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasketch import MinHash
from rbloom import Bloom

from corpuslake.dedup import clusters
from corpuslake.dedup.clusters import check_policy
from corpuslake.dedup.minhash import MinHasher, jaccard
from corpuslake.dedup.normalize import normalize_text
from corpuslake.dedup.paragraphs import seen_lines
from corpuslake.dedup.rewrite import drop_lines
from corpuslake.dedup.run import earlier_index
from corpuslake.filters import url
from corpuslake.filters.chain import FilterConfig
from corpuslake.pipeline import deduplicate, extract_documents, filter_documents, ingest_crawl_files
from corpuslake.settings import SAMPLE_LANDING
from corpuslake.stages.deduplicated import DedupConfig, paragraph_keys
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake
from tests.dedup_reference import decide_both, hash_files

# letters only: normalization maps digits to 0, which would make numbered words equal
VOCAB = ["".join("abcdefghijklmnopqrstuvwxyz"[(i // 26**k) % 26] for k in range(4)) for i in range(20_000)]


def test_normalization_ignores_case_accents_digits_and_punctuation() -> None:
    assert normalize_text("Déjà-vu, in 2024!  Twice…") == "deja vu in 0000 twice"
    assert normalize_text("DEJA VU IN 1999 TWICE") == "deja vu in 0000 twice"
    assert normalize_text("中文，测试。") == "中文 测试"


def _shingle_set(hasher: MinHasher, text: str) -> np.ndarray:
    shingles, _ = hasher.shingles([normalize_text(text).split()], unique=True)
    return shingles


def test_signatures_estimate_jaccard_as_well_as_datasketch() -> None:
    hasher = MinHasher()
    rng = random.Random(3)
    ours, theirs = [], []
    for _ in range(60):
        base = rng.sample(VOCAB, 300)
        other = list(base)
        for at in rng.sample(range(300), rng.randint(0, 60)):
            other[at] = rng.choice(VOCAB)
        texts = [" ".join(base), " ".join(other)]
        truth = jaccard(_shingle_set(hasher, texts[0]), _shingle_set(hasher, texts[1]))
        shingles, offsets = hasher.shingles([t.split() for t in texts])
        signatures = hasher.signatures(shingles, offsets)
        ours.append(abs(float(np.mean(signatures[0] == signatures[1])) - truth))
        reference = []
        for text in texts:
            words = text.split()
            m = MinHash(num_perm=hasher.permutations, seed=1)
            m.update_batch([" ".join(words[i : i + 5]).encode() for i in range(len(words) - 4)])
            reference.append(m)
        theirs.append(abs(reference[0].jaccard(reference[1]) - truth))
    # both estimators have standard error sqrt(J(1-J)/112) <= 0.047: their mean errors must agree
    assert np.mean(ours) < 0.05 and np.mean(theirs) < 0.05
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.015


def test_identical_shingle_sets_give_identical_signatures_and_band_keys() -> None:
    hasher = MinHasher()
    text = " ".join(VOCAB[:50])
    shingles, offsets = hasher.shingles([text.split(), text.split(), (text + " " + text).split()])
    signatures = hasher.signatures(shingles, offsets)
    keys = hasher.band_keys(signatures)
    assert (signatures[0] == signatures[1]).all() and (keys[0] == keys[1]).all()
    assert len(np.unique(keys[0])) == 14  # one key per band


def _planted_pairs(count: int, low: float, high: float, seed: int) -> list[tuple[str, str, float]]:
    """Pairs of 200-word documents whose 5-gram shingle Jaccard lies in [low, high]."""
    hasher = MinHasher()
    rng = random.Random(seed)
    pairs: list[tuple[str, str, float]] = []
    while len(pairs) < count:
        base = rng.sample(VOCAB, 200)
        other = list(base)
        changes = rng.randint(1, 20)
        for at in rng.sample(range(0, 200, 6), changes):  # spaced: each change touches up to 5 shingles
            other[at] = rng.choice(VOCAB)
        a, b = " ".join(base), " ".join(other)
        value = jaccard(_shingle_set(hasher, a), _shingle_set(hasher, b))
        if low <= value <= high:
            pairs.append((a, b, value))
    return pairs


def _merged(tmp: Path, pairs: list[tuple[str, str, float]], config: DedupConfig) -> list[bool]:
    texts = [t for a, b, _ in pairs for t in (a, b)]
    decision = decide_both(tmp, texts, config)
    return [bool(decision.kept[2 * i] != decision.kept[2 * i + 1]) for i in range(len(pairs))]


def test_recall_of_planted_near_duplicates_at_jaccard_0_8_and_above(tmp_path: Path) -> None:
    pairs = _planted_pairs(300, 0.8, 0.95, seed=11)
    recall = float(np.mean(_merged(tmp_path, pairs, DedupConfig(exact=False))))
    # the 14 x 8 S-curve gives P(0.8) = 0.92 and more above it
    assert DedupConfig().hasher().collision_probability(0.8) == pytest.approx(0.9235, abs=1e-4)
    assert recall >= 0.9, recall


def test_verification_prevents_false_merges(tmp_path: Path) -> None:
    below = _planted_pairs(150, 0.6, 0.75, seed=12)
    merged_unverified = _merged(tmp_path, below, DedupConfig(exact=False))
    assert any(merged_unverified)  # LSH alone merges some pairs under the threshold (P(0.7) = 0.57)
    assert not any(_merged(tmp_path, below, DedupConfig(exact=False, verify=True, verify_threshold=0.8)))
    above = _planted_pairs(100, 0.85, 0.95, seed=13)
    assert np.mean(_merged(tmp_path, above, DedupConfig(exact=False, verify=True))) >= 0.95


def test_exact_duplicates_and_keep_policy(tmp_path: Path) -> None:
    words = VOCAB[1000:1060]
    texts = [
        " ".join(words) + " 2023.",
        " ".join(w.upper() for w in words) + " 1999!!",  # the same after normalization: an exact duplicate
        " ".join(words) + " 2023. and three more",  # near duplicate of both, and the longest
        " ".join(VOCAB[:100]),
    ]
    ids = ["a", "b", "c", "d"]
    decision = decide_both(tmp_path, texts, DedupConfig(), ids=ids)
    assert decision.kept.tolist() == [False, False, True, True]
    assert decision.cluster_id == ["c", "c", "c", "d"] and decision.cluster_size.tolist() == [3, 3, 3, 1]
    assert decision.kind == ["near", "near", "near", "none"]
    assert decision.duplicate_of == ["c", "c", None, None]

    decision = decide_both(tmp_path, texts, DedupConfig(keep=("shortest_text",)), ids=ids)
    assert decision.kept.tolist() == [True, False, False, True]
    assert decision.kind == ["exact+near", "exact", "near", "none"]

    with pytest.raises(ValueError, match="unknown keep policy"):
        check_policy(("newest",))


def test_paragraph_dedup_removes_seen_paragraphs() -> None:
    bloom = Bloom(1_000, 0.001)

    def dedup(text: str) -> tuple[str, int]:
        removed = seen_lines(paragraph_keys(text), bloom)
        return drop_lines(text, removed), len(removed)

    assert dedup("Shared footer line.\nFirst body.") == ("Shared footer line.\nFirst body.", 0)
    assert dedup("Second body.\nSHARED footer line!") == ("Second body.", 1)  # normalized equal
    assert dedup("First body.\n\nShared footer line.") == ("", 2)
    assert dedup("\n  Third body.  \n") == ("Third body.", 0)  # blank lines stay, the text is stripped


# --- the stage on the sample crawl ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory, blocklist_cache: Path) -> Lake:
    """Both sample dumps through crawl_files, documents and filtered."""
    lake = Lake(str(tmp_path_factory.mktemp("lake")), cache=str(blocklist_cache))
    for dump in ("SAMPLE-2024-10", "SAMPLE-2024-18"):
        ingest_crawl_files(lake, SAMPLE_LANDING, dump, "run", workers=2)
        extract_documents(lake, dump, "run", DocumentsConfig(), workers=2)
        filter_documents(lake, dump, "run", FilterConfig(url=url.UrlConfig()), workers=2)
    return lake


def _clusters(lake: Lake, dump: str, version: int) -> dict[str, str]:
    """Each document of the dump -> its cluster id, from the kept rows and the removal rows."""
    cluster = {r["id"]: r["cluster_id"] for r in lake.read("deduplicated", version, dumps=[dump]).to_pylist()}
    lineage = lake.lineage("deduplicated", version)
    removed = lake.read(
        "rejections",
        lake.version_of_commit("rejections", lineage.commit_id),
        dumps=[dump],
        filters={"stage": "deduplicated"},
    )
    cluster |= {r["id"]: json.loads(r["signals"])["cluster_id"] for r in removed.to_pylist()}
    return cluster


@pytest.mark.slow
def test_every_exact_duplicate_group_keeps_one_and_reruns_are_idempotent(sample_lake: Lake) -> None:
    dump = "SAMPLE-2024-10"
    first = deduplicate(sample_lake, dump, "run-1", DedupConfig(), workers=2)
    texts = sample_lake.read("filtered", dumps=[dump], columns=["id", "text"]).to_pylist()
    groups: dict[str, list[str]] = defaultdict(list)
    for row in texts:
        groups[row["text"]].append(row["id"])
    repeated = [ids for ids in groups.values() if len(ids) > 1]
    assert repeated  # the sample crawl has untranslated copies and repeated pages
    kept = set(sample_lake.read("deduplicated", first.version, dumps=[dump], columns=["id"])["id"].to_pylist())
    assert all(len(kept & set(ids)) == 1 for ids in repeated)
    assert first.counters["removed.exact"] >= sum(len(ids) - 1 for ids in repeated)

    again = deduplicate(sample_lake, dump, "run-2", DedupConfig(), workers=1)
    assert again.version == first.version + 1
    a = sample_lake.read("deduplicated", first.version, dumps=[dump]).sort_by("id")
    b = sample_lake.read("deduplicated", again.version, dumps=[dump]).sort_by("id")
    assert a.equals(b)
    index = sample_lake.read("minhash_index", dumps=[dump])
    assert index.num_rows == len(kept) * 15  # 14 band keys and one exact key per kept document


@pytest.mark.slow
def test_incremental_equals_per_dump_then_cross_check(sample_lake: Lake, tmp_path: Path) -> None:
    """The rule: a document of a later dump is kept in incremental scope iff per-dump dedup keeps it and
    no document of its per-dump cluster shares an exact or band key with a document kept from an
    earlier dump (earlier dumps are never rewritten, so they win every cross-dump cluster)."""
    old, new = "SAMPLE-2024-10", "SAMPLE-2024-18"
    deduplicate(sample_lake, old, "run", DedupConfig(), workers=2)
    per_dump = deduplicate(sample_lake, new, "run", DedupConfig(), workers=2)
    kept_per_dump = set(
        sample_lake.read("deduplicated", per_dump.version, dumps=[new], columns=["id"])["id"].to_pylist()
    )
    cluster_of = _clusters(sample_lake, new, per_dump.version)

    earlier_keys = set(sample_lake.read("minhash_index", dumps=[old], columns=["key"])["key"].to_pylist())
    rows = sample_lake.read("filtered", dumps=[new], columns=["id", "text"])
    hashed = pa.concat_tables(
        pq.read_table(p) for p in hash_files(tmp_path, rows["id"].to_pylist(), rows["text"].to_pylist(), DedupConfig())
    )
    touching = {
        cluster_of[doc["id"]]
        for doc in hashed.to_pylist()
        if doc["exact"] in earlier_keys or earlier_keys & set(doc["bands"] or [])
    }
    expected = {doc_id for doc_id in kept_per_dump if cluster_of[doc_id] not in touching}

    incremental = deduplicate(sample_lake, new, "run", DedupConfig(scope="incremental"), workers=2)
    kept = set(sample_lake.read("deduplicated", incremental.version, dumps=[new], columns=["id"])["id"].to_pylist())
    assert kept == expected
    assert len(kept) < len(kept_per_dump)  # the second dump repeats most pages of the first
    assert incremental.counters["earlier_documents_matched"] > 0
    assert {str(u) for u in incremental.upstream} >= {f"minhash_index@v{per_dump.extra_versions['minhash_index']}"}
    removed = sample_lake.read("rejections", dumps=[new], filters={"stage": "deduplicated"}).to_pylist()
    assert any(f"in {old}" in r["detail"] for r in removed)


def test_compiled_signatures_match_the_formula() -> None:
    """The numba loop against the vectorized formula: min over shingles of (a*h + b) >> 32, per document."""
    hasher = MinHasher()
    rng = np.random.default_rng(0)
    shingles = rng.integers(0, 2**63, 5_000, dtype=np.uint64)
    offsets = np.array([0, 10, 10, 3_000, 5_000])
    a, b = hasher._coefficients()
    expected = np.full((4, hasher.permutations), np.iinfo(np.uint32).max, np.uint32)
    for doc in range(4):
        block = shingles[offsets[doc] : offsets[doc + 1]]
        if len(block):
            permuted = (block[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
            expected[doc] = permuted.astype(np.uint32).min(axis=0)
    assert (hasher.signatures(shingles, offsets) == expected).all()


@pytest.mark.slow
def test_paragraph_dedup_on_the_sample_crawl(sample_lake: Lake) -> None:
    dump = "SAMPLE-2024-10"
    config = DedupConfig(paragraphs=True, paragraph_capacity=100_000, paragraph_fp_rate=0.001)
    report = deduplicate(sample_lake, dump, "run", config, workers=1)
    kept = sample_lake.read("deduplicated", report.version, dumps=[dump]).to_pylist()
    removed = sum(r["paragraphs_removed"] for r in kept)
    assert removed == report.counters["paragraphs_removed"] > 0  # repeated headers and footers of a site
    assert all(r["text"] and r["text_chars"] == len(r["text"]) for r in kept)
    bits_per_item = report.counters["paragraph_bloom_bits"] / config.paragraph_capacity
    assert 14 < bits_per_item < 15  # 1.44 * log2(1 / 0.001) = 14.35 for an optimal Bloom filter


@pytest.mark.slow
def test_cluster_step_equals_the_reference_on_the_sample_crawl(sample_lake: Lake, tmp_path: Path) -> None:
    old, new = "SAMPLE-2024-10", "SAMPLE-2024-18"
    first = sample_lake.read("filtered", dumps=[old], columns=["id", "text"])
    decide_both(tmp_path, first["text"].to_pylist(), DedupConfig(), dump=old, ids=first["id"].to_pylist())
    report = deduplicate(sample_lake, old, "run", DedupConfig(), workers=1)
    index = sample_lake.read("minhash_index", report.extra_versions["minhash_index"], dumps=[old])
    kept = sample_lake.read("deduplicated", report.version, dumps=[old], columns=["id", "text"])
    texts = dict(zip(kept["id"].to_pylist(), kept["text"].to_pylist(), strict=True))
    second = sample_lake.read("filtered", dumps=[new], columns=["id", "text"])
    for config in (DedupConfig(scope="incremental"), DedupConfig(scope="incremental", verify=True, batch_rows=300)):
        decision = decide_both(
            tmp_path,
            second["text"].to_pylist(),
            config,
            dump=new,
            ids=second["id"].to_pylist(),
            index=index,
            earlier_texts=texts,
        )
        assert old in decision.duplicate_dump


class _Streamed(Lake):
    """The sample lake read as an object-store lake is: through Arrow's filesystem, not by path."""

    @property
    def is_local(self) -> bool:
        return False


@pytest.mark.slow
def test_earlier_index_rows_are_the_same_by_path_and_streamed(sample_lake: Lake, tmp_path: Path) -> None:
    deduplicate(sample_lake, "SAMPLE-2024-10", "run", DedupConfig(), workers=1)
    version = sample_lake.version("minhash_index")
    assert version is not None
    found = []
    for at, lake in enumerate([sample_lake, _Streamed(sample_lake.root, cache=sample_lake.cache)]):
        (tmp_path / str(at)).mkdir()
        with clusters.connect(tmp_path / str(at), "128MB") as con:
            earlier_index(con, lake, version, "SAMPLE-2024-18")
            found.append(sorted(con.execute("SELECT dump, band, key, id, text_chars FROM earlier_index").fetchall()))
    assert found[0] == found[1]
    assert {row[0] for row in found[0]} == {"SAMPLE-2024-10"}  # only dumps before the one looked up


@pytest.mark.slow
def test_verified_incremental_run_compares_texts_of_earlier_dumps(sample_lake: Lake) -> None:
    old, new = "SAMPLE-2024-10", "SAMPLE-2024-18"
    deduplicate(sample_lake, old, "run", DedupConfig(), workers=1)
    report = deduplicate(sample_lake, new, "run", DedupConfig(scope="incremental", verify=True), workers=2)
    version = report.extra_versions["rejections"]
    removed = sample_lake.read("rejections", version, dumps=[new], filters={"stage": "deduplicated"}).to_pylist()
    # the earlier document's text was read back from deduplicated and shingled to verify the pair
    assert any(f"in {old}" in r["detail"] and "Jaccard" in r["detail"] for r in removed)
    assert report.counters["earlier_documents_matched"] > 0
