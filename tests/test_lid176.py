"""corpuslake.lid176 against the fastText module on the same lid.176 file: labels equal, scores within 1e-5."""

import pytest

from corpuslake.langid import LanguageIdentifier, lid_model_path
from corpuslake.lid176 import Lid176, _ngram_buckets, _tokens

_TEXTS = [
    "The committee will publish its annual report on the state of the national parks next week.",
    "Le comité publiera la semaine prochaine son rapport annuel sur l'état des parcs nationaux.",
    "Der Ausschuss wird nächste Woche seinen Jahresbericht über den Zustand der Nationalparks vorlegen.",
    "El comité publicará la próxima semana su informe anual sobre el estado de los parques nacionales.",
    "Комитет опубликует на следующей неделе свой ежегодный доклад о состоянии национальных парков.",
    "委員会は来週、国立公園の現状に関する年次報告書を公表する予定です。",
    "委员会将于下周发布关于国家公园现状的年度报告。",
    "",
    "12345 67 -- ++",
    "mixed English text\twith tabs\x0bvertical\x0cfeeds\rand CR, Deutsch und français ensemble",
    "a\xa0non-breaking\xa0space joins words for fastText 🙂 emoji 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "nul\0separates these words",
    "__label__de is a label token, the rest is English prose about parks",
    "text before the end token </s> Der Rest wird nicht gelesen, weil fastText hier aufhört",
    "the the the the the the the the the the",
]


@pytest.fixture(scope="module")
def reference() -> LanguageIdentifier:
    return LanguageIdentifier(max_chars=1 << 40, engine="fasttext")


@pytest.mark.parametrize("cache_tokens", [200_000, 8])
def test_same_labels_and_scores_as_fasttext(reference: LanguageIdentifier, cache_tokens: int) -> None:
    expected = reference.predict_many(_TEXTS)
    got = Lid176(lid_model_path(), cache_tokens=cache_tokens).predict(_TEXTS)
    assert [label for label, _ in got] == [label for label, _ in expected]
    assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(got, expected, strict=True))


def test_repeated_calls_use_the_cache_and_agree() -> None:
    lid = Lid176(lid_model_path())
    first = lid.predict(_TEXTS)
    assert lid.predict(list(reversed(_TEXTS))) == list(reversed(first))


def test_tokens_split_as_fasttext_reads_a_line() -> None:
    assert _tokens("a\tb\nc\x0bd\x0ce\rf\0g h\xa0i") == [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h\xc2\xa0i"]
    assert _tokens("read this </s> not this") == [b"read", b"this"]


def _fnv(data: bytes) -> int:
    h = 2166136261
    for byte in data:
        h = ((h ^ (byte - 256 if byte > 127 else byte)) * 16777619) & 0xFFFFFFFF
    return h


def test_ngram_hashes_are_fasttexts() -> None:
    tokens = [b"ab", "été".encode(), "日本語".encode()]
    _, words, buckets = _ngram_buckets(tokens, 2, 4, 2_000_000)
    expected = []
    for index, token in enumerate(tokens):
        chars = ["<", *token.decode(), ">"]
        for n in range(2, 5):
            for start in range(len(chars) - n + 1):
                expected.append((index, _fnv("".join(chars[start : start + n]).encode()) % 2_000_000))
    assert sorted(zip(words.tolist(), buckets.tolist(), strict=True)) == sorted(expected)
