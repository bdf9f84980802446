"""Bad-word rates from the LDNOOBW lists (28 languages), for toxicity and adult-content selection.

A document is checked against the list of its language (lid.176 label; ``fr-CA-u-sd-caqc`` is used for
nothing by default). Entries are matched as whole words or phrases of the lowercased text, except in
Chinese, Japanese and Thai, written without spaces, where they are matched as substrings (as C4's
bad-words filter does); two entries that are everyday sub-words there (``性`` in Chinese, ``グロ``
and ``女の子`` in Japanese) are left out, as datatrove does. The rate is matches per word.

Over a batch (:func:`count_batch`) the words come from one compiled scan
(:mod:`corpuslake.policies.textscan`): single-word entries are found by hash and confirmed as strings;
the phrase regex runs only on a text holding one phrase's words in a row, which every match needs (a
match's alphanumeric runs are whole words of the text: the regex asks for no word character around it).
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numba
import numpy as np

from corpuslake.policies.textscan import HashSet, Scan, contains, scan

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
    word_hashes: HashSet | None = None
    """The single words' hashes."""
    start_hashes: HashSet | None = None
    """The hashes of the phrases' first words."""
    phrase_words: tuple[np.ndarray, np.ndarray] | None = None
    """Each phrase's word hashes laid end to end, and each phrase's start offset (phrases with words)."""
    wordless: tuple[str, ...] = ()
    """Phrases without a word character (an emoji): found by substring, then by their own regex."""
    wordless_rule: re.Pattern[str] | None = None


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
    rule = _boundary_rule(multi)
    wordless = tuple(w for w in multi if not _WORD.search(w))
    phrases = scan([w for w in multi if _WORD.search(w)])
    return WordList(
        singles,
        starts,
        rule,
        False,
        word_hashes=HashSet.of(scan(sorted(singles)).hashes),
        start_hashes=HashSet.of(scan(sorted(starts)).hashes),
        phrase_words=(phrases.hashes, phrases.offsets),
        wordless=wordless,
        wordless_rule=_boundary_rule(list(wordless)),
    )


def _boundary_rule(alternatives: list[str]) -> re.Pattern[str] | None:
    """The alternatives, in order, as whole words (no word character before or after)."""
    if not alternatives:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(w) for w in alternatives)})(?!\w)")


def count(text: str, language: str, folder: str = str(LISTS)) -> BadWords:
    lowered = text.lower()
    return count_batch(scan([lowered]), [lowered], [language], folder)[0]


def count_batch(
    words: Scan, lowered: list[str], languages: list[str | None], folder: str = str(LISTS)
) -> list[BadWords]:
    """``count`` for each of a batch of lowercased texts, given their scan."""
    sizes = words.word_counts().tolist()
    out: list[BadWords | None] = [None] * len(lowered)
    groups: dict[str | None, list[int]] = {}
    for at, language in enumerate(languages):
        groups.setdefault(language, []).append(at)
    for language, docs in groups.items():
        rules = word_list(language, folder) if language is not None else None
        if rules is None:
            for at in docs:
                out[at] = BadWords(None, 0, sizes[at])
        elif rules.unspaced:
            assert rules.phrases is not None
            for at in docs:
                out[at] = BadWords(language, len(rules.phrases.findall(lowered[at])), len(lowered[at]))
        else:
            matches = _spaced(words, lowered, np.array(docs, np.int64), rules)
            for at, n in zip(docs, matches, strict=True):
                out[at] = BadWords(language, n, sizes[at])
    return [b for b in out if b is not None]


def _spaced(words: Scan, lowered: list[str], docs: np.ndarray, rules: WordList) -> list[int]:
    """Matches in each of ``docs`` (texts of one language with a spaced list)."""
    assert rules.word_hashes is not None and rules.start_hashes is not None and rules.phrase_words is not None
    w, s = rules.word_hashes, rules.start_hashes
    hits, first_start, sequence = _find(
        words.hashes, words.offsets, docs, w.bitmap, w.values, w.shift, s.bitmap, s.values, s.shift,
        *rules.phrase_words,
    )  # fmt: skip
    matches = [0] * len(docs)
    for k, at in zip(hits[:, 0].tolist(), hits[:, 1].tolist(), strict=True):
        matches[k] += words.word(at) in rules.words  # a hash hit confirmed as a string
    if rules.phrases is None:
        return matches
    for k, doc in enumerate(docs.tolist()):
        if not sequence[k] and not rules.wordless:
            continue  # no phrase can match anywhere in the text
        if not _may_start(words, doc, int(first_start[k]), rules):
            continue  # the text holds no phrase's first word: phrases are not looked for
        if sequence[k]:
            matches[k] += len(rules.phrases.findall(lowered[doc]))
        elif rules.wordless_rule is not None and any(p in lowered[doc] for p in rules.wordless):
            matches[k] += len(rules.wordless_rule.findall(lowered[doc]))  # only wordless phrases can match
    return matches


def _may_start(words: Scan, doc: int, first: int, rules: WordList) -> bool:
    """Does the text hold a phrase's first word (the condition under which phrases are looked for)?"""
    if first < 0:
        return False
    if words.word(first) in rules.phrase_starts:
        return True
    return not rules.phrase_starts.isdisjoint(words.words(doc))  # a hash collision: ask the strings


@numba.njit(cache=True, nogil=True)
def _find(
    hashes: np.ndarray,
    offsets: np.ndarray,
    docs: np.ndarray,
    word_bitmap: np.ndarray,
    word_values: np.ndarray,
    word_shift: np.uint64,
    start_bitmap: np.ndarray,
    start_values: np.ndarray,
    start_shift: np.uint64,
    phrase_hashes: np.ndarray,
    phrase_offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per text of ``docs``: words whose hash is a single entry's ((doc's place in docs, word) rows), the
    first word whose hash is a phrase's first word (-1: none), whether some phrase's word hashes occur
    in a row."""
    hits = np.empty((16, 2), np.int64)
    count = 0
    first = np.full(len(docs), -1, np.int64)
    sequence = np.zeros(len(docs), np.bool_)
    phrases = len(phrase_offsets) - 1
    for k in range(len(docs)):
        lo, hi = offsets[docs[k]], offsets[docs[k] + 1]
        for at in range(lo, hi):
            h = hashes[at]
            if contains(word_bitmap, word_values, word_shift, h):
                if count == len(hits):
                    hits = np.concatenate((hits, np.empty_like(hits)))
                hits[count, 0], hits[count, 1] = k, at
                count += 1
            if sequence[k] or not contains(start_bitmap, start_values, start_shift, h):
                continue
            if first[k] < 0:
                first[k] = at
            for p in range(phrases):
                p0, p1 = phrase_offsets[p], phrase_offsets[p + 1]
                if phrase_hashes[p0] != h or at + (p1 - p0) > hi:
                    continue
                same = True
                for j in range(1, p1 - p0):
                    if hashes[at + j] != phrase_hashes[p0 + j]:
                        same = False
                        break
                if same:
                    sequence[k] = True
                    break
    return hits[:count], first, sequence
