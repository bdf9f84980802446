"""From an HTTP payload to main-content text: decode, then resiliparse's main-content extraction; and
already-extracted text (WET records), decoded only.

Each failure has a reason code, so the documents stage can record the record instead of losing it:
``binary_payload``, ``undecodable``, ``extraction_error``, ``empty_extraction``.
"""

from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLTree

# A payload whose first bytes hold NUL is an image or archive, whatever its Content-Type claims.
_SNIFF_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Extraction:
    """The outcome for one payload: text, or the reason there is none."""

    text: str | None
    encoding: str | None
    reason: str | None
    detail: str = ""
    replaced_fraction: float = 0.0
    """Fraction of characters that could not be decoded and were replaced (U+FFFD)."""


def decode_html(payload: bytes, declared: str | None) -> tuple[str, str, float]:
    """Decode ``payload``: the declared charset if it decodes cleanly, else the detected one.

    Returns (text, encoding, replaced_fraction). Detection reads the HTML meta charset first and falls
    back to uchardet, both through resiliparse with WHATWG label mapping (``latin1`` means cp1252, as
    browsers decode it).
    """
    if declared:
        encoding = map_encoding_to_html5(declared) or declared
        try:
            return payload.decode(_python_codec(encoding)), encoding, 0.0
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong or unknown label: detect instead, as browsers fall back
    encoding = detect_encoding(payload, from_html_meta=True) or "utf-8"
    try:
        return payload.decode(_python_codec(encoding)), encoding, 0.0
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        text = payload.decode(_python_codec(encoding), errors="replace")
    except LookupError:
        encoding, text = "utf-8", payload.decode("utf-8", errors="replace")
    return text, encoding, text.count("\ufffd") / max(len(text), 1)


def extract_text(payload: bytes, declared_charset: str | None, max_replaced: float) -> Extraction:
    """Main-content text of an HTML payload, or a reason code for why there is none."""
    if b"\x00" in payload[:_SNIFF_BYTES]:
        return Extraction(None, None, "binary_payload", "NUL bytes in the first 4 KiB")
    html, encoding, replaced = decode_html(payload, declared_charset)
    if replaced > max_replaced:
        return Extraction(
            None, encoding, "undecodable", f"{replaced:.1%} of characters undecodable as {encoding}", replaced
        )
    try:
        tree = HTMLTree.parse(html)
        text = extract_plain_text(tree, main_content=True, preserve_formatting=True)
    except Exception as exc:  # resiliparse raises several types on pathological markup
        return Extraction(None, encoding, "extraction_error", f"{type(exc).__name__}: {exc}", replaced)
    text = text.strip()
    if not text:
        return Extraction(None, encoding, "empty_extraction", "no main content found", replaced)
    return Extraction(text, encoding, None, "", replaced)


def plain_text(payload: bytes, declared_charset: str | None, max_replaced: float) -> Extraction:
    """Text that is already extracted (a WET conversion record), decoded as :func:`decode_html` does, with
    the same reason codes; nothing is removed from it but the surrounding whitespace."""
    if b"\x00" in payload[:_SNIFF_BYTES]:
        return Extraction(None, None, "binary_payload", "NUL bytes in the first 4 KiB")
    text, encoding, replaced = decode_html(payload, declared_charset or "utf-8")
    if replaced > max_replaced:
        return Extraction(
            None, encoding, "undecodable", f"{replaced:.1%} of characters undecodable as {encoding}", replaced
        )
    text = text.strip()
    if not text:
        return Extraction(None, encoding, "empty_extraction", "the record holds no text", replaced)
    return Extraction(text, encoding, None, "", replaced)


def _python_codec(whatwg_label: str) -> str:
    # WHATWG names that Python spells differently.
    return {"windows-874": "cp874", "x-mac-cyrillic": "mac-cyrillic"}.get(whatwg_label, whatwg_label)
