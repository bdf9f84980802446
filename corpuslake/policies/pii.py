"""Personal data found in text: e-mail addresses, IPv4 addresses, phone numbers and payment-card numbers.

``find`` counts them; ``redact`` replaces them with stable placeholders, as FineWeb does for e-mails and
IPs: e-mails become ``email@example.com``, an IP becomes an address of the documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) chosen by a hash of the original (so one address is
always replaced by the same one), phone numbers ``(555) 555-0100``, card numbers ``0000 0000 0000
0000``. Redacting twice gives the same text as redacting once: every placeholder is detected as what
it stands for and replaced by itself, or (the IP placeholders) is not an address that counts.

Only public IPv4 addresses count (as FineWeb's ``only_remove_public_ips``): private, loopback and
documentation ranges identify no one, and the placeholders themselves are documentation addresses.

Near misses left alone: dotted version and section numbers (``1.2.3.4`` after "version", "v",
"Section", or opening a line as a heading number, or inside a longer dotted run like ``10.0.0.1.5``),
numbers out of range (``999.1.1.1``), digit runs that fail the Luhn check, dates and ISBN-like runs
that do not have a phone number's shape.
"""

import hashlib
import ipaddress
import re
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
# Dotted quads that are not addresses: versions, and section numbers ("see Section 4.1.2.1", or a
# heading "6.5.1.1. Managing ..." at the start of a line).
_NOT_AN_ADDRESS = re.compile(
    r"(?:\bversion|\bv|\brelease|\bver\.?|\bsection|\bchapter|\btable|\bfigure|\bstep|§|^)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")

EMAIL_PLACEHOLDER = "email@example.com"
PHONE_PLACEHOLDER = "(555) 555-0100"
CARD_PLACEHOLDER = "0000 0000 0000 0000"
_DOC_RANGES = ("192.0.2.", "198.51.100.", "203.0.113.")


@dataclass(frozen=True)
class PiiCounts:
    emails: int
    ips: int
    phones: int
    cards: int

    @property
    def any(self) -> bool:
        return bool(self.emails or self.ips or self.phones or self.cards)


# Cheap pre-checks: most documents have no "@", no dotted quad and no long digit run.
_MAY_IP = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
_MAY_PHONE = re.compile(r"\d{3}[ .-]\d{4}")
_MAY_CARD = re.compile(r"\d{4}[ -]?\d{4}[ -]?\d{4}")


def _ips(text: str) -> list[re.Match[str]]:
    if not _MAY_IP.search(text):
        return []
    return [
        m
        for m in IPV4.finditer(text)
        if ipaddress.ip_address(m.group()).is_global  # private, loopback and documentation ranges are no one's
        and not _NOT_AN_ADDRESS.search(text[max(0, m.start() - 12) : m.start()])
    ]


def _cards(text: str) -> list[re.Match[str]]:
    if not _MAY_CARD.search(text):
        return []
    return [m for m in CARD.finditer(text) if _luhn(re.sub(r"\D", "", m.group()))]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def find(text: str, may: tuple[bool, bool, bool] | None = None) -> PiiCounts:
    """The PII items of ``text``. ``may``: the IP, phone and card pre-checks, when they were already run
    over the text (:func:`corpuslake.policies.textscan.pii_candidates` does a whole batch in one pass)."""
    if may is None:
        may = (bool(_MAY_IP.search(text)), bool(_MAY_PHONE.search(text)), bool(_MAY_CARD.search(text)))
    may_ip, may_phone, may_card = may
    return PiiCounts(
        emails=len(EMAIL.findall(text)) if "@" in text else 0,
        ips=len(_ips(text)) if may_ip else 0,
        phones=len(PHONE.findall(text)) if may_phone else 0,
        cards=len(_cards(text)) if may_card else 0,
    )


def _ip_placeholder(ip: str) -> str:
    if ip.startswith(_DOC_RANGES):
        return ip  # already a placeholder
    digest = hashlib.sha256(ip.encode()).digest()
    return f"{_DOC_RANGES[digest[0] % 3]}{1 + digest[1] % 254}"


def redact(text: str) -> str:
    """The text with every detected item replaced by its placeholder."""
    text = EMAIL.sub(EMAIL_PLACEHOLDER, text)
    for m in reversed(_cards(text)):
        text = text[: m.start()] + CARD_PLACEHOLDER + text[m.end() :]
    text = PHONE.sub(PHONE_PLACEHOLDER, text)
    for m in reversed(_ips(text)):
        text = text[: m.start()] + _ip_placeholder(m.group()) + text[m.end() :]
    return text
