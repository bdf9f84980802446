"""Content policies: PII detection and redaction, bad-word rates, benchmark contamination, and the
content_signals stage. Pure functions, and a lake under tmp_path for the stage."""

import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from corpuslake.filters import url
from corpuslake.filters.chain import FilterConfig
from corpuslake.pipeline import filter_documents, tag_content
from corpuslake.policies import badwords, pii
from corpuslake.policies.contamination import EVAL_SETS, EvalIndex, EvalSetError, words
from corpuslake.policies.run import PolicyConfig
from corpuslake.store import Lake
from tests.test_filtered_stage import lake as lake  # the fixture: a lake with five documents
from tests.test_filters import ENGLISH

with gzip.open(EVAL_SETS / "humaneval.jsonl.gz", "rt") as _problems:
    HUMANEVAL_0 = json.loads(_problems.readline())["text"]


@pytest.mark.parametrize(
    ("text", "emails", "ips", "phones", "cards"),
    [
        ("write to jane.doe+news@mail.example.co.uk today", 1, 0, 0, 0),
        ("the resolver at 8.8.8.8 and 2001 hosts", 0, 1, 0, 0),
        ("call (415) 555-2671 or +44 207-555-0199", 0, 0, 2, 0),
        ("card 4111 1111 1111 1111 on file", 0, 0, 0, 1),
        # near misses
        ("upgrade to version 1.2.3.4 now, or v10.0.0.1", 0, 0, 0, 0),  # version numbers
        ("the OID 1.3.6.1.4.1 and 999.1.1.1", 0, 0, 0, 0),  # a longer dotted run, an octet out of range
        ("see Section 4.1.2.1.\n6.5.1.1. Managing recommends", 0, 0, 0, 0),  # section numbers
        ("gateway 192.168.1.1, loopback 127.0.0.1, docs 203.0.113.9", 0, 0, 0, 0),  # not public addresses
        ("order 4111 1111 1111 1112 and ISBN 978-3-16-148410-0", 0, 0, 0, 0),  # fails Luhn; not a phone shape
        ("on 2024-10-15 at 10:30, page 12 of 345", 0, 0, 0, 0),  # dates and numbers
        ("user@localhost is not an address", 0, 0, 0, 0),  # no top-level domain
        # other scripts
        ("Пишите нам: ivan.petrov@почта.example.ru или info@example.org", 1, 0, 0, 0),
        ("お問い合わせは support@example.jp まで。", 1, 0, 0, 0),
    ],
)
def test_pii_detection(text: str, emails: int, ips: int, phones: int, cards: int) -> None:
    assert pii.find(text) == pii.PiiCounts(emails, ips, phones, cards)


def test_redaction_is_stable_and_idempotent() -> None:
    text = "a@b.org wrote from 8.8.8.8 to 1.1.1.1 and 8.8.8.8; call 212-555-0199; pay 4111-1111-1111-1111."
    once = pii.redact(text)
    assert "a@b.org" not in once and "8.8.8.8" not in once and "4111" not in once and "212-555" not in once
    assert pii.redact(once) == once  # redacting again changes nothing
    assert pii.redact(text) == once  # the same input gives the same placeholders
    ips = [w.strip(";") for w in once.split() if w.count(".") == 3 and w[0].isdigit()]
    assert ips[0] == ips[2] != ips[1]  # one address, one placeholder; another address, another
    assert all(ip.startswith(("192.0.2.", "198.51.100.", "203.0.113.")) for ip in ips)
    found = pii.find(once)  # placeholders count as what they stand for; IP placeholders are not public
    assert (found.emails, found.phones, found.cards, found.ips) == (1, 1, 1, 0)


def test_bad_words_per_language() -> None:
    english = badwords.count("What an asshole. Classic class assessment.", "en")
    assert (english.language, english.matches) == ("en", 1)  # whole words: not inside "class"
    assert english.rate == pytest.approx(1 / 6)
    assert badwords.count("这是一个关于性别平等的句子。", "zh").matches == 0  # 性 is allowed in Chinese
    assert badwords.count("Ein ganz normaler Satz.", "de").matches == 0
    assert badwords.count("text in a language without a list", "xx").language is None


def test_contamination_finds_13_gram_overlaps() -> None:
    index = EvalIndex.load(EVAL_SETS)
    assert index.examples == {"humaneval": 164}
    page = "Here is a solution I found online:\n" + HUMANEVAL_0.upper().replace("(", " ( ") + "\nThanks!"
    overlaps = index.overlaps(page)
    assert overlaps.get("humaneval", 0) > 20  # case and punctuation do not hide it
    words_12 = " ".join(words(HUMANEVAL_0)[:12])
    assert index.overlaps(f"prefix {words_12} suffix") == {}  # 12 shared words: below the 13-gram size
    assert index.overlaps(ENGLISH) == {}


def test_eval_sets_as_text_files_and_bad_folders(tmp_path: Path) -> None:
    folder = tmp_path / "evals"
    folder.mkdir()
    passage = "the quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun all day"
    (folder / "mybench.txt").write_text(f"{passage}\n\nanother example with too few words\n")
    index = EvalIndex.load(folder)
    assert index.examples == {"mybench": 2}
    assert index.overlaps(f"News: {passage}.") == {"mybench": len(passage.split()) - 12}
    with pytest.raises(EvalSetError, match="not found"):
        EvalIndex.load(tmp_path / "missing")
    (folder / "mybench.txt").unlink()
    with pytest.raises(EvalSetError, match="no evaluation sets"):
        EvalIndex.load(folder)
    (folder / "broken.jsonl").write_text('{"no_text": 1}\n')
    with pytest.raises(EvalSetError, match=r"broken\.jsonl"):
        EvalIndex.load(folder)


def test_stage_writes_one_row_per_filtered_document(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "casino").write_text("casino\n")
    lists = url.UrlConfig(
        domains="", urls="", banned_words=str(tmp_path / "casino"), soft_banned_words="", banned_subwords=""
    )
    filter_documents(lake, "D1", "run", dataclasses.replace(FilterConfig(), url=lists), workers=1)
    report = tag_content(lake, "D1", "run", PolicyConfig(), workers=1)
    rows = lake.read("content_signals", report.version).to_pylist()
    assert {r["id"] for r in rows} == set(lake.read("filtered", columns=["id"])["id"].to_pylist())
    assert all(r["contaminated"] == [] and r["pii_emails"] == 0 for r in rows)
    lineage = lake.lineage("content_signals", report.version)
    assert [str(u) for u in lineage.upstream] == ["filtered@v0"]
    assert set(lineage.config["eval_set_sha256"]) == {"humaneval.jsonl.gz"}
    assert report.counters["documents"] == len(rows)
