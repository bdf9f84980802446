"""The language filter: allowed languages and a minimum lid.176 score, overridable per language.

The label and score come from the documents stage (fastText lid.176 on the whole text); this unit only
decides. 0.65 is the English threshold of datatrove's LanguageFilter and DCLM.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from corpuslake.filters.base import Failure, Signals

NAME = "language"


@dataclass(frozen=True)
class LanguageConfig:
    """Which languages to keep and how sure the language model must be."""

    enabled: bool = True
    """Apply the language rule."""
    languages: tuple[str, ...] = ("en",)
    """lid.176 labels to keep (e.g. en, de, zh); empty keeps every language."""
    min_score: float = 0.65
    """Minimum language score for a kept language."""
    min_score_by_language: Mapping[str, float] = field(default_factory=dict)
    """Per-language minimum scores that replace ``min_score`` (e.g. {"zh": 0.5})."""


def decide(s: Signals, config: LanguageConfig) -> Failure | None:
    language, score = s["language"], s["language_score"]
    if config.languages and language not in config.languages:
        return Failure(NAME, "not_allowed", f"language {language} not in {', '.join(config.languages)}")
    floor = config.min_score_by_language.get(language, config.min_score)
    if score < floor:
        return Failure(NAME, "low_score", f"{language} score {score:.3f} < {floor}")
    return None
