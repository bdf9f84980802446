"""The perplexity model: tokens, the Kneser-Ney estimate against NLTK's, KenLM's query of the written ARPA
file, reproducible perplexities and buckets. Touches corpuslake.perplexity (text, kneser_ney, model) and a
reference file written into tmp_path; one test estimates the shipped English model."""

import gzip
import itertools
import json
from pathlib import Path

import kenlm  # type: ignore[import-not-found]  # a compiled extension without type stubs
import pytest
from nltk.lm import KneserNeyInterpolated  # type: ignore[import-untyped]
from nltk.util import everygrams  # type: ignore[import-untyped]

from corpuslake.perplexity import kneser_ney as kn
from corpuslake.perplexity.model import Model, ModelSpec, is_dev, load
from corpuslake.perplexity.stage import REFERENCES
from corpuslake.perplexity.text import lines, tokens

SENTENCES = [s.split() for s in ("the cat sat on the mat", "the dog sat on the log", "a cat saw the dog", "the cat")]
PROSE = "The government shall report to the people on the state of the nation, as it has done every year."


def _backoff_query(tables: list[dict[kn.NGram, tuple[float, float]]], word: str, context: kn.NGram) -> float:
    """log10 p(word | context) read from the estimate the way an ARPA reader backs off."""
    gram = (*context, word)
    if gram in tables[len(gram) - 1]:
        return tables[len(gram) - 1][gram][0]
    if not context:
        return tables[0][(kn.UNK,)][0]
    weight = tables[len(context) - 1].get(context, (0.0, 0.0))[1]
    return weight + _backoff_query(tables, word, context[1:])


@pytest.mark.parametrize("order", [2, 3])
def test_estimate_equals_nltk_kneser_ney_interpolated(order: int) -> None:
    # Every word after every context of the vocabulary, seen or not, with NLTK's padding and formulas.
    padded = [kn.padded(s, order, "nltk") for s in SENTENCES]
    vocabulary = sorted({w for p in padded for w in p})
    reference = KneserNeyInterpolated(order, discount=0.1)
    reference.fit([list(everygrams(p, max_len=order)) for p in padded], vocabulary)
    tables = kn.estimate(SENTENCES, order, 0.1, pad="nltk")
    for context in itertools.product(vocabulary, repeat=order - 1):
        for word in vocabulary:
            expected = reference.score(word, list(context))
            got = _backoff_query(tables, word, context)
            assert 10**got == pytest.approx(expected, rel=1e-12, abs=1e-90)  # -99 stands for log10(0)


def test_kenlm_query_of_the_written_arpa_equals_the_estimate(tmp_path: Path) -> None:
    tables = kn.estimate(SENTENCES, 3, 0.75)
    kn.save_arpa(tables, tmp_path / "m.arpa")
    model = kenlm.Model(str(tmp_path / "m.arpa"))
    for sentence in (["the", "cat", "sat", "on", "the", "log"], ["a", "dog", "saw", "zebra"]):
        words, expected = ["<s>", *sentence, "</s>"], 0.0
        for i in range(1, len(words)):
            expected += _backoff_query(tables, words[i], tuple(words[max(0, i - 2) : i]))
        assert model.score(" ".join(sentence), bos=True, eos=True) == pytest.approx(expected, abs=1e-5)


def test_probabilities_after_each_context_sum_to_one() -> None:
    tables = kn.estimate(SENTENCES, 3, 0.75)
    vocabulary = [g[0] for g in tables[0] if g[0] not in (kn.BOS, kn.UNK)]
    for context in [("the", "cat"), ("on",), ("<s>", "the"), ("saw", "mat")]:
        total = sum(10 ** _backoff_query(tables, w, context) for w in vocabulary)
        assert total == pytest.approx(1.0)


def test_same_estimate_same_bytes(tmp_path: Path) -> None:
    kn.save_arpa(kn.estimate(SENTENCES, 3, 0.75), tmp_path / "a.arpa")
    kn.save_arpa(kn.estimate(list(reversed(SENTENCES)), 3, 0.75), tmp_path / "b.arpa")
    assert (tmp_path / "a.arpa").read_bytes() == (tmp_path / "b.arpa").read_bytes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café au LAIT, 1999!", ["cafe", "au", "lait", ",", "0000", "!"]),  # accents, case, digits, marks
        ("  ", []),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_lines_skip_empty_lines() -> None:
    assert list(lines("A b.\n\n\nC")) == [["a", "b", "."], ["c"]]
    assert list(lines("Été 12\nNaïve")) == [["ete", "00"], ["naive"]]  # the non-ASCII path


def write_reference(path: Path, sources: int = 40) -> Path:
    """A small English reference: the same prose with varied numbers, one row per source."""
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for i in range(sources):
            text = "\n".join(f"{PROSE} It was year {i} and page {j} of the report." for j in range(3))
            out.write(json.dumps({"source": f"src/{i}", "text": text}) + "\n")
    return path


def test_model_is_reproducible_and_cached(tmp_path: Path) -> None:
    spec = ModelSpec("en", str(write_reference(tmp_path / "en.jsonl.gz")), dev_share=4)
    first = load(spec, tmp_path / "models")
    again = load(spec, tmp_path / "models")
    assert len(list((tmp_path / "models").iterdir())) == 1 and first.info == again.info
    other = load(spec, tmp_path / "rebuilt")
    assert other.info["arpa_sha256"] == first.info["arpa_sha256"]
    assert first.perplexity(PROSE) == other.perplexity(PROSE) == again.perplexity(PROSE)
    assert first.info["train_tokens"] > 0 and first.info["dev_documents"] == 3 * sum(
        is_dev(f"src/{i}", 4) for i in range(40)
    )


def test_perplexity_is_ccnet_per_line_and_none_without_tokens(tmp_path: Path) -> None:
    model = load(ModelSpec("en", str(write_reference(tmp_path / "en.jsonl.gz"))), tmp_path / "models")
    lm = model.lm
    score = lm.score("the cat", bos=True, eos=True) + lm.score("sat", bos=True, eos=True)
    assert model.perplexity("The cat\n\nsat") == round(10 ** (-score / 5), 1)  # 3 words + 2 line ends
    assert model.perplexity(" \n ") is None and model.bucket(None) is None


def test_buckets_by_cutoffs(tmp_path: Path) -> None:
    model = load(ModelSpec("en", str(write_reference(tmp_path / "en.jsonl.gz"))), tmp_path / "models")
    assert model.cutoffs[0] <= model.cutoffs[1]
    fixed = Model("en", model.lm, (10.0, 20.0), {})  # CCNet: head below the 30th percentile, tail from the 60th
    assert [fixed.bucket(p) for p in (9.9, 10.0, 19.9, 20.0)] == ["head", "middle", "middle", "tail"]
    assert model.bucket(model.perplexity("zq xv!! $$ 999 FREE click!!! wq")) == "tail"


def test_shipped_english_model(tmp_path: Path) -> None:
    model = load(ModelSpec("en", str(REFERENCES / "en.jsonl.gz")), tmp_path)
    spam = "FREE!!! Click here NOW to claim your $$$ prize, limited offer, unsubscribe below >>> www"
    assert model.perplexity(PROSE) < model.cutoffs[1] < model.perplexity(spam)  # type: ignore[operator]
    assert model.info["dev_documents"] > 100 and model.info["ngrams"][0] > 10_000


def test_dev_sources_are_not_trained_on(tmp_path: Path) -> None:
    # Each source carries its own made-up word: the dev sources' words must be unknown to the model.
    path = tmp_path / "en.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for i in range(20):
            out.write(json.dumps({"source": f"s{i}", "text": f"{PROSE} zz{chr(97 + i)}word"}) + "\n")
    model = load(ModelSpec("en", str(path), dev_share=4), tmp_path / "models")
    arpa = (tmp_path / "models" / model.info["key"] / "model.arpa").read_text(encoding="utf-8")
    unigrams = {line.split("\t")[1] for line in arpa.split("\\2-grams:")[0].splitlines() if "\t" in line}
    for i in range(20):
        assert (f"zz{chr(97 + i)}word" in unigrams) is not is_dev(f"s{i}", 4)
    assert model.info["dev_documents"] == sum(is_dev(f"s{i}", 4) for i in range(20)) > 0
