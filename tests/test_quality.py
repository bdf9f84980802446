"""Model-based quality: the training set, the fastText classifier, AUC, scores and selection.
Touches files under tmp_path only; training uses one thread so models are identical run to run."""

import gzip
import json
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from corpuslake.lineage import Lineage
from corpuslake.quality.model import ModelConfig, QualityModelError, QualityScorer, auc, train
from corpuslake.quality.select import select, top_percent_threshold
from corpuslake.quality.training import TrainingSetConfig, TrainingSetError, build_training_set
from corpuslake.schemas import SCORED
from corpuslake.store import Lake


@pytest.fixture(scope="module")
def training_set() -> pa.Table:
    return build_training_set(TrainingSetConfig())


def test_training_set_is_balanced_split_and_reproducible(training_set: pa.Table) -> None:
    rows = training_set.to_pylist()
    labels = [r["label"] for r in rows]
    assert labels.count("hq") == labels.count("cc") > 1_000
    heldout = sum(r["split"] == "heldout" for r in rows) / len(rows)
    assert 0.15 < heldout < 0.25  # 0.2 by a hash of the text
    assert build_training_set(TrainingSetConfig()).equals(training_set)
    sources = {r["source"].split("/")[0] for r in rows}
    assert {"sotu", "moby-dick", "python-docs", "spam-1", "spam-2", "easy-ham-1"} <= sources


def _write(path: Path, rows: list[dict[str, str]]) -> str:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in rows)
    return str(path)


def test_bad_training_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetError, match="training source not found"):
        build_training_set(TrainingSetConfig(sources=(str(tmp_path / "nope.jsonl.gz"),)))
    one_class = _write(tmp_path / "one.jsonl.gz", [{"text": "Edited prose. " * 10, "label": "hq"}] * 5)
    with pytest.raises(TrainingSetError, match="no cc examples"):
        build_training_set(TrainingSetConfig(sources=(one_class,)))
    bad_label = _write(tmp_path / "bad.jsonl.gz", [{"text": "x" * 80, "label": "good"}])
    with pytest.raises(TrainingSetError, match="label 'good' is not one of hq, cc"):
        build_training_set(TrainingSetConfig(sources=(bad_label,)))


def test_training_is_reproducible_and_separates_the_classes(training_set: pa.Table, tmp_path: Path) -> None:
    path, digest, evaluation = train(training_set, ModelConfig(), tmp_path)
    _, digest_again, _ = train(training_set, ModelConfig(), tmp_path / "again")
    assert digest == digest_again and path.name == f"{digest}.bin"  # stored under its content hash
    assert evaluation.precision > 0.85 and evaluation.recall > 0.85 and evaluation.auc > 0.95
    scorer = QualityScorer(path)
    scores = scorer.score(
        [
            "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            "must be in want of a wife.",
            "CLICK HERE NOW!!! Lowest mortgage rates, FREE money, act now, limited offer, unsubscribe below.",
        ]
    )
    assert 0 <= scores.min() <= scores.max() <= 1 and scores[0] > scores[1]


def test_training_failures_are_clear_errors(training_set: pa.Table, tmp_path: Path) -> None:
    with pytest.raises(QualityModelError, match="Encountered NaN"):
        train(training_set, ModelConfig(lr=1e6, epoch=1), tmp_path)
    no_heldout_cc = training_set.filter(
        pa.compute.invert(
            pa.compute.and_(
                pa.compute.equal(training_set["split"], "heldout"), pa.compute.equal(training_set["label"], "cc")
            )
        )
    )
    with pytest.raises(QualityModelError, match="the heldout split has no cc examples"):
        train(no_heldout_cc, ModelConfig(epoch=1), tmp_path)
    assert not list(tmp_path.glob("*.bin"))  # nothing half-made is left


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auc_matches_the_pairwise_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.choice([0.1, 0.2, 0.5, 0.7, 0.9], size=40)  # with ties
    truth = rng.random(40) < 0.5
    pairs = [(p, n) for p, n in product(scores[truth], scores[~truth])]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert auc(scores, truth) == pytest.approx(expected)


def test_top_percent_is_reproducible_with_ties() -> None:
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    ids = ["e", "d", "b", "c", "a"]
    cut, keep = top_percent_threshold(scores, ids, 40)
    assert cut == 0.5 and keep == {"e", "b"}  # two of five; among the tied 0.5s the smallest id
    assert top_percent_threshold(scores, ids, 100)[1] == set(ids)
    with pytest.raises(ValueError, match="percent must be in"):
        top_percent_threshold(scores, ids, 0)


def test_select_by_threshold_or_top_percent(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    rows = []
    for dump, scores in (("D1", [0.9, 0.2, 0.6]), ("D2", [0.8, 0.4])):
        for i, score in enumerate(scores):
            row: dict[str, Any] = {f.name: None for f in SCORED}
            row |= {"id": f"{dump}-{i}", "dump": dump, "quality_score": score, "quality_model": "m", "text": "t"}
            rows.append(row)
    for dump in ("D1", "D2"):
        part = [r for r in rows if r["dump"] == dump]
        table = pa.Table.from_pylist(part, schema=pa.schema([f.with_nullable(True) for f in SCORED]))
        lake.write_partition("scored", table, Lineage("scored", dump, "r", "t", {}), {"dump": dump})
    assert sorted(select(lake, ["D1", "D2"], threshold=0.6)["id"].to_pylist()) == ["D1-0", "D1-2", "D2-0"]
    assert sorted(select(lake, ["D1", "D2"], top_percent=40)["id"].to_pylist()) == ["D1-0", "D2-0"]
    assert select(lake, ["D2"], top_percent=50)["id"].to_pylist() == ["D2-0"]
    with pytest.raises(ValueError, match="exactly one"):
        select(lake, ["D1"])
