"""The compiled batch scan of the content policies (corpuslake.policies.textscan) against the regexes and
the implementation it replaced (tests/policies_reference.py): words, PII pre-checks, bad-word counts and
benchmark overlaps must be the same, on real texts and on texts built to hit every rule. Pure functions,
plus the stage's batch function writing into a lake under tmp_path."""

import gzip
import json
import random
import re
from pathlib import Path

import pyarrow as pa
import pytest

from corpuslake.policies import badwords, pii, textscan
from corpuslake.policies.contamination import EVAL_SETS, EvalIndex
from corpuslake.policies.run import CONTENT_SIGNALS, PolicyConfig, signal_batch
from corpuslake.runner import Sink, partition_output
from corpuslake.store import Lake
from tests import policies_reference as reference

EXAMPLES = Path(__file__).resolve().parent.parent / "samples" / "quality" / "examples.jsonl.gz"
_WORD = re.compile(r"[^\W_]+")


def real_texts() -> list[str]:
    """2,400 real paragraphs and pages (the quality model's training examples)."""
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines]


def test_character_classes_are_the_regex_classes() -> None:
    flags = textscan.char_flags()
    for code in [*range(0x3000), *range(0xD7F0, 0xE010), *range(0x1F000, 0x1F200), 0x10FFFF]:
        ch = chr(code)
        assert bool(flags[code] & textscan.ALNUM) == bool(_WORD.fullmatch(ch)), hex(code)
        assert bool(flags[code] & textscan.DECIMAL) == bool(re.fullmatch(r"\d", ch)), hex(code)


def test_lowercasing_keeps_the_pii_characters() -> None:
    # the PII pre-checks run on lowercased texts: a character that lowercasing changes is none of theirs
    # (digits, ".", " ", "-"), becomes none of theirs, and never becomes nothing
    for code in range(0x110000):
        ch = chr(code)
        lowered = ch.lower()
        if lowered != ch:
            assert lowered and not any(c.isdecimal() or c in ". -" for c in ch + lowered), hex(code)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain words, and more_words",
        "İstanbul ǅemal ¹²³ ٣٤ 🖕 e\u0301te x_y",  # a lowercase that splits a word, marks, other digits
        "lone \ud800 surrogate",
        "\x00 inside a text",
    ],
)
def test_words_are_the_regex_words(text: str) -> None:
    scanned = textscan.scan([text.lower(), text, "tail"])
    assert scanned.words(0) == _WORD.findall(text.lower())
    assert scanned.words(1) == _WORD.findall(text)
    assert scanned.words(2) == ["tail"]


def test_words_of_real_texts() -> None:
    texts = [t.lower() for t in real_texts()]
    scanned = textscan.scan(texts)
    assert all(scanned.words(i) == _WORD.findall(t) for i, t in enumerate(texts))


def test_pii_candidates_are_the_regex_prechecks() -> None:
    rng = random.Random(7)
    alphabet = "0123456789..  --a_\u0660\u0661\u00b2x\n"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(30_000)]
    texts += ["1234 5678 9012", "12345678 1234", "1234-12345678", "1234 1234-1234", "8.8.8.8", "(415) 555-2671"]
    flags = textscan.pii_candidates(textscan.scan(texts)).tolist()
    for text, found in zip(texts, flags, strict=True):
        expected = [bool(p.search(text)) for p in (pii._MAY_IP, pii._MAY_PHONE, pii._MAY_CARD)]
        assert found == expected, text


def badword_texts() -> list[tuple[str, str]]:
    """Per language list, texts of its entries (single words, phrases, wordless ones) among filler, in
    varied case, with near misses (an entry inside a longer word, a phrase cut short)."""
    rng = random.Random(3)
    texts = []
    for path in sorted(badwords.LISTS.glob("*.txt")):
        entries = [line for line in path.read_text("utf-8").splitlines() if line]
        filler = ["the", "and", "big", "blue", "2", "girls", "une", "der", "que", "x"]
        for _ in range(40):
            parts = []
            for _ in range(rng.randint(1, 12)):
                entry = rng.choice(entries)
                roll = rng.random()
                if roll < 0.2:
                    entry = entry.upper()
                elif roll < 0.3:
                    entry = f"pre{entry}"
                elif roll < 0.4 and " " in entry:
                    entry = entry.rsplit(" ", 1)[0]
                parts += [entry, *rng.choices(filler, k=rng.randint(0, 3))]
            texts.append((rng.choice([" ", ", ", "\n", "_"]).join(parts), path.stem))
    return texts


def test_bad_words_as_the_reference() -> None:
    cases = badword_texts() + [(t, "en") for t in real_texts()[:600]] + [("🖕 2 girls 1 cup 🖕", "en")]
    cases += [("a text in a language without a list", "xx"), ("none", None)]  # type: ignore[list-item]
    lowered = [t.lower() for t, _ in cases]
    scanned = textscan.scan(lowered)
    found = badwords.count_batch(scanned, lowered, [language for _, language in cases])
    for (text, language), low, got in zip(cases, lowered, found, strict=True):
        want = reference.count_bad_words(low, _WORD.findall(low), language, str(badwords.LISTS))
        assert got == want, (language, text)
    assert sum(b.matches for b in found) > 1_000  # the texts do hit the lists


def eval_folder(tmp_path: Path, texts: list[str]) -> Path:
    """HumanEval as shipped, and two benchmarks made of passages of ``texts`` (sharing some passages)."""
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "humaneval.jsonl.gz").write_bytes((EVAL_SETS / "humaneval.jsonl.gz").read_bytes())
    (folder / "alpha.txt").write_text("\n\n".join(texts[0:40] + texts[100:110]), "utf-8")
    (folder / "beta.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in texts[30:60]), "utf-8")
    return folder


def test_overlaps_as_the_reference(tmp_path: Path) -> None:
    texts = [t for t in real_texts() if len(t.split()) > 30]
    folder = eval_folder(tmp_path, texts)
    index, old = EvalIndex.load(folder, 13), reference.EvalIndex(reference.eval_texts(folder), 13)
    rng = random.Random(5)
    pages = [f"{rng.choice(texts)} {t[: rng.randint(0, len(t))]} {rng.choice(texts)}" for t in texts[:200]]
    pages += texts[200:500]
    counts = index.counts(textscan.scan([p.lower() for p in pages]))
    overlaps = [{index.benchmarks[b]: int(n) for b, n in enumerate(row) if n} for row in counts.tolist()]
    assert overlaps == [old.overlaps(_WORD.findall(p.lower())) for p in pages]
    assert sum(bool(o) for o in overlaps) > 50 and any("beta" in o for o in overlaps)
    assert index.overlaps(pages[0]) == overlaps[0]


def test_signal_batch_as_the_reference(tmp_path: Path) -> None:
    texts = real_texts()[:400] + [t for t, language in badword_texts() if language == "en"]
    texts += ["mail jane@example.org, call (415) 555-2671, ip 8.8.8.8, card 4111 1111 1111 1111", ""]
    config = PolicyConfig(eval_sets=str(eval_folder(tmp_path, real_texts())))
    docs = pa.table(
        {
            "id": [f"d{i}" for i in range(len(texts))],
            "dump": ["D"] * len(texts),
            "text": texts,
            "language": ["en" if i % 7 else "de" for i in range(len(texts))],
            "url_blocklisted": [None if i % 5 else "adult" for i in range(len(texts))],
        }
    )
    lake = Lake(str(tmp_path / "lake"))
    sink = Sink(lake, [partition_output("signals", "content_signals", CONTENT_SIGNALS, "D")], "t", 10_000)
    signal_batch(docs, config, sink)
    sink.close()
    rows = pa.Table.from_batches(
        pa.dataset.dataset(str(tmp_path / "lake" / "content_signals"), format="parquet").to_batches()
    ).to_pylist()
    old = reference.EvalIndex(reference.eval_texts(Path(config.eval_sets)), 13)
    for row, text, language in zip(rows, texts, docs.column("language").to_pylist(), strict=True):
        want = reference.signals(text, language, old)
        want["badword_rate"] = pa.scalar(want["badword_rate"], pa.float32()).as_py()
        assert {k: row[k] for k in want} == want
    assert sink.counters["pii.any"] >= 1 and sink.counters["adult_url"] == len(texts) // 5 + 1
