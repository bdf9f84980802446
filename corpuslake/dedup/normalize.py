"""Text normalization before hashing, after datatrove's ``simplify_text`` (FineWeb's MinHash input):
lowercase, accents stripped (NFD, combining marks dropped), digits to 0, punctuation and symbols to
spaces, whitespace collapsed. Two pages that differ only in those ways hash the same.
"""

import re
import sys
import unicodedata
from functools import cache

_SPACES = re.compile(r"\s+")


@cache
def _table() -> dict[int, str]:
    """One ``str.translate`` table: digits to 0, punctuation and symbols to a space, marks removed."""
    table: dict[int, str] = {}
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        category = unicodedata.category(chr(code))
        if category == "Nd":
            table[code] = "0"
        elif category[0] in "PS":
            table[code] = " "
        elif category == "Mn":
            table[code] = ""
    return table


def normalize_text(text: str) -> str:
    """The text as it is hashed and shingled."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return _SPACES.sub(" ", decomposed.translate(_table())).strip()
