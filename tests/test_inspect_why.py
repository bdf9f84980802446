"""``corpuslake why`` and duplicate-cluster samples on the sample crawl.

Touches: corpuslake.inspect.why, corpuslake.inspect.pinned, corpuslake.inspect.samples (clusters) and the
``why`` / ``sample`` handlers (corpuslake.inspect.cli, called through their own parsers), on a lake under
tmp_path: dump SAMPLE-2024-10 of the sample crawl through crawl_files, documents, filtered and
deduplicated (verified Jaccard stored), content_signals, and two snapshots published from
``deduplicated``: ``web`` with a minimum language score (one kept document is in it, another cut by that
rule) and ``clean`` with a bad-word rate of 0 (a document with a bad word is cut by that policy).
"""

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from corpuslake.datasets import publish_snapshot
from corpuslake.errors import CorpuslakeError, one_line
from corpuslake.filters.chain import FilterConfig
from corpuslake.inspect.cli import add_sample_parser, add_why_parser
from corpuslake.inspect.markdown import deduplicated_clusters_markdown, filtered_samples_markdown
from corpuslake.inspect.samples import SampleQuery, sample
from corpuslake.pipeline import deduplicate, extract_documents, filter_documents, ingest_crawl_files, tag_content
from corpuslake.policies.run import PolicyConfig
from corpuslake.runner import StageReport
from corpuslake.settings import SAMPLE_LANDING
from corpuslake.snapshots import SnapshotDefinition
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake

DUMP = "SAMPLE-2024-10"
MIN_SCORE = 0.9
REPORTS: dict[str, StageReport] = {}  # what the stages returned: the assets render their Markdown from it


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, blocklist_cache: Path) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("lake")), cache=str(blocklist_cache))
    ingest_crawl_files(lake, SAMPLE_LANDING, DUMP, "run", workers=2)
    extract_documents(lake, DUMP, "run", DocumentsConfig(), workers=2)
    REPORTS["filtered"] = filter_documents(lake, DUMP, "run", FilterConfig(), workers=2)
    REPORTS["deduplicated"] = deduplicate(lake, DUMP, "run", DedupConfig(verify=True), workers=2)
    columns = ("id", "dump", "url", "text", "language", "language_score", "cluster_size")
    web = SnapshotDefinition(name="web", source="deduplicated", min_language_score=MIN_SCORE, columns=columns)
    publish_snapshot(lake, web, "run")
    tag_content(lake, DUMP, "run", PolicyConfig(), workers=2)
    clean = SnapshotDefinition(name="clean", source="deduplicated", max_badword_rate=0.0, columns=columns)
    publish_snapshot(lake, clean, "run")
    return lake


def _run(lake: Lake, *argv: str, command: str = "why") -> str:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_why_parser(sub)
    add_sample_parser(sub)
    args = parser.parse_args([command, *argv, "--lake", lake.root])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    return out.getvalue()


def _why(lake: Lake, target: str, *argv: str) -> dict[str, Any]:
    report = json.loads(_run(lake, target, *argv, "--json"))
    assert not report["never_crawled"] and len(report["documents"]) == 1
    return dict(report["documents"][0])


def _steps(trail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["stage"]: step for step in trail["steps"]}


def _rejection(lake: Lake, stage: str, reason: str) -> dict[str, Any]:
    rows = lake.read("rejections", dumps=[DUMP], filters={"stage": stage, "reason": reason}).to_pylist()
    return dict(min(rows, key=lambda r: r["id"]))


def test_a_kept_document_is_in_the_pin(lake: Lake) -> None:
    rows = lake.read("deduplicated", columns=["id", "url", "language_score", "cluster_size"]).to_pylist()
    kept = min((r for r in rows if r["language_score"] >= MIN_SCORE), key=lambda r: r["id"])
    trail = _why(lake, kept["url"], "--pin", "corpuslake://web@1")
    steps = _steps(trail)
    assert trail["id"] == kept["id"] and trail["dump"] == DUMP
    assert steps["filtered"]["outcome"] == "passed" and steps["deduplicated"]["outcome"] == "kept"
    assert steps["scored"]["outcome"] == "not_run"  # the snapshot reads deduplicated: no score needed
    assert steps["corpuslake://web@1"]["outcome"] == "in_pin"
    assert trail["verdict"] == "kept, in corpuslake://web@1"
    every_pin = _steps(_why(lake, kept["url"]))  # without --pin: the latest number of every published name
    assert {"corpuslake://web@1", "corpuslake://clean@1"} <= set(every_pin)
    assert _why(lake, kept["id"])["id"] == kept["id"]  # by id as by URL


def test_a_snapshot_cut_names_the_rule_and_the_values(lake: Lake) -> None:
    rows = lake.read("deduplicated", columns=["id", "language_score"]).to_pylist()
    low = min((r for r in rows if r["language_score"] < MIN_SCORE), key=lambda r: r["id"])
    trail = _why(lake, low["id"], "--pin", "corpuslake://web@1")
    step = _steps(trail)["corpuslake://web@1"]
    assert step["outcome"] == "cut" and step["values"]["rule"] == "min_language_score"
    assert f"language score {low['language_score']:.3f} < {MIN_SCORE}" in step["detail"]
    assert trail["verdict"].startswith("kept by every stage; cut from corpuslake://web@1 by min_language_score")


def test_a_content_policy_cut_names_the_policy_and_the_rate(lake: Lake) -> None:
    kept = set(lake.read("deduplicated", columns=["id"])["id"].to_pylist())
    rates = lake.read("content_signals", columns=["id", "badword_rate"]).to_pylist()
    dirty = min((r for r in rates if r["id"] in kept and r["badword_rate"] > 0), key=lambda r: r["id"])
    step = _steps(_why(lake, dirty["id"], "--pin", "corpuslake://clean@1"))["corpuslake://clean@1"]
    assert step["outcome"] == "cut" and step["values"]["rule"] == "max_badword_rate"
    assert f"bad-word rate {dirty['badword_rate']:.4f} > 0.0" in step["detail"]


def test_a_filter_drop_gives_the_values_against_the_thresholds(lake: Lake) -> None:
    dropped = _rejection(lake, "filtered", "short_doc")
    trail = _why(lake, dropped["url"])
    step = _steps(trail)["filtered"]
    assert step["outcome"] == "dropped" and step["values"]["decision"] == "gopher_quality/short_doc"
    words = json.loads(dropped["signals"])["gopher_words"]
    assert step["values"]["measured"]["gopher_words"] == words < 50
    assert step["values"]["thresholds"]["min_doc_words"] == 50  # from the lineage of the run that decided
    assert step["detail"] == f"dropped by gopher_quality/short_doc: {words} words < 50"
    assert "deduplicated" not in _steps(trail) and trail["verdict"] == f"filtered: {step['detail']}"
    language = _steps(_why(lake, _rejection(lake, "filtered", "not_allowed")["id"]))["filtered"]
    assert language["values"]["thresholds"]["languages"] == ["en"]
    text = _run(lake, dropped["url"])
    assert "thresholds: " in text and "min_doc_words=50" in text and "=> filtered: dropped by" in text


def test_a_duplicate_is_merged_into_its_cluster_with_the_kept_member(lake: Lake) -> None:
    merged = _rejection(lake, "deduplicated", "near_duplicate")
    signals = json.loads(merged["signals"])
    kept_url = lake.read("deduplicated", filters={"id": signals["cluster_id"]}, columns=["url"])["url"][0].as_py()
    step = _steps(_why(lake, merged["url"]))["deduplicated"]
    assert step["outcome"] == "merged" and step["values"]["cluster_id"] == signals["cluster_id"]
    assert f"kept: {kept_url}" in step["detail"] and "Jaccard" in step["detail"]


def test_a_record_dropped_while_reading_the_dump_and_an_unknown_url(lake: Lake) -> None:
    record = _rejection(lake, "documents", "not_html")
    trail = _why(lake, record["url"])
    assert [s["outcome"] for s in trail["steps"]] == ["dropped"]
    assert trail["verdict"].startswith("documents: record dropped by http/not_html")
    unknown = "https://never.example.org/page.html"
    assert json.loads(_run(lake, unknown, "--json")) == {"target": unknown, "never_crawled": True, "documents": []}
    assert (
        _run(lake, unknown).strip()
        == f"{unknown}: never crawled (in no dump's documents, nor dropped while reading one)"
    )
    assert json.loads(_run(lake, unknown, "--dump", "SAMPLE-2024-18", "--json"))["never_crawled"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["https://x.example/", "--pin", "corpuslake://nope@1"], "no snapshot named 'nope'"),
        (["https://x.example/", "--pin", "corpuslake://web@7"], "web has no number 7"),
        (["https://x.example/", "--dump", "../etc"], "invalid dump '../etc'"),
    ],
)
def test_errors_are_one_line(lake: Lake, argv: list[str], message: str) -> None:
    known = sample(lake, SampleQuery("language", "en", k=1)).documents[0]["url"]
    argv = [known if a == "https://x.example/" else a for a in argv]
    with pytest.raises(CorpuslakeError, match=message) as raised:
        _run(lake, *argv)
    assert "\n" not in one_line(raised.value)


def test_a_cluster_sample_recomputes_the_stored_jaccard(lake: Lake) -> None:
    largest = sample(lake, SampleQuery("cluster", None, k=3)).documents
    sizes = [d["signals"]["cluster_size"] for d in largest]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 1
    near = lake.read("rejections", filters={"stage": "deduplicated", "reason": "near_duplicate"}).to_pylist()
    checked = 0
    for cluster_id in sorted({json.loads(r["signals"])["cluster_id"] for r in near})[:5]:
        members = sample(lake, SampleQuery("cluster", cluster_id, k=10)).documents
        assert members[0]["member"] == "kept" and members[0]["id"] == cluster_id
        for m in members[1:]:
            if m["duplicate_of"] == cluster_id and m["stored_jaccard"] is not None:
                assert m["jaccard"] == pytest.approx(m["stored_jaccard"], abs=1e-4)
                checked += 1
    assert checked > 0
    text = _run(lake, "cluster", "-n", "2", command="sample")
    assert text.startswith("cluster (largest): 2 from deduplicated@v")


def test_the_markdown_renders_from_what_the_stages_return(lake: Lake) -> None:
    """The calls the filtered and deduplicated assets make with their stage reports."""
    filtered, deduplicated = REPORTS["filtered"], REPORTS["deduplicated"]
    reasons = filtered_samples_markdown(lake, DUMP, filtered.extra_versions["rejections"])
    top = max((k for k in filtered.counters if k.startswith("rejected.")), key=lambda k: filtered.counters[k])
    assert f"#### `{top.removeprefix('rejected.')}`: {filtered.counters[top]:,} documents" in reasons
    assert reasons.count("#### `") == 5 and reasons.count("\n- `") == 15
    clusters = deduplicated_clusters_markdown(lake, DUMP, deduplicated.version, clusters=2, members=3)
    assert clusters.count("#### Cluster `") == 2 and clusters.count("| kept | 1.000 |") == 2
