"""How text becomes language-model tokens: CCNet's normalization, then words and punctuation marks.

CCNet lowercases, maps every digit to 0 and scores each line on its own; it then cuts words with
SentencePiece. A word-level model is used here instead: the reference set is a few hundred thousand
English words, too little to train a subword vocabulary that beats words, and splitting on a regular
expression costs far less than a SentencePiece pass per document. Punctuation marks stay tokens of their
own, so runs of "!!!" and "$$$" cost probability like any other rare sequence.
"""

import re
import unicodedata
from collections.abc import Iterator

TOKENIZER_VERSION = "words-1"
"""Changes whenever the tokens of a text change: part of every model's identity."""

_DIGIT = re.compile(r"\d")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_LINE = re.compile(r"\n+")


def normalize(line: str) -> str:
    """Lowercase, accents stripped (NFD without combining marks), digits to 0: CCNet's normalizer."""
    lowered = line.lower()
    if not lowered.isascii():  # most web text is ASCII: no marks to strip
        decomposed = unicodedata.normalize("NFD", lowered)
        lowered = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _DIGIT.sub("0", lowered)


def tokens(line: str) -> list[str]:
    """The tokens of one line: words and single punctuation marks of its normalized text."""
    return _TOKEN.findall(normalize(line))


def lines(text: str) -> Iterator[list[str]]:
    """The token lists of a document's non-empty lines, in order (CCNet scores lines separately)."""
    for line in _LINE.split(normalize(text)):  # one normalization per document: lines keep their breaks
        found = _TOKEN.findall(line)
        if found:
            yield found
