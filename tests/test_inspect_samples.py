"""Samples per decision and their Markdown, on small stage tables the tests write themselves.

Touches: corpuslake.inspect.samples, corpuslake.inspect.markdown and the ``corpuslake sample`` handler
(corpuslake.inspect.cli, called through its own parser) on a lake under tmp_path: a ``documents`` table of
two dumps and a ``scored`` table written row by row, and ``rejections`` of the filtered stage, each with
a second version to show that a sample reads the version asked.
"""

import argparse
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from corpuslake import cli
from corpuslake.errors import LakeNotFoundError
from corpuslake.inspect.cli import add_sample_parser
from corpuslake.inspect.markdown import escape, filtered_samples_markdown, scored_deciles_markdown
from corpuslake.inspect.samples import SampleQuery, parse_bucket, sample
from corpuslake.inspect.scan import InspectError, excerpt, partition_lineage, smallest_keys
from corpuslake.lineage import Lineage
from corpuslake.schemas import REJECTIONS, SCORED
from corpuslake.store import Lake

LANGUAGES = ["en", "fr", "en", "de", "en"]
SCHEMA = pa.schema([f.with_nullable(True) for f in SCORED])


def _id(dump: str, i: int) -> str:
    return hashlib.sha256(f"{dump}/{i}".encode()).hexdigest()[:32]


def _rows(dump: str, count: int, tag: str) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for i in range(count):
        host = "news.example.org" if i % 4 == 0 else f"site{i % 3}.example.com"
        row: dict[str, Any] = {f.name: None for f in SCORED}
        row |= {
            "id": _id(dump, i),
            "dump": dump,
            "url": f"https://{host}/{tag}/{i}",
            "text": f"{tag} document {i} of {dump}. " + "Words that fill the page *with* | pipes. " * 12,
            "text_chars": 500,
            "language": LANGUAGES[i % 5],
            "language_score": 0.5 + (i % 50) / 100,
            "quality_score": (i * 37 % 100) / 100,
            "quality_model": "m",
            "cluster_size": 1,
        }
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _rejections(dump: str, count: int) -> pa.Table:
    rows = []
    for i in range(count):
        reason = "short_doc" if i % 3 else "few_stop_words"
        detail = f"gopher_quality/{reason}: {i} words < 50; c4/too_few_sentences: 1 sentences < 5"
        signals = {"gopher_words": i, "gopher_stop_words": 1, "c4_sentences": 1, "flags": []}
        rows.append(
            {
                "id": _id(dump, i),
                "dump": dump,
                "stage": "filtered",
                "filter": "gopher_quality",
                "reason": reason,
                "detail": detail,
                "url": f"https://drop.example.net/{i}",
                "signals": json.dumps(signals),
            }
        )
    return pa.Table.from_pylist(rows, schema=REJECTIONS)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Version 0 and 1 of ``scored`` hold dump D1 and D2; version 2 rewrites D1 with other texts."""
    lake = Lake(str(tmp_path_factory.mktemp("lake")))
    for dump in ("D1", "D2"):
        lake.write_partition("scored", _rows(dump, 400, "old"), Lineage("scored", dump, "t", "t", {}), {"dump": dump})
        lake.write_partition(
            "rejections",
            _rejections(dump, 90),
            Lineage("filtered", dump, "t", "t", {}),
            {"dump": dump, "stage": "filtered"},
        )
    lake.write_partition("scored", _rows("D1", 300, "new"), Lineage("scored", "D1", "t", "t", {}), {"dump": "D1"})
    return lake


def _ids(lake: Lake, **asked: Any) -> list[str]:
    settings: dict[str, Any] = {"kind": "language", "value": "en", "table": "scored", "k": 6} | asked
    query = SampleQuery(**settings)
    return [d["id"] for d in sample(lake, query).documents]


def test_a_seed_draws_the_same_documents_and_another_seed_others(lake: Lake) -> None:
    first = _ids(lake, seed=7)
    assert len(first) == 6 and first == _ids(lake, seed=7)
    assert first != _ids(lake, seed=8)
    # the draw is the k smallest hashes of (seed, id): a larger k extends a smaller one
    assert _ids(lake, seed=7, k=10)[:6] == first


def test_smallest_keys_keeps_the_k_smallest_whatever_the_order() -> None:
    ids = [f"doc-{i}" for i in range(500)]
    assert smallest_keys(ids, 5, 3) == smallest_keys(reversed(ids), 5, 3)
    assert smallest_keys(ids, 5, 3) == smallest_keys(ids, 500, 3)[:5]
    assert sorted(smallest_keys(ids[:2], 5, 3)) == ids[:2]  # fewer than k: every one


def test_a_sample_reads_the_version_asked(lake: Lake) -> None:
    latest = sample(lake, SampleQuery("language", "en", "scored", None, "D1", 1, 8))
    old = sample(lake, SampleQuery("language", "en", "scored", 1, "D1", 1, 8))
    assert latest.version == 2 and old.version == 1
    assert all(d["excerpt"].startswith("new ") for d in latest.documents)
    assert all(d["excerpt"].startswith("old ") for d in old.documents)
    again = sample(lake, SampleQuery("language", "en", "scored", 1, "D1", 1, 8))
    assert [d["id"] for d in again.documents] == [d["id"] for d in old.documents]


def test_each_kind_selects_only_matching_documents(lake: Lake) -> None:
    for doc in sample(lake, SampleQuery("language", "fr", "scored", k=20)).documents:
        assert doc["signals"]["language"] == "fr"
    bucket = sample(lake, SampleQuery("score", "0.3:0.4", k=20, dump="D2"))
    assert bucket.table == "scored" and len(bucket.documents) == 20
    assert all(0.3 <= d["signals"]["quality_score"] < 0.4 and d["dump"] == "D2" for d in bucket.documents)
    domain = sample(lake, SampleQuery("domain", "example.org", "scored", k=50)).documents
    assert domain and all("://news.example.org/" in d["url"] for d in domain)
    assert not sample(lake, SampleQuery("domain", "ample.org", "scored", k=5)).documents  # a suffix is not a domain


def test_a_reason_sample_has_the_deciding_values_and_detail(lake: Lake) -> None:
    result = sample(lake, SampleQuery("reason", "gopher_quality/few_stop_words", dump="D1", k=4))
    assert result.table == "rejections" and len(result.documents) == 4
    for doc in result.documents:
        assert doc["decision"] == "gopher_quality/few_stop_words"
        assert set(doc["signals"]) == {"gopher_words", "gopher_stop_words"}  # the unit's signals only
        assert doc["detail"].endswith("words < 50") and "c4" not in doc["detail"]
    short = sample(lake, SampleQuery("reason", "short_doc", k=200)).documents
    assert len(short) == 120 and {d["dump"] for d in short} == {"D1", "D2"}


def test_excerpts_are_short_and_flat() -> None:
    text = "word " * 200 + "\n\n tail"
    cut = excerpt(text)
    assert len(cut) <= 302 and cut.endswith(" …") and "\n" not in cut
    assert excerpt("a\n b  c") == "a b c"


def test_markdown_escapes_and_has_a_section_per_reason_and_decile(lake: Lake) -> None:
    assert escape("a|b *c* <b>x</b>\n[l]") == r"a\|b \*c\* \<b\>x\</b\> \[l\]"
    filtered = filtered_samples_markdown(lake, "D1", reasons=2, per_reason=2)
    assert filtered.count("#### `gopher_quality/short_doc`: 60 documents") == 1
    assert "#### `gopher_quality/few_stop_words`: 30 documents" in filtered
    assert filtered.count("\n- `") == 4
    assert filtered_samples_markdown(lake, "D9") == "No document of D9 was dropped by a filter (rejections@v1)."
    deciles = scored_deciles_markdown(lake, "D2", per_decile=1)
    assert deciles.count("#### Score ") == 10 and deciles.count("\n- `") == 10
    assert r"\*with\* \| pipes" in deciles and "*with* | pipes" not in deciles


def _run(lake: Lake, *argv: str) -> str:
    parser = argparse.ArgumentParser()
    add_sample_parser(parser.add_subparsers())
    args = parser.parse_args(["sample", *argv, "--lake", lake.root])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    return out.getvalue()


def test_the_command_prints_text_and_json(lake: Lake) -> None:
    text = _run(lake, "reason", "short_doc", "-n", "2", "--dump", "D2", "--seed", "4")
    assert text.startswith("reason short_doc: 2 from rejections@v1, dump D2, seed 4")
    assert text.count("decided: ") == 2
    data = json.loads(_run(lake, "language", "de", "--table", "scored", "--version", "0", "--json"))
    assert data["version"] == 0 and data["table"] == "scored" and len(data["documents"]) == 5
    assert {d["dump"] for d in data["documents"]} == {"D1"}  # version 0 holds D1 alone


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["language", "en", "--table", "scored", "--version", "9"], "scored has no version 9 (latest is 2)"),
        (["score", "0.9:0.1"], "a score bucket needs 0 <= LOW < HIGH <= 1"),
        (["language"], "sample language needs a value"),
        (["language", "en", "--table", "filtered"], "table filtered does not exist"),
        (["cluster", "nope"], "table deduplicated does not exist"),
    ],
)
def test_errors_are_one_line(lake: Lake, argv: list[str], message: str) -> None:
    with pytest.raises(InspectError, match=re.escape(message)) as raised:
        _run(lake, *argv)
    assert "\n" not in str(raised.value)


def test_bucket_parsing() -> None:
    assert parse_bucket("0.8:1") == (0.8, 1.0)
    with pytest.raises(InspectError, match="LOW:HIGH"):
        parse_bucket("high")


def test_an_empty_lake_and_a_missing_one_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match="table documents does not exist"):
        sample(Lake(str(tmp_path)), SampleQuery("language", "en"))
    with pytest.raises(LakeNotFoundError, match="does not exist"):
        _run(Lake(str(tmp_path / "nowhere")), "language", "en")


def test_the_lineage_of_a_dump_is_that_of_the_run_that_wrote_it(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    for dump, threshold in (("D1", 50), ("D2", 80)):
        config = {"gopher_quality": {"min_doc_words": threshold}}
        lake.write_partition("scored", _rows(dump, 3, "x"), Lineage("scored", dump, "t", "t", config), {"dump": dump})
    found = partition_lineage(lake, "scored", "D1")
    assert found is not None and found.config["gopher_quality"]["min_doc_words"] == 50  # not the latest run's 80
    assert partition_lineage(lake, "scored", "D3") is None


def test_through_the_command_line_an_error_is_one_line_with_exit_code_2(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["sample", "score", "0.5", "--lake", lake.root])
    err = capsys.readouterr().err
    assert code == 2 and err == "corpuslake: error: a score bucket is LOW:HIGH, e.g. 0.8:0.9, not '0.5'\n"
    assert cli.main(["why", "https://nowhere.example/", "--lake", lake.root]) == 0
    assert "never crawled" in capsys.readouterr().out


def test_the_pages_draw_the_documents_a_sample_of_each_reason_and_decile_draws(lake: Lake) -> None:
    # the pages draw every reason and decile in one pass: the same documents as one sample per reason or bucket
    filtered = filtered_samples_markdown(lake, "D1", reasons=2, per_reason=3, seed=4)
    for code in ("gopher_quality/short_doc", "gopher_quality/few_stop_words"):
        drawn = sample(lake, SampleQuery("reason", code, dump="D1", seed=4, k=3)).documents
        section = filtered.split(f"#### `{code}`", 1)[1].split("####", 1)[0]
        assert [d["id"][:12] for d in drawn] == [line[3:15] for line in section.splitlines() if line.startswith("- `")]
    deciles = scored_deciles_markdown(lake, "D2", per_decile=2, seed=5)
    for decile in range(10):
        bucket = f"{decile / 10:.1f}:{(decile + 1) / 10:.1f}"
        drawn = sample(lake, SampleQuery("score", bucket, dump="D2", seed=5, k=2)).documents
        section = deciles.split(f"#### Score {bucket.replace(':', ' to ')}", 1)[1].split("####", 1)[0]
        assert [d["id"][:12] for d in drawn] == [line[3:15] for line in section.splitlines() if line.startswith("- `")]
