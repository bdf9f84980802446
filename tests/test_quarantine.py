"""Quarantined dumps: a dump whose latest version failed a blocking check is left out of publications.

Touches: corpuslake.quarantine over crafted verdicts, corpuslake.datasets.publish_snapshot (coverage in the
catalog entry's report, a definition naming a quarantined dump blocked) and publish_mixture, the
``summary``, ``snapshots`` and ``resolve`` commands of corpuslake.cli, corpuslake.coverage and the coverage
metadata of assets.metadata, on a lake of two small ``scored`` dumps under tmp_path.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from assets.metadata import coverage_metadata
from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.cli import main
from corpuslake.coverage import coverage_lines, proportion_lines
from corpuslake.datasets import publish_mixture, publish_snapshot
from corpuslake.mixtures import recipe_from_mapping
from corpuslake.publish import PublicationBlockedError
from corpuslake.quarantine import quarantined
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.store import Lake
from corpuslake.tokens import Tokenizer
from corpuslake.verdicts import Verdict, blocked_attempts, dump_failures, record_verdict
from tests.test_snapshots import texts, write_scored

__all__ = ["texts"]  # the shared fixture
REQUIRED = {"scored": ["scored_expectations"]}


def _verdict(lake: Lake, version: int, dump: str, check: str, passed: bool, severity: str = "error") -> None:
    record_verdict(lake, Verdict("scored", version, dump, check, passed, "crafted", {}, "run", severity))


def test_a_failing_blocking_check_quarantines_the_dump_until_it_passes(tmp_path: Path, texts: list[str]) -> None:
    lake = Lake(str(tmp_path / "lake"))
    assert quarantined(lake) == {}  # no table, no verdict: nothing to say
    good = write_scored(lake, "D1", texts[:30])
    bad = write_scored(lake, "D2", texts[30:60])
    assert quarantined(lake) == {}  # a check that has not run quarantines only when it is required
    assert quarantined(lake, REQUIRED) == {
        "D1": [f"scored@v{good} dump D1: check scored_expectations has not run"],
        "D2": [f"scored@v{bad} dump D2: check scored_expectations has not run"],
    }
    _verdict(lake, good, "D1", "scored_expectations", True)
    _verdict(lake, bad, "D2", "scored_expectations", False)
    _verdict(lake, bad, "D2", "scored_drift", False, "warn")  # a warning never quarantines
    reasons = [f"scored@v{bad} dump D2: check scored_expectations failed"]
    assert quarantined(lake) == quarantined(lake, REQUIRED) == {"D2": reasons}
    assert dump_failures(lake, "scored", bad, dumps=["D1", "D2", "D9"]) == {
        "D2": reasons,
        "D9": [f"scored: no commit wrote dump D9 at or before v{bad}"],
    }
    _verdict(lake, bad, "D2", "scored_expectations", True)  # the latest evaluation wins
    assert quarantined(lake) == {}
    _verdict(lake, bad, "D2", "scored_expectations", False)
    newer = write_scored(lake, "D2", texts[30:60])  # a new version of the partition, checked afresh
    assert quarantined(lake) == {}
    assert quarantined(lake, REQUIRED) == {"D2": [f"scored@v{newer} dump D2: check scored_expectations has not run"]}


def _two_dumps(lake: Lake, texts: list[str]) -> tuple[int, int, str]:
    """D1 passes its suite, D2 fails it: the versions and the reason D2 is quarantined."""
    good = write_scored(lake, "D1", texts[:60])
    bad = write_scored(lake, "D2", texts[60:120])
    _verdict(lake, good, "D1", "scored_expectations", True)
    _verdict(lake, bad, "D2", "scored_expectations", False)
    return good, bad, f"scored@v{bad} dump D2: check scored_expectations failed"


def test_snapshots_publish_from_the_dumps_that_passed(
    tmp_path: Path, texts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "lake"
    lake, tokenizer = Lake(str(root)), Tokenizer()
    good, bad, reason = _two_dumps(lake, texts)

    entry = publish_snapshot(lake, SnapshotDefinition(name="web"), "run-1", tokenizer, required_checks=REQUIRED).entry
    assert entry.report["coverage"] == {"dumps": ["D1"], "left_out": {"D2": [reason]}}
    assert set(client.open(entry.uri, lake).to_table()["dump"].to_pylist()) == {"D1"}
    assert entry.documents == 60 and set(entry.report["by_dump"]) == {"D1"}

    # naming the failing dump blocks the definition with the reason, and nothing is published
    named = SnapshotDefinition(name="web-both", dumps=("D1", "D2"))
    with pytest.raises(PublicationBlockedError, match="names quarantined dump") as blocked:
        publish_snapshot(lake, named, "run-2", tokenizer, required_checks=REQUIRED)
    assert blocked.value.reasons == [reason]
    assert [a["reasons"] for a in blocked_attempts(lake, "web-both")] == [[reason]]
    assert [e.uri for e in Catalog(lake).entries()] == [entry.uri]
    # a named dump the source does not hold is left out and said so (no checks involved)
    one = publish_snapshot(lake, SnapshotDefinition(name="web-d1", dumps=("D1", "D9")), "run-3", tokenizer).entry
    assert one.report["coverage"] == {"dumps": ["D1"], "left_out": {"D9": [f"not in scored@v{bad}"]}}

    assert main(["snapshots", "--lake", str(root)]) == 0
    listing = capsys.readouterr().out
    assert f"WARNING covers 1 dump(s): D1; left out 1: D2 ({reason})" in listing
    assert (
        f"QUARANTINED  dump D2 (snapshots leave it out until its blocking checks pass):\n           {reason}" in listing
    )
    assert "BLOCKED  web-both" in listing
    assert main(["summary", "--lake", str(root)]) == 0
    assert "QUARANTINED  dump D2" in (summary := capsys.readouterr().out) and reason in summary
    assert main(["resolve", "--lake", str(root), entry.uri]) == 0
    assert f"\n  WARNING covers 1 dump(s): D1; left out 1: D2 ({reason})\n" in capsys.readouterr().out

    # every dump quarantined: blocked with the reasons, whatever was published before stays
    _verdict(lake, good, "D1", "scored_expectations", False)
    with pytest.raises(PublicationBlockedError, match="every dump is quarantined") as blocked:
        publish_snapshot(lake, SnapshotDefinition(name="web"), "run-4", tokenizer, required_checks=REQUIRED)
    assert blocked.value.reasons == [f"scored@v{good} dump D1: check scored_expectations failed", reason]

    # the checks pass again: the next number covers both dumps and the quarantine is lifted
    _verdict(lake, good, "D1", "scored_expectations", True)
    _verdict(lake, bad, "D2", "scored_expectations", True)
    both = publish_snapshot(lake, SnapshotDefinition(name="web"), "run-5", tokenizer, required_checks=REQUIRED).entry
    assert both.number == 2 and both.report["coverage"] == {"dumps": ["D1", "D2"], "left_out": {}}
    assert main(["snapshots", "--lake", str(root), "web"]) == 0
    listing = capsys.readouterr().out
    assert "QUARANTINED" not in listing and "WARNING" not in listing.split("corpuslake://web@2")[1]
    assert main(["resolve", "--lake", str(root), both.uri]) == 0
    assert "\n  covers 2 dump(s): D1, D2\n" in capsys.readouterr().out


def test_a_mixture_shows_its_sources_coverage_and_requested_against_realized(
    tmp_path: Path, texts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "lake"
    lake, tokenizer = Lake(str(root)), Tokenizer()
    _, _, reason = _two_dumps(lake, texts)
    web = publish_snapshot(lake, SnapshotDefinition(name="web"), "run-1", tokenizer, required_checks=REQUIRED).entry
    greedy = {
        "name": "mix",
        "target_tokens": web.tokens * 10,  # more than two passes over web can give: a shortfall
        "seed": 7,
        "max_epochs": 2,
        "phases": [{"name": "all", "fraction": 1.0, "sources": [{"uri": web.uri, "weight": 1}]}],
    }
    mix = publish_mixture(lake, recipe_from_mapping(greedy, "mix.yaml"), "run-2").entry
    assert mix.report["coverage"] == {"sources": {web.uri: web.report["coverage"]}}
    assert mix.report["shortfalls"]

    assert main(["snapshots", "--lake", str(root), "mix"]) == 0
    listing = capsys.readouterr().out
    assert f"    WARNING {web.uri}: covers 1 dump(s): D1; left out 1: D2 ({reason})" in listing
    assert f"    WARNING shortfall: {mix.report['shortfalls'][0]}" in listing
    assert main(["resolve", "--lake", str(root), mix.uri]) == 0
    resolved = capsys.readouterr().out
    realized = mix.report["realized_tokens"]
    assert (
        f"  tokens: requested {web.tokens * 10:,}, realized {realized:,} ({realized / (web.tokens * 10):.1%})"
        in resolved
    )
    assert f"    all: {web.uri} share requested 1.000, realized 1.000; tokens requested {web.tokens * 10:,}" in resolved
    assert "capped by the repetition limit" in resolved
    # without a shortfall the listing shows the tokens and the shares asked and realized
    plain = replace(mix, report={**mix.report, "shortfalls": []})
    assert proportion_lines(plain) == [
        f"tokens: requested {web.tokens * 10:,}, realized {realized:,} ({realized / (web.tokens * 10):.1%})",
        f"  all: shares requested 1.000, realized 1.000 ({web.uri})",
    ]
    shown = coverage_metadata(mix)  # the mixtures asset's metadata in the UI
    assert shown["mix/dumps"] == f"{web.uri}: D1" and f"**{web.uri} D2**: {reason}" in str(shown["mix/left_out"].value)
    assert coverage_metadata(web)["web/dumps"] == "D1" and coverage_metadata(replace(web, report={})) == {}
    assert coverage_lines(web) == [f"WARNING covers 1 dump(s): D1; left out 1: D2 ({reason})"]
    assert proportion_lines(web) == [] and coverage_lines(replace(web, report={})) == []  # older entries
