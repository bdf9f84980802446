"""The filtered stage over a documents table, and its run config. Touches: a lake under tmp_path."""

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from corpuslake.filters import url
from corpuslake.filters.chain import FilterConfig
from corpuslake.lineage import Lineage
from corpuslake.pipeline import filter_documents
from corpuslake.schemas import DOCUMENTS, FILTERED, REJECTIONS
from corpuslake.store import Lake
from orchestration.config import config_class, to_dataclass
from quality_checks.filtered import filtered_balance
from tests.test_filters import ENGLISH, words

NO_LISTS = url.UrlConfig(domains="", urls="", banned_words="casino", soft_banned_words="", banned_subwords="")


def _doc(i: int, text: str, language: str = "en", page: str | None = None) -> dict[str, object]:
    return {
        "id": f"doc{i:02d}",
        "dump": "D1",
        "url": page or f"http://site.example/{i}",
        "warc_record_id": f"<urn:uuid:{i}>",
        "warc_date": None,
        "source_file": "part-0.warc.gz",
        "warc_offset": 100 * i,
        "content_type": "text/html",
        "encoding": "utf-8",
        "html_bytes": len(text) * 2,
        "replaced_fraction": 0.0,
        "text": text,
        "text_chars": len(text),
        "language": language,
        "language_score": 0.97,
    }


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    (tmp_path / "casino").write_text("casino\n")
    store = Lake(str(tmp_path / "lake"))
    rows = [
        _doc(1, ENGLISH),
        _doc(2, ENGLISH + "Menu\nHome\n"),  # kept, with two short lines edited away by C4
        _doc(3, ENGLISH, language="de"),
        _doc(4, " ".join(["The", "and", "the", *words(27)]) + "."),  # 30 words: too short for Gopher
        _doc(5, ENGLISH, page="http://site.example/casino-night"),
    ]
    store.write_partition(
        "documents",
        pa.Table.from_pylist(rows, schema=DOCUMENTS),
        Lineage("documents", "D1", "r0", "t", {}),
        {"dump": "D1"},
    )
    return store


def _config(tmp_path: Path, **changes: Any) -> FilterConfig:
    lists = dataclasses.replace(NO_LISTS, banned_words=str(tmp_path / "casino"))
    return dataclasses.replace(FilterConfig(url=lists), **changes)


def test_kept_rows_carry_signals_and_dropped_rows_a_reason(lake: Lake, tmp_path: Path) -> None:
    report = filter_documents(lake, "D1", "run-1", _config(tmp_path), workers=1)
    kept = lake.read("filtered", report.version).sort_by("id").to_pylist()
    assert [r["id"] for r in kept] == ["doc01", "doc02"]
    assert kept[1]["text"] == ENGLISH.strip() and kept[1]["original_chars"] == len(ENGLISH + "Menu\nHome\n")
    assert kept[1]["c4_lines_removed"] == 2 and kept[1]["flags"] == []
    assert lake.read("filtered").schema.names == FILTERED.names

    rejected = {r["id"]: r for r in lake.read("rejections", filters={"stage": "filtered"}).to_pylist()}
    assert {i: f"{r['filter']}/{r['reason']}" for i, r in rejected.items()} == {
        "doc03": "language/not_allowed",
        "doc04": "gopher_quality/short_doc",
        "doc05": "url/banned_word",
    }
    signals = json.loads(rejected["doc04"]["signals"])
    assert signals["gopher_words"] == 30 and "gopher_quality/short_doc" in signals["flags"]
    assert "30 words < 50" in rejected["doc04"]["detail"]

    assert report.counters["documents"] == 5 and report.counters["kept"] == 2
    assert report.counters["rejected.language/not_allowed"] == 1
    lineage = lake.lineage("filtered", report.version)
    assert [str(u) for u in lineage.upstream] == ["documents@v0"]
    assert lineage.config["gopher_quality"]["min_doc_words"] == 50


def test_new_threshold_rewrites_only_this_stage(lake: Lake, tmp_path: Path) -> None:
    first = filter_documents(lake, "D1", "run-1", _config(tmp_path), workers=1)
    again = filter_documents(lake, "D1", "run-2", _config(tmp_path), workers=1)
    assert again.version == first.version + 1
    assert lake.read("filtered", again.version).sort_by("id").equals(lake.read("filtered", first.version).sort_by("id"))

    looser = _config(tmp_path, gopher_quality=dataclasses.replace(FilterConfig().gopher_quality, min_doc_words=3))
    relaxed = filter_documents(lake, "D1", "run-3", looser, workers=1)
    assert lake.version("documents") == 0  # upstream untouched
    assert relaxed.counters["kept"] == 2  # doc04 now passes Gopher, and fails C4 (one sentence)
    assert relaxed.counters["rejected.c4/too_few_sentences"] == 1
    fingerprints = {lake.lineage("filtered", v).config_fingerprint for v in (first.version, relaxed.version)}
    assert len(fingerprints) == 2
    # the previous version still reads as it was
    assert lake.read("filtered", first.version).num_rows == 2


def test_missing_documents_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="materialize documents"):
        filter_documents(Lake(str(tmp_path / "empty")), "D1", "run", FilterConfig(), workers=1)


def test_unknown_dump_is_a_clear_error(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no partition 'D9'"):
        filter_documents(lake, "D9", "run", _config(tmp_path), workers=1)


@pytest.mark.slow
def test_process_pool_gives_the_same_rows(lake: Lake, tmp_path: Path) -> None:
    serial = filter_documents(lake, "D1", "run-1", _config(tmp_path), workers=1, batch_rows=2)
    pooled = filter_documents(lake, "D1", "run-2", _config(tmp_path), workers=2, batch_rows=2)
    a = lake.read("filtered", serial.version).sort_by("id")
    b = lake.read("filtered", pooled.version).sort_by("id")
    assert a.equals(b) and a.num_rows == 2


def test_run_config_mirrors_the_engine_dataclass() -> None:
    stage_config = config_class(FilterConfig, "FilterStageConfig")
    assert to_dataclass(FilterConfig, stage_config()) == FilterConfig()
    described = stage_config.model_fields["fineweb"].annotation.model_fields  # type: ignore[union-attr]
    assert "FineWeb-2 uses 0.1" in (described["char_duplicates_ratio"].description or "")
    run = stage_config(
        language={"languages": ["en", "de"], "min_score_by_language": {"de": 0.5}}, c4={"enabled": False}
    )
    converted = to_dataclass(FilterConfig, run)
    assert converted.language.languages == ("en", "de") and converted.language.min_score_by_language == {"de": 0.5}
    assert converted.c4.enabled is False and converted.fineweb == FilterConfig().fineweb


def test_balance_check_passes_on_the_stage_and_fails_on_crafted_commits(lake: Lake, tmp_path: Path) -> None:
    filter_documents(lake, "D1", "run-1", _config(tmp_path), workers=1)
    passed, counts = filtered_balance(lake, "D1")
    assert passed and (counts["documents"], counts["kept"], counts["rejected"]) == (5, 2, 3)

    kept = lake.read("filtered", dumps=["D1"])
    rejected = lake.read("rejections", filters={"stage": "filtered"})
    upstream = lake.lineage("filtered").upstream
    # a commit that keeps a document it also rejects
    both = Lineage("filtered", "D1", "bad-1", "t", {}, upstream)
    lake.write_partition("rejections", rejected.select(REJECTIONS.names), both, {"dump": "D1", "stage": "filtered"})
    also_rejected = {**kept.to_pylist()[0], "id": rejected["id"][0].as_py()}
    row = pa.Table.from_pylist([also_rejected], schema=kept.schema)
    lake.write_partition("filtered", pa.concat_tables([kept, row]), both, {"dump": "D1"})
    passed, counts = filtered_balance(lake, "D1")
    assert (
        not passed
        and counts["kept_and_rejected"] == 1
        and rejected["id"][0].as_py() in counts["sample_kept_and_rejected"]
    )

    # a commit that loses a document
    lost = Lineage("filtered", "D1", "bad-2", "t", {}, upstream)
    lake.write_partition(
        "rejections", rejected.slice(1).select(REJECTIONS.names), lost, {"dump": "D1", "stage": "filtered"}
    )
    lake.write_partition("filtered", kept, lost, {"dump": "D1"})
    passed, counts = filtered_balance(lake, "D1")
    assert not passed and counts["unaccounted"] == 1
