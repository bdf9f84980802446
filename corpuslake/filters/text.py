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
from functools import cache
from typing import NamedTuple

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


# Chunks that need the affix rules repeat a lot ("-", "|", "mod_dbd", "you'll"): their tokens are
# remembered per process, up to a bound.
_CHUNK_CACHE: dict[str, tuple[str, ...]] = {}
_CHUNK_CACHE_SIZE = 200_000


def split_words(text: str) -> list[str]:
    """The tokens of ``text``: words and punctuation marks, never whitespace."""
    return _tokens(text.split())


def _tokens(chunks: list[str]) -> list[str]:
    tokens: list[str] = []
    add, extend, special, cached = tokens.append, tokens.extend, _SPECIAL.get, _CHUNK_CACHE.get
    for chunk in chunks:
        if chunk.isalnum():
            parts = special(chunk)
            if parts is None:
                add(chunk)
            else:
                extend(parts)
            continue
        found = cached(chunk)
        if found is None:
            found = _chunk_tokens(chunk)
            if len(_CHUNK_CACHE) >= _CHUNK_CACHE_SIZE:
                _CHUNK_CACHE.clear()
            _CHUNK_CACHE[chunk] = found
        extend(found)
    return tokens


class Line(NamedTuple):
    """One line split two ways: tokens (for the word rules) and whitespace chunks counted (for C4)."""

    tokens: tuple[str, ...]
    chunks: int


_LINE_CACHE: dict[str, Line] = {}
_LINE_CACHE_SIZE = 100_000


def split_line(line: str) -> Line:
    """``split_words`` for one line, remembered: pages of a site repeat their menu and footer lines."""
    found = _LINE_CACHE.get(line)
    if found is None:
        chunks = line.split()
        found = Line(tuple(_tokens(chunks)), len(chunks))
        if len(_LINE_CACHE) >= _LINE_CACHE_SIZE:
            _LINE_CACHE.clear()
        _LINE_CACHE[line] = found
    return found


def clear_caches() -> None:
    """Forget remembered chunks and lines (benchmarks start cold with it)."""
    _CHUNK_CACHE.clear()
    _LINE_CACHE.clear()


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
