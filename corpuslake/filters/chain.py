"""The filter chain: every unit scores every document, then the enabled units decide in order.

The order is FineWeb's: URL, language, Gopher repetition, Gopher quality, C4 (whose edited text the
later units read and the stage keeps), RefinedWeb's word-removal guard, FineWeb's rules. A document is
dropped by the first enabled unit that fails it; the failures of every unit, enabled or not, are kept
as flags, so a later selection can apply a switched-off rule from stored signals.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from corpuslake.filters import c4, fineweb, gopher_quality, gopher_repetition, language, refinedweb, url
from corpuslake.filters.base import BatchTokens, Failure, Signals, TextView
from corpuslake.filters.c4 import C4Config
from corpuslake.filters.fineweb import FineWebConfig
from corpuslake.filters.gopher_quality import GopherQualityConfig
from corpuslake.filters.gopher_repetition import GopherRepetitionConfig
from corpuslake.filters.language import LanguageConfig
from corpuslake.filters.refinedweb import RefinedWebConfig
from corpuslake.filters.text import trim_caches
from corpuslake.filters.url import UrlConfig

ORDER = (url.NAME, language.NAME, gopher_repetition.NAME, gopher_quality.NAME, c4.NAME, refinedweb.NAME, fineweb.NAME)

SIGNALS = [*url.SIGNALS, *gopher_repetition.SIGNALS, *gopher_quality.SIGNALS, *c4.SIGNALS, *fineweb.SIGNALS]


@dataclass(frozen=True)
class FilterConfig:
    """Settings of the filter stage, one section per unit; the defaults are FineWeb's choices."""

    url: UrlConfig = field(default_factory=UrlConfig)
    """URL blocklist and banned words."""
    language: LanguageConfig = field(default_factory=LanguageConfig)
    """Allowed languages and minimum language scores."""
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    """Gopher's repeated lines, paragraphs and n-grams."""
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    """Gopher's length, word-length, symbol, bullet and stop-word rules."""
    c4: C4Config = field(default_factory=C4Config)
    """C4's line edits and document rules."""
    refinedweb: RefinedWebConfig = field(default_factory=RefinedWebConfig)
    """RefinedWeb's limit on words removed by line edits."""
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)
    """FineWeb's punctuation, short-line, duplicate-line and list rules."""


class Document(NamedTuple):
    """What the chain reads of a document."""

    text: str
    url: str | None
    language: str
    language_score: float


@dataclass
class Verdict:
    """What the chain says of one document."""

    text: str
    """The text after C4's line edits (the original text when C4 is switched off)."""
    signals: Signals
    failures: list[Failure]
    """Every unit's first failing rule, in chain order, enabled or not."""
    rejected_by: Failure | None
    """The first failure of an enabled unit: the reason the document is dropped."""

    @property
    def flags(self) -> list[str]:
        return [f.code for f in self.failures]


class FilterChain:
    """The units with their loaded resources (URL lists), ready to judge documents."""

    def __init__(self, config: FilterConfig, cache_dir: Path) -> None:
        self.config = config
        self.urls = url.UrlMatcher(config.url, cache_dir)

    def judge(self, text: str, page_url: str | None, lang: str, lang_score: float) -> Verdict:
        """The verdict on one document."""
        return self.judge_batch([Document(text, page_url, lang, lang_score)])[0]

    def judge_batch(self, docs: Sequence[Document]) -> list[Verdict]:
        """The verdicts on many documents (the repetition unit's n-gram work runs once per batch)."""
        cfg = self.config
        trim_caches()  # between batches: token ids stay valid for the whole batch
        views = [TextView(doc.text) for doc in docs]
        tokens = BatchTokens(views)
        repetition = gopher_repetition.score_batch(views, cfg.gopher_repetition, tokens)
        quality = gopher_quality.score_batch(views, cfg.gopher_quality, tokens)
        return [
            self._judge(doc, view, rep | qual)
            for doc, view, rep, qual in zip(docs, views, repetition, quality, strict=True)
        ]

    def _judge(self, doc: Document, original: TextView, batch_signals: Signals) -> Verdict:
        cfg = self.config
        signals: Signals = {"language": doc.language, "language_score": doc.language_score}
        signals |= self.urls.score(doc.url)
        signals |= batch_signals
        edited, c4_signals = c4.edit(original, cfg.c4)
        signals |= c4_signals
        after = edited if cfg.c4.enabled else original
        signals |= fineweb.score(after, cfg.fineweb)
        decisions: list[tuple[bool, Failure | None]] = [
            (cfg.url.enabled, url.decide(signals, cfg.url)),
            (cfg.language.enabled, language.decide(signals, cfg.language)),
            (cfg.gopher_repetition.enabled, gopher_repetition.decide(signals, cfg.gopher_repetition)),
            (cfg.gopher_quality.enabled, gopher_quality.decide(signals, cfg.gopher_quality)),
            (cfg.c4.enabled, c4.decide(signals, cfg.c4)),
            (cfg.refinedweb.enabled, refinedweb.decide(signals, cfg.refinedweb)),
            (cfg.fineweb.enabled, fineweb.decide(signals, cfg.fineweb)),
        ]
        failures = [f for _, f in decisions if f is not None]
        rejected_by = next((f for on, f in decisions if on and f is not None), None)
        del signals["language"], signals["language_score"]  # already columns of the document
        return Verdict(after.text, signals, failures, rejected_by)
