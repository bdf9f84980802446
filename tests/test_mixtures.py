"""Mixtures: recipes over pinned snapshots, deterministic builds, realized against requested proportions.

Touches: corpuslake.mixtures and corpuslake.datasets on a lake under tmp_path with two published
snapshots of the committed quality examples.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.datasets import publish_mixture, publish_snapshot
from corpuslake.mixtures import MixtureRecipe, MixtureShortfallError, build_mixture, recipe_from_mapping
from corpuslake.publish import PublicationBlockedError, content_sha256
from corpuslake.selection import Selection
from corpuslake.snapshots import DefinitionError, SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from tests.test_snapshots import texts, tokenizer, write_scored

__all__ = ["texts", "tokenizer"]  # the shared fixtures


@pytest.fixture
def lake(tmp_path: Path, texts: list[str], tokenizer: Tokenizer) -> Lake:
    store = Lake(str(tmp_path / "lake"))
    write_scored(store, "D1", texts[:150])
    publish_snapshot(store, SnapshotDefinition(name="web", languages=("en",)), "run", tokenizer)
    publish_snapshot(store, SnapshotDefinition(name="web-hq", quality_top_percent=25), "run", tokenizer)
    return store


@dataclass(frozen=True)
class Built:
    """A mixture built (not published): its rows in memory, for small tests."""

    rows: pa.Table
    report: dict[str, Any]


def built(lake: Lake, recipe: MixtureRecipe) -> Built:
    with lake.staging() as folder:
        selection: Selection = build_mixture(lake, recipe, folder)
        return Built(selection.rows.to_table(), selection.report)


def recipe(**changes: Any) -> dict[str, Any]:
    return {
        "name": "mix",
        "target_tokens": 40_000,
        "seed": 7,
        "max_epochs": 3,
        "phases": [
            {
                "name": "main",
                "fraction": 0.75,
                "sources": [
                    {"uri": "corpuslake://web@1", "weight": 3},
                    {"uri": "corpuslake://web-hq@1", "weight": 1},
                ],
            },
            {"name": "anneal", "fraction": 0.25, "sources": [{"uri": "corpuslake://web-hq@1", "weight": 1}]},
        ],
    } | changes


def test_mixture_meets_its_proportions_in_phase_order(lake: Lake) -> None:
    selection = built(lake, recipe_from_mapping(recipe(), "mix.yaml"))
    rows = selection.rows
    assert rows["position"].to_pylist() == list(range(rows.num_rows))
    phases = rows["phase"].to_pylist()
    assert phases == sorted(phases, key=["main", "anneal"].index)  # every main row before the anneal rows
    report = selection.report
    assert abs(report["realized_tokens"] - 40_000) / 40_000 < 0.02
    main, anneal = report["phases"]
    for phase, requested in ((main, 30_000), (anneal, 10_000)):
        assert phase["requested_tokens"] == requested
        assert abs(phase["realized_tokens"] - requested) / requested < 0.03
        for line in phase["sources"]:
            assert abs(line["realized_share"] - line["requested_share"]) < 0.02
            realized = sum(
                t
                for t, p, s in zip(rows["tokens"].to_pylist(), phases, rows["source"].to_pylist(), strict=True)
                if p == phase["phase"] and s == line["source"]
            )
            assert realized == line["realized_tokens"]  # the report is what the rows hold
    # web-hq is small: the anneal phase continues its stream, and it repeats only after a full pass
    hq = [
        (i, e)
        for i, e, s in zip(rows["id"].to_pylist(), rows["epoch"].to_pylist(), rows["source"].to_pylist(), strict=True)
        if s.endswith("web-hq@1")
    ]
    hq_size = Catalog(lake).resolve("corpuslake://web-hq@1").documents
    first_pass = {i for i, e in hq if e == 0}
    assert len(first_pass) == hq_size and any(e == 1 for _, e in hq)
    assert not report["shortfalls"] and report["shortfall"] is None


def test_same_pins_and_seed_give_the_same_mixture(lake: Lake, texts: list[str], tokenizer: Tokenizer) -> None:
    parsed = recipe_from_mapping(recipe(), "mix.yaml")
    first = publish_mixture(lake, parsed, "run-1").entry
    rebuilt = built(lake, parsed)
    assert content_sha256(rebuilt.rows) == first.content_sha256
    assert client.open(first.uri, lake).to_table().equals(rebuilt.rows)

    # upstream moves on and web@2 appears; the recipe pins @1, so republishing mints nothing
    write_scored(lake, "D2", texts[150:200])
    assert publish_snapshot(lake, SnapshotDefinition(name="web", languages=("en",)), "run", tokenizer).new
    again = publish_mixture(lake, parsed, "run-2")
    assert (again.new, again.entry.uri) == (False, "corpuslake://mix@1")

    other = built(lake, recipe_from_mapping(recipe(seed=8), "mix.yaml")).rows
    assert other["id"].to_pylist() != rebuilt.rows["id"].to_pylist()
    assert first.kind == "mixture" and first.order_by == "position"
    assert sorted(first.lineage["upstream"]) == ["snapshots/web-hq@v1", "snapshots/web@v1"]


def test_the_repetition_cap_is_reported_or_fatal(lake: Lake, caplog: pytest.LogCaptureFixture) -> None:
    hq = Catalog(lake).resolve("corpuslake://web-hq@1")
    greedy = recipe(
        target_tokens=hq.tokens * 10,
        phases=[{"name": "all", "fraction": 1.0, "sources": [{"uri": "corpuslake://web-hq@1", "max_epochs": 2}]}],
    )
    with caplog.at_level(logging.WARNING, logger="corpuslake"):
        selection = built(lake, recipe_from_mapping(greedy, "mix.yaml"))
    (line,) = selection.report["phases"][0]["sources"]
    assert line["capped"] and line["realized_tokens"] <= 2 * hq.tokens
    assert line["epochs_drawn"] <= 2.0 and line["epochs_drawn"] > 1.9
    assert set(selection.rows["epoch"].to_pylist()) == {0, 1}
    assert "repetition cap: 2 passes" in selection.report["shortfalls"][0]
    # the report records tokens asked against realized, and publishing says so as a warning
    found = selection.report["shortfall"]
    assert (found["requested_tokens"], found["realized_tokens"]) == (hq.tokens * 10, line["realized_tokens"])
    assert found["realized_fraction"] <= 0.2 and found["phases"][0]["capped"] == ["corpuslake://web-hq@1"]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "mix falls short" in caplog.text and f"{hq.tokens * 10:,} tokens asked" in caplog.text
    with pytest.raises(MixtureShortfallError, match=r"mix was not published .*web-hq@1 gave") as refused:
        built(lake, recipe_from_mapping(greedy | {"on_shortfall": "fail"}, "mix.yaml"))
    assert isinstance(refused.value, PublicationBlockedError)  # publishing the other recipes goes on
    with pytest.raises(MixtureShortfallError):
        publish_mixture(lake, recipe_from_mapping(greedy | {"on_shortfall": "fail"}, "mix.yaml"), "run")
    assert Catalog(lake).entries("mix") == []  # nothing published


def test_a_short_source_shifts_the_realized_weights(lake: Lake) -> None:
    """50/50 asked between a large and a small source: the small one stops at its cap, and the report and
    the warning give the weights asked against those realized."""
    hq = Catalog(lake).resolve("corpuslake://web-hq@1")
    sources = [{"uri": "corpuslake://web@1", "weight": 1}, {"uri": "corpuslake://web-hq@1", "weight": 1}]
    lopsided = recipe(
        target_tokens=hq.tokens * 4, max_epochs=1, phases=[{"name": "main", "fraction": 1.0, "sources": sources}]
    )
    report = built(lake, recipe_from_mapping(lopsided, "mix.yaml")).report
    (phase,) = report["shortfall"]["phases"]
    assert phase["requested_shares"] == [0.5, 0.5] and phase["capped"] == ["corpuslake://web-hq@1"]
    assert phase["realized_shares"][0] > 0.6 and sum(phase["realized_shares"]) == pytest.approx(1, abs=1e-3)
    (asked,) = [m for m in report["shortfalls"] if "weights" in m]
    assert asked.startswith("main: weights 0.5/0.5 asked, 0.")
    assert asked.endswith(" realized (corpuslake://web@1, corpuslake://web-hq@1)")


def test_min_quality_draws_only_good_documents(lake: Lake) -> None:
    filtered = recipe(
        phases=[{"name": "all", "fraction": 1.0, "sources": [{"uri": "corpuslake://web@1", "min_quality": 0.8}]}],
        target_tokens=5_000,
    )
    rows = built(lake, recipe_from_mapping(filtered, "mix.yaml")).rows
    web = client.open("corpuslake://web@1", lake).to_table(["id", "quality_score"]).to_pylist()
    good = {r["id"] for r in web if r["quality_score"] >= 0.8}
    assert rows.num_rows and set(rows["id"].to_pylist()) <= good


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phases": [{"name": "a", "fraction": 0.5, "sources": [{"uri": "corpuslake://web@1"}]}]}, "add up to"),
        ({"phases": [{"name": "a", "fraction": 1, "sources": [{"uri": "corpuslake://web@latest"}]}]}, "no fixed"),
        ({"phases": [{"name": "a", "fraction": 1, "sources": [{"uri": "web"}]}]}, "is not a pin"),
        (
            {"phases": [{"name": "a", "fraction": 1, "sources": [{"uri": "corpuslake://web@1", "weight": 0}]}]},
            "positive",
        ),
        (
            {"phases": [{"name": "a", "fraction": 1, "sources": [{"uri": "corpuslake://web@1", "wieght": 1}]}]},
            r"phases\[0\]\.sources\[0\]: unknown setting 'wieght' \(did you mean weight\?\)",
        ),
        ({"sources": [{"uri": "corpuslake://web@1"}]}, "either sources"),
        ({"name": "../mix"}, "invalid mixture name"),
        ({"target_tokens": 0}, "target_tokens"),
        ({"on_shortfall": "ignore"}, "on_shortfall"),
        ({"sead": 1}, r"unknown setting 'sead' \(did you mean seed\?\)"),
        # numbers in quotes are strings in YAML: refused with the file and the key, not an Arrow error later
        ({"target_tokens": "40000"}, r"mixtures/mix\.yaml: target_tokens must be a whole number, not '40000'"),
        ({"seed": 7.5}, "seed must be a whole number"),
        ({"seed": "7"}, "seed must be a whole number, not '7' \\(a string\\): remove the quotes"),
        ({"max_epochs": True}, "max_epochs must be a number, not True"),
        (
            {"phases": [{"name": "a", "fraction": "1", "sources": [{"uri": "corpuslake://web@1", "weight": "2"}]}]},
            r"phases\[0\]: fraction must be a number.*phases\[0\]\.sources\[0\]: weight must be a number",
        ),
        ({"phases": [{"name": "a", "fraction": 1}]}, r"phases\[0\]\.sources must be a non-empty list"),
        ({"phases": [{"fraction": 1, "sources": [{"uri": "corpuslake://web@1"}]}]}, r"phases\[0\]: name is required"),
    ],
)
def test_bad_recipes_are_refused_with_the_reason(change: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        recipe_from_mapping(recipe(**change), "mixtures/mix.yaml")


def test_every_problem_of_a_recipe_is_listed() -> None:
    bad = recipe(sead=1, target_tokens="4e4", phases=[{"name": "a", "fraction": 1, "sources": [{"weight": 1}]}])
    with pytest.raises(DefinitionError) as raised:
        recipe_from_mapping(bad, "m.yaml")
    assert raised.value.problems == [
        "m.yaml: unknown setting 'sead' (did you mean seed?)",
        "m.yaml: target_tokens must be a whole number, not '4e4' (a string): YAML reads 4e4 as text, write "
        "4.0e+04 or 40000",
        "m.yaml: phases[0].sources[0]: uri is required",
    ]


def test_on_shortfall_is_warn_by_default_and_report_still_reads_as_warn() -> None:
    assert recipe_from_mapping(recipe(), "m.yaml").on_shortfall == "warn"
    assert recipe_from_mapping(recipe(on_shortfall="report"), "m.yaml").on_shortfall == "warn"
    assert recipe_from_mapping(recipe(on_shortfall="fail"), "m.yaml").on_shortfall == "fail"
    # a whole number written as a float (5.0e+7, as YAML needs an exponent written) is a whole number
    whole = recipe_from_mapping(recipe(target_tokens=4.0e4), "m.yaml").target_tokens
    assert whole == 40_000 and isinstance(whole, int)


def test_single_phase_recipes_and_unknown_pins(lake: Lake) -> None:
    simple = recipe_from_mapping(
        {"name": "flat", "target_tokens": 3000, "seed": 1, "sources": [{"uri": "corpuslake://web@1"}]}, "flat.yaml"
    )
    assert [p.name for p in simple.phases] == ["main"]
    assert built(lake, simple).report["phases"][0]["realized_tokens"] > 2500
    missing = recipe_from_mapping(
        {"name": "flat", "target_tokens": 3000, "seed": 1, "sources": [{"uri": "corpuslake://web@9"}]}, "flat.yaml"
    )
    with pytest.raises(LookupError, match="has no number 9"):
        built(lake, missing)
