"""Word and sentence splitting for the heuristic filters, without a tokenizer model.

FineWeb's rules were defined over datatrove's word tokenizer: spaCy's English tokenizer today (NLTK's
when FineWeb was built). Running spaCy costs several milliseconds per document. ``split_words``
follows the same procedure as spaCy's rule-based tokenizer, on the same kinds of rules, in plain
Python with compiled regexes:

1. split on whitespace;
2. a chunk that is all letters and digits is one token (most chunks: the fast path);
3. otherwise peel prefixes (opening brackets and quotes, ``#``, ``_``, ``*``, ``$``...) and suffixes
   (closing punctuation, ``'s``, a period after a lowercase letter or a digit, units after a number)
   until none applies or what is left is a known abbreviation (``e.g.``, ``Mr.``);
4. keep what is left whole if it looks like a URL or an e-mail address, else split it at infixes:
   hyphens, ``/``, ``:``, ``=``, ``<``, ``>`` between letters, ``-`` and
   ``*`` between digits, ``,`` between letters, ellipses; anything else stays inside the token
   (``a\\xDE'::bytea`` is one token, as in spaCy).

English clitics are split as spaCy's exception table does (``don't`` -> ``do`` ``n't``). Differences
that remain: spaCy's exception table is much larger (``a.m.``, emoticons), its icon classes are the
full Unicode So category, and for Chinese and Japanese datatrove loads word segmenters (jieba, SudachiPy)
where this splitter keeps a run of CJK characters whole. ``bench/filter_parity.py`` measures what
that does to the decisions.
"""

import re
import sys
from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import NamedTuple

import numpy as np
import regex

# Marks that make a token a "symbol" rather than a word (datatrove's PUNCTUATION_SET plays this role):
# ASCII punctuation, C0/C1 control characters other than tab and newline, the common CJK, full-width,
# dash, quote and bracket marks, and every sentence terminal (added in ``punctuation()``). Letters,
# digits and other symbols (bullets, arrows, currency signs beyond ``$``) are not in it, so a lone
# ``•`` counts as a word without letters, as it does in datatrove.
_PUNCTUATION_MARKS = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    + "".join(map(chr, [*range(0, 9), 11, 12, *range(13, 32), *range(127, 160)]))
    + "—–━„“”’´«»…►"  # dashes, quotes, ellipsis, pointer
    + "、。，；：？！（）《》〈〉「」【】"  # CJK punctuation
    + "％１．～∶"  # full-width forms that show up in mixed-script pages
)

# spaCy's English punctuation, quote and currency lists (used as prefixes and as suffixes).
_MARKS = r"""()[]{}<>"'“”‘’„‚«»「」『』（）〔〕【】《》〈〉⟦⟧`´_#*&,:;!?¿¡。？！，、；：～·،؛۔٪$£€¥₩₹"""
_UPPER = "A-ZÀ-ÖØ-ÞΑ-ΩА-Я"  # a period after an uppercase letter stays (initials, U.S.)


@cache
def _symbols() -> str:
    """The Unicode So category (©, ™, �, emoji) as regex class ranges: spaCy splits them off as icons."""
    every_char = "".join(map(chr, range(sys.maxunicode + 1))).encode("utf-8", "surrogatepass")
    points = [ord(c) for c in regex.findall(r"\p{So}", every_char.decode("utf-8", "ignore"))]
    ranges: list[list[int]] = []
    for point in points:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@cache
def _suffix_ends() -> frozenset[str]:
    """The last characters a suffix can have: chunks ending otherwise skip the suffix search."""
    icons = regex.findall(r"\p{So}", "".join(map(chr, range(0x20000))))
    return frozenset(_MARKS) | frozenset(".…—–+%smglhS") | frozenset(icons)


@cache
def _affix_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    icons = _symbols()
    marks = re.escape(_MARKS)
    prefix = re.compile(rf"(?:\.\.+|…+|\+(?![0-9])|[§%=—–{marks}{icons}])")
    suffix = re.compile(
        rf"(?:\.\.+|…+|['’][sS]|—|–|(?<=[0-9])\+|(?<=[0-9])(?:%|km|cm|mm|kg|mg|ml|m|g|l|h|s)"
        rf"|(?<=[^\W_{_UPPER}])\.|(?<=[{_UPPER}][{_UPPER}])\.|(?<=[{marks}])\.|[{marks}{icons}])$"
    )
    infix = re.compile(
        rf"\.\.+|…|[{icons}]|(?<=[0-9])[+\-*^](?=[0-9-])|(?<=[a-z'\"”’])\.(?=[A-Z'\"“‘])"
        r"|(?<=[^\W\d_]),(?=[^\W\d_])|(?<=[^\W_])(?:---|--|-|–|—|~)(?=[^\W\d_])|(?<=[^\W_])[:<>=/](?=[^\W\d_])"
    )
    return prefix, suffix, infix


# What spaCy keeps whole once affixes are peeled: URL- and e-mail-like chunks (a dotted name ending in
# a 2-63 letter label, optional scheme, user and path) and abbreviations with inner periods.
_WHOLE = re.compile(
    r"(?:[\w+\-.]{2,}://)?(?:[^\s@]+@)?[\w\-]+(?:\.[\w\-]+)*\.[a-z]{2,63}(?::\d+)?(?:[/?#]\S*)?"
    r"|(?:[^\W\d_]\.){2,}"
)
_CLITIC = re.compile(r"(?i)^([^\W\d_]+)(n['’]t|['’](?:re|ve|ll|d|m))$")
# Whole-word exceptions of spaCy's English table that change counts: contractions written without an
# apostrophe are split as if they had one, and a few fixed forms.
_SPECIAL = {
    word: parts
    for base, parts in {
        "cannot": ["can", "not"],
        "dont": ["do", "nt"],
        "doesnt": ["does", "nt"],
        "didnt": ["did", "nt"],
        "cant": ["ca", "nt"],
        "wont": ["wo", "nt"],
        "isnt": ["is", "nt"],
        "arent": ["are", "nt"],
        "wasnt": ["was", "nt"],
        "havent": ["have", "nt"],
        "hasnt": ["has", "nt"],
        "couldnt": ["could", "nt"],
        "shouldnt": ["should", "nt"],
        "wouldnt": ["would", "nt"],
        "im": ["i", "m"],
        "id": ["i", "d"],
        "ive": ["i", "ve"],
        "youre": ["you", "re"],
        "theyre": ["they", "re"],
    }.items()
    for word in (base, base.capitalize())
    for parts in [parts if word == base else [parts[0].capitalize(), *parts[1:]]]
}
_ABBREVIATIONS = frozenset(
    {"and/or", "e.g.", "i.e.", "vs.", "Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Jr.", "Sr.", "Inc.", "Ltd.", "Co."}
    | {"Corp.", "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec."}
    | {"a.m.", "p.m.", "No.", "Nos.", "Fig.", "Vol.", "approx.", "ca."}
)

# Sentence ends inside a line: a terminal mark followed by space and the start of something else.
# spaCy's sentencizer ends a sentence after a run of terminal punctuation when a non-punctuation token
# follows; counting such boundaries (plus one per non-empty line) reproduces its count for C4's rule.
# Horizontal space only, so that counting over lines joined by newlines never counts across two lines.
# The look-behinds (initials, titles) run only after a terminal mark matched, so they cost little.
_SENTENCE_BREAK = re.compile(r"[.!?。！？](?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St|vs)\.)[.!?。！？]*[\"'”’)\]]*[ \t]+(?=\S)")


# The common chunk shapes, answered without the affix loop: a word with one opening and/or one closing
# mark, "(word", "word,", "word." (not after an uppercase letter: "U." and "aB." keep their period).
_SIMPLE = re.compile(r"""([(\["'“‘]?)([^\W_]+)([,;:!?)\]"'”’]|\.(?<![A-Z]\.))?""")


# Every token a process has seen gets an integer id, and every whitespace chunk is remembered as the ids
# of its tokens: a page is then split by one dictionary look-up per chunk, and the units that count or
# compare words (n-grams, Gopher's word rules) read arrays of ids and per-token properties instead of
# strings. Ids are valid within one generation: ``trim_caches`` forgets everything (and starts a new
# generation) between batches, once the tables pass their bounds.
_CHUNK_CACHE_SIZE = 400_000
_LINE_CACHE_SIZE = 100_000
_TOKENS: list[str] = []
_TOKEN_IDS: dict[str, int] = {}
_LENGTHS: list[int] = []
_SYMBOL: list[bool] = []
_ALPHA: list[bool] = []
_HAS_ALPHA = re.compile(r"[^\W\d_]")


def _token_id(token: str) -> int:
    found = _TOKEN_IDS.get(token)
    if found is None:
        found = _TOKEN_IDS[token] = len(_TOKENS)
        _TOKENS.append(token)
        _LENGTHS.append(len(token))
        _SYMBOL.append(punctuation().issuperset(token))
        _ALPHA.append(token.isalpha() or _HAS_ALPHA.search(token) is not None)
    return found


class _ChunkIds(dict[str, tuple[int, ...]]):
    """chunk -> ids of its tokens, filled on first sight."""

    def __missing__(self, chunk: str) -> tuple[int, ...]:
        if chunk.isalnum():  # most chunks: one token, unless a split contraction ("cannot", "dont")
            parts: Sequence[str] = _SPECIAL.get(chunk) or (chunk,)
        else:
            parts = _chunk_tokens(chunk)
        ids = self[chunk] = tuple(map(_token_id, parts))
        return ids


_CHUNK_IDS = _ChunkIds()


class _State:
    generation = 0


def generation() -> int:
    """The current generation of token ids (ids of different generations must not be compared)."""
    return _State.generation


def split_words(text: str) -> list[str]:
    """The tokens of ``text``: words and punctuation marks, never whitespace."""
    tokens = _TOKENS
    return [tokens[i] for i in chain.from_iterable(map(_CHUNK_IDS.__getitem__, text.split()))]


def token_ids(text: str) -> list[int]:
    """The ids of ``split_words(text)``."""
    return list(chain.from_iterable(map(_CHUNK_IDS.__getitem__, text.split())))


class Line(NamedTuple):
    """One line split two ways: token ids (for the word rules) and whitespace chunks counted (for C4)."""

    ids: tuple[int, ...]
    chunks: int


_LINE_CACHE: dict[str, Line] = {}


def split_line(line: str) -> Line:
    """``token_ids`` for one line, remembered: pages of a site repeat their menu and footer lines."""
    found = _LINE_CACHE.get(line)
    if found is None:
        chunks = line.split()
        found = Line(tuple(chain.from_iterable(map(_CHUNK_IDS.__getitem__, chunks))), len(chunks))
        if len(_LINE_CACHE) >= _LINE_CACHE_SIZE:
            _LINE_CACHE.clear()  # lines hold ids, not tokens: forgetting them keeps every id valid
        _LINE_CACHE[line] = found
    return found


class TokenTable(NamedTuple):
    """Per token id: its length in characters, whether it is a symbol (only punctuation marks), and
    whether it holds a letter."""

    lengths: np.ndarray
    symbol: np.ndarray
    alpha: np.ndarray


_TABLE: list[TokenTable] = []


def token_table() -> TokenTable:
    """The properties of every token id of the current generation, as arrays indexed by id."""
    table = _TABLE[0] if _TABLE else TokenTable(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool))
    known = len(table.lengths)
    if known < len(_TOKENS):
        table = TokenTable(
            np.concatenate((table.lengths, np.array(_LENGTHS[known:], np.int64))),
            np.concatenate((table.symbol, np.array(_SYMBOL[known:], bool))),
            np.concatenate((table.alpha, np.array(_ALPHA[known:], bool))),
        )
        _TABLE[:] = [table]
    return table


def token(token_id: int) -> str:
    return _TOKENS[token_id]


def known_id(word: str) -> int | None:
    """The id of ``word`` if a text of this generation held it as a token."""
    return _TOKEN_IDS.get(word)


def trim_caches() -> None:
    """Between batches: forget the chunk and token tables once they pass their bounds (ids held from
    before are then stale; ``generation`` tells)."""
    if len(_CHUNK_IDS) >= _CHUNK_CACHE_SIZE or len(_TOKENS) >= 2 * _CHUNK_CACHE_SIZE:
        clear_caches()


def clear_caches() -> None:
    """Forget remembered chunks, lines and token ids (benchmarks start cold with it)."""
    _CHUNK_IDS.clear()
    _LINE_CACHE.clear()
    _TOKENS.clear()
    _TOKEN_IDS.clear()
    _LENGTHS.clear()
    _SYMBOL.clear()
    _ALPHA.clear()
    _TABLE.clear()
    _State.generation += 1


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    shape = _SIMPLE.fullmatch(chunk)
    if shape is None or chunk in _ABBREVIATIONS or chunk[-2:-1].isupper():
        return tuple(_split_chunk(chunk))
    opening, word, closing = shape.groups()
    middle = _SPECIAL.get(word) or [word]
    return tuple(filter(None, [opening, *middle, closing]))


def _split_chunk(chunk: str) -> list[str]:
    prefix, suffix, infix = _affix_patterns()
    ends = _suffix_ends()
    head: list[str] = []
    tail: list[str] = []
    while chunk and chunk not in _ABBREVIATIONS:
        found = prefix.match(chunk)
        if found and found.end() < len(chunk):
            head.append(found.group())
            chunk = chunk[found.end() :]
            continue
        found = suffix.search(chunk) if chunk[-1] in ends else None
        if found and found.start() > 0:
            tail.append(found.group())
            chunk = chunk[: found.start()]
            continue
        if found or (found := prefix.match(chunk)):  # the chunk is one mark: a token of its own
            break
        clitic = _CLITIC.match(chunk)
        if clitic:
            head.extend(clitic.groups())
            chunk = ""
            break
        if not _WHOLE.fullmatch(chunk):
            head.extend(_split_infixes(chunk, infix))
            chunk = ""
        break
    if chunk:
        head.append(chunk)
    head.extend(reversed(tail))
    return head


def _split_infixes(chunk: str, infix: re.Pattern[str]) -> list[str]:
    parts: list[str] = []
    start = 0
    for found in infix.finditer(chunk):
        if found.start() > start:
            parts.append(chunk[start : found.start()])
        parts.append(found.group())
        start = found.end()
    if start < len(chunk):
        parts.append(chunk[start:])
    return parts


def count_sentences(lines: list[str]) -> int:
    """Sentences in stripped lines (a blank line has none), as C4's minimum-sentences rule counts them."""
    return sum(1 for line in lines if line) + len(_SENTENCE_BREAK.findall("\n".join(lines)))


@cache
def punctuation() -> frozenset[str]:
    """The characters a token may consist of and still be a symbol rather than a word."""
    return frozenset(_PUNCTUATION_MARKS) | frozenset(terminal_punctuation())


@cache
def terminal_punctuation() -> tuple[str, ...]:
    """Every character with the Unicode Sentence_Terminal property (``.``, ``?``, ``!``, ``。``, ``।``...).

    FineWeb's terminal-punctuation rule uses this set; it is built from the Unicode database of the
    ``regex`` module, once per process (a few tens of milliseconds).
    """
    every_char = "".join(map(chr, range(sys.maxunicode + 1))).encode("utf-8", "surrogatepass")
    text = every_char.decode("utf-8", "ignore")
    return tuple(sorted(set(regex.findall(r"\p{Sentence_Terminal}", text))))
