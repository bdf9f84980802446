"""Mixture search: proxies at sampled weights, their runs in ``proxy_runs``, the predicted mixture published
with lineage naming them.

Touches: corpuslake.mixsearch on the mixtures tests' lake (``web@1`` and ``web-hq@1`` from the committed
quality examples), with a tiny proxy (one layer, width 32, context 32) trained on a few thousand tokens
of GPT-2's committed tokenizer; the search YAML parser on bad files.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.mixsearch.config import load_search, search_from_mapping
from corpuslake.mixsearch.fit import fit_and_predict, sample_weights
from corpuslake.mixsearch.runs import TABLE, read_runs
from corpuslake.mixsearch.search import SearchResult, run_search
from corpuslake.store import Lake
from corpuslake.typed import DefinitionError
from tests.test_export import GPT2
from tests.test_mixtures import lake
from tests.test_snapshots import texts, tokenizer

__all__ = ["lake", "texts", "tokenizer"]  # the shared fixtures


def tiny(**changes: Any) -> dict[str, Any]:
    return {
        "name": "tiny",
        "sources": ["corpuslake://web@1", "corpuslake://web-hq@1"],
        "tokenizer": str(GPT2),
        "candidates": 3,
        "proxy_tokens": 3_000,
        "target_tokens": 2_000,
        "validation_fraction": 0.2,
        "seed": 5,
        "top_k": 4,
        "simplex_points": 200,
        "recipe_tokens": 5_000,
        "proxy": {"layers": 1, "d_model": 32, "heads": 2, "context": 32, "vocab": 256, "batch": 8},
    } | changes


def search(lake: Lake, **changes: Any) -> SearchResult:
    lines: list[str] = []
    result = run_search(lake, search_from_mapping(tiny(**changes), "tiny.yaml"), "test", progress=lines.append)
    assert any(line.strip().startswith("c02") for line in lines)  # progress is told per proxy
    # the bare weight vectors of those lines are read by the source order told once (sorted)
    assert "  weights in the order corpuslake://web-hq@1, corpuslake://web@1" in lines
    return result


def test_a_tiny_search_records_its_runs_and_publishes_its_mixture(lake: Lake) -> None:
    result = search(lake)
    runs = read_runs(lake, result.search_id)
    assert sorted(runs) == ["c00", "c01", "c02", "natural", "predicted", "uniform"]
    assert all(r.tokens_trained > 0 and r.target_loss > 0 for r in runs.values())
    assert {r.candidate: r.target_loss for r in runs.values()} == {c: r.target_loss for c, r in result.runs.items()}
    # The weights differ between candidates and each vector sums to 1.
    assert len({tuple(r.weights.values()) for r in runs.values()}) >= 4
    assert all(sum(r.weights.values()) == pytest.approx(1) for r in runs.values())

    entry = result.publication.entry
    assert entry.uri == "corpuslake://tiny-found@1" and entry.kind == "mixture"
    # Its lineage names the proxy_runs version that holds every run, and its report lists them.
    assert f"{TABLE}@v{result.proxy_runs_version}" in entry.lineage["upstream"]
    assert {r["candidate"] for r in entry.report["search"]["runs"]} == set(runs)
    assert entry.report["search"]["search_id"] == result.search_id
    at_version = read_runs(lake, result.search_id, result.proxy_runs_version)
    assert sorted(at_version) == sorted(runs)
    chain = [str(node) for node, _ in lake.lineage_chain(entry.table, entry.delta_version)]
    assert f"{TABLE}@v{result.proxy_runs_version}" in chain
    # An ordinary mixture: its recipe's weights are the predicted run's, and it reads like any pin.
    sources = entry.lineage["definition"]["phases"][0]["sources"]
    predicted = runs["predicted"].weights
    assert {s["uri"]: s["weight"] for s in sources} == {u: round(w, 4) for u, w in predicted.items()}
    assert client.open(entry.uri, lake).to_table(["id"]).num_rows == entry.documents


def test_the_same_search_gives_the_same_losses(lake: Lake, tmp_path: Path, texts: list[str]) -> None:
    first = search(lake)
    again = run_search(lake, search_from_mapping(tiny(), "tiny.yaml"), "test", resume=False)
    assert {c: r.target_loss for c, r in again.runs.items()} == {c: r.target_loss for c, r in first.runs.items()}
    assert again.cpu_seconds > 0  # trained again, not read back
    assert not again.publication.new  # same weights, same rows: no new number
    # A rerun reuses the recorded runs: nothing is trained.
    resumed = run_search(lake, search_from_mapping(tiny(), "tiny.yaml"), "test")
    assert resumed.cpu_seconds == 0
    assert Catalog(lake).latest("tiny-found") == first.publication.entry


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"candidates": "3"}, "candidates"),  # a quoted number
        ({"proxy_tokns": 10}, "proxy_tokns"),  # a misspelt key
        ({"proxy": {"layer": 1}}, "layer"),  # a misspelt proxy key
        ({"sources": ["corpuslake://web@latest", "corpuslake://web-hq@1"]}, "sources"),  # no fixed number
        ({"sources": ["corpuslake://web@1"]}, "sources"),  # one source: nothing to weigh
    ],
)
def test_a_bad_search_yaml_is_one_line_naming_the_key(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny(**change)), encoding="utf-8")
    with pytest.raises(DefinitionError) as error:
        load_search(path)
    message = str(error.value)
    assert "\n" not in message and key in message and str(path) in message


def test_the_sample_search_loads() -> None:
    root = Path(__file__).resolve().parent.parent / "samples" / "datasets" / "searches"
    for path in sorted(root.glob("*.yaml")):
        assert load_search(path).sources


def test_the_regression_finds_the_minimum_of_a_known_surface() -> None:
    natural = np.array([0.5, 0.3, 0.2])
    weights = sample_weights(natural, 24, 1.0, 3)
    assert np.array_equal(weights, sample_weights(natural, 24, 1.0, 3))  # seeded
    assert np.allclose(weights.sum(axis=1), 1)
    optimum = np.array([0.2, 0.2, 0.6])
    losses = ((weights - optimum) ** 2).sum(axis=1) + 3.0
    fit = fit_and_predict(weights, losses, natural, top_k=8, points=4_000, seed=3, concentration=1.0)
    # A bowl is not linear: the pairwise model predicts the left-out points better, and its best
    # simplex points average near the bottom of the bowl.
    assert fit.model == "quadratic" and fit.loo_mae["quadratic"] < fit.loo_mae["linear"]
    assert np.abs(fit.weights - optimum).max() < 0.1
    assert fit.weights.sum() == pytest.approx(1)


def test_the_prediction_stays_within_the_shares_the_candidates_tried() -> None:
    # the loss falls steadily with the third source's share, and no candidate tried much of it: the grid
    # reaches further, but the fit is not trusted there
    natural = np.array([0.1, 0.15, 0.75])[::-1]
    weights = sample_weights(natural, 16, 1.0, 7)
    losses = 6.0 - 0.5 * weights[:, 2]
    fit = fit_and_predict(weights, losses, natural, top_k=8, points=4_000, seed=7, concentration=1.0)
    assert fit.model != "mean"
    assert np.all(fit.points.max(axis=0) <= weights.max(axis=0) + 1e-9)
    assert fit.weights[2] <= weights[:, 2].max() + 1e-9


def test_losses_no_regression_predicts_give_the_best_runs_mean() -> None:
    natural = np.array([0.5, 0.3, 0.2])
    weights = sample_weights(natural, 16, 1.0, 4)
    losses = 5.8 + 0.03 * np.random.default_rng(9).standard_normal(16)  # noise, nothing to learn
    fit = fit_and_predict(weights, losses, natural, top_k=8, points=1_000, seed=4, concentration=1.0)
    assert fit.model == "mean" and fit.loo_mae["mean"] <= min(fit.loo_mae.values())
    assert np.allclose(fit.weights, weights[np.argsort(losses)[:3]].mean(axis=0))
