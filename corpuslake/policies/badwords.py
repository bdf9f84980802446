"""Bad-word rates from the LDNOOBW lists (28 languages), for toxicity and adult-content selection.

A document is checked against the list of its language (lid.176 label; ``fr-CA-u-sd-caqc`` is used for
nothing by default). Entries are matched as whole words or phrases of the lowercased text, except in
Chinese, Japanese and Thai, written without spaces, where they are matched as substrings (as C4's
bad-words filter does); two entries that are everyday sub-words there (``性`` in Chinese, ``グロ``
and ``女の子`` in Japanese) are left out, as datatrove does. The rate is matches per word.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LISTS = Path(__file__).resolve().parent.parent.parent / "samples" / "policies" / "badwords"
_UNSPACED = {"ja", "zh", "th"}
_ALLOWED = {"zh": {"性"}, "ja": {"グロ", "女の子", "sm"}}
_WORD = re.compile(r"[^\W_]+")  # the same words as contamination's, so one split serves both


@dataclass(frozen=True)
class BadWords:
    language: str | None  # the list used, None when the language has none
    matches: int
    words: int

    @property
    def rate(self) -> float:
        return self.matches / self.words if self.words else 0.0


@dataclass(frozen=True)
class WordList:
    """One language's list: single words for set lookup, and phrases (or unspaced scripts) as a regex."""

    words: frozenset[str]
    phrase_starts: frozenset[str]
    phrases: re.Pattern[str] | None
    unspaced: bool


@cache
def word_list(language: str, folder: str = str(LISTS)) -> WordList | None:
    path = Path(folder) / f"{language}.txt"
    if not path.is_file():
        return None
    entries = [w.lower() for w in path.read_text("utf-8").splitlines() if w and w not in _ALLOWED.get(language, set())]
    if language in _UNSPACED:
        alternatives = "|".join(re.escape(w) for w in sorted(entries, key=len, reverse=True))
        return WordList(frozenset(), frozenset(), re.compile(alternatives), True)
    singles = frozenset(w for w in entries if _WORD.fullmatch(w))
    multi = sorted((w for w in entries if w not in singles), key=len, reverse=True)
    starts = frozenset(m.group() for m in (_WORD.search(w) for w in multi) if m)
    rule = re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(w) for w in multi)})(?!\w)") if multi else None
    return WordList(singles, starts, rule, False)


def count(text: str, language: str, folder: str = str(LISTS)) -> BadWords:
    lowered = text.lower()
    return count_words(lowered, _WORD.findall(lowered), language, folder)


def count_words(lowered: str, tokens: list[str], language: str, folder: str = str(LISTS)) -> BadWords:
    """``count`` for a lowercased text already split into words."""
    rules = word_list(language, folder)
    if rules is not None and rules.unspaced:
        assert rules.phrases is not None
        return BadWords(language, len(rules.phrases.findall(lowered)), len(lowered))
    if rules is None:
        return BadWords(None, 0, len(tokens))
    matches = sum(1 for t in tokens if t in rules.words)
    if rules.phrases is not None and not rules.phrase_starts.isdisjoint(tokens):
        matches += len(rules.phrases.findall(lowered))  # phrases only where one could start
    return BadWords(language, matches, len(tokens))
