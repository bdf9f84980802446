"""Unit tests of corpuslake.extract: decoding, main-content extraction, already-extracted text. Pure functions."""

import pytest

from corpuslake.extract import decode_html, extract_text, plain_text
from tests.warcs import html_page

_FR = "Le café est très bon à Paris, et les élèves étudient la poésie française avec enthousiasme."


def test_main_content_drops_navigation() -> None:
    result = extract_text(html_page("Title", ["First paragraph of real content here.", "Second one."]), "utf-8", 0.05)
    assert result.reason is None and result.text is not None
    assert "First paragraph of real content here." in result.text
    assert "Home | About" not in result.text


@pytest.mark.parametrize(
    ("payload", "declared", "encoding"),
    [
        # the HTTP header is right
        (f"<html><body><p>{_FR}</p></body></html>".encode(), "utf-8", "utf-8"),
        # no header: the meta charset decides; WHATWG maps latin-1 labels to windows-1252 (Python: cp1252)
        (
            f'<html><head><meta charset="iso-8859-1"></head><body><p>{_FR}</p></body></html>'.encode("latin-1"),
            None,
            "cp1252",
        ),
        # a wrong header (utf-8 declared, cp1252 bytes): detection takes over
        (f"<html><body><p>{_FR}</p></body></html>".encode("cp1252"), "utf-8", "cp1252"),
        # Japanese in Shift_JIS declared in the header
        (
            "<html><body><p>日本語のテキストです。東京は大きな都市です。</p></body></html>".encode("shift_jis"),
            "shift_jis",
            "shift_jis",
        ),
    ],
)
def test_decoding_picks_the_right_charset(payload: bytes, declared: str | None, encoding: str) -> None:
    text, used, replaced = decode_html(payload, declared)
    assert used == encoding
    assert replaced == 0.0
    assert "é" in text or "日本語" in text


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary_payload"),  # an image labelled text/html
        (b"<html><body><script>var x = 1;</script></body></html>", "empty_extraction"),
        (bytes(range(128, 256)) * 40, "undecodable"),  # bytes valid in no declared or detected charset
    ],
)
def test_failures_have_reason_codes(payload: bytes, reason: str) -> None:
    result = extract_text(payload, "utf-8", 0.05)
    assert result.text is None
    assert result.reason == reason


def test_deeply_nested_markup_does_not_crash() -> None:
    html = ("<div>" * 20_000 + "<p>deep text that is the main content of this page</p>" + "</div>" * 20_000).encode()
    result = extract_text(html, "utf-8", 0.05)
    assert result.reason in (None, "empty_extraction", "extraction_error")


def test_plain_text_is_kept_whole_but_for_surrounding_whitespace() -> None:
    text = "Home | About\n\nLe café est très bon.\n"
    result = plain_text(f"  {text}".encode(), None, 0.05)  # no charset said: UTF-8 first, as WET files are
    assert (result.text, result.encoding, result.reason) == (text.strip(), "utf-8", None)


@pytest.mark.parametrize(
    ("payload", "charset", "reason"),
    [
        (b" \n\t ", None, "empty_extraction"),
        (b"text\x00with NUL", None, "binary_payload"),
        (bytes(range(128, 256)) * 40, "utf-8", "undecodable"),
    ],
)
def test_plain_text_failures_have_reason_codes(payload: bytes, charset: str | None, reason: str) -> None:
    result = plain_text(payload, charset, 0.05)
    assert result.text is None and result.reason == reason


def test_plain_text_in_a_declared_legacy_charset() -> None:
    result = plain_text(_FR.encode("cp1252"), "windows-1252", 0.05)
    assert result.text == _FR and result.reason is None
