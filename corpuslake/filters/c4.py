"""C4's rules (Raffel et al. 2020), as datatrove's C4QualityFilter applies them: line edits, then
document rules on what remains. The edited text replaces the document's text downstream.

Per line (``splitlines``, stripped), in order: drop lines with a word over ``max_word_length``
characters; remove citation marks (``[1]``, ``[edit]``, ``[citation needed]``); drop lines without
terminal punctuation (switchable: FineWeb switches it off); drop lines of fewer than
``min_words_per_line`` words (counted before citation removal, as datatrove does); a kept line with
"lorem ipsum" drops the document; drop lines mentioning "javascript"; a kept line with ``{`` drops the
document; drop lines with cookie or terms-of-use phrases. The document also needs ``min_sentences``
sentences in its kept lines.

Where this can differ from datatrove: sentences are counted with a regex over terminal marks
(``text.count_sentences``) where datatrove runs spaCy's sentencizer on each kept line; the two agree
except around abbreviations, and only documents near the 5-sentence line can change verdict.
"""

import re
from dataclasses import dataclass

import pyarrow as pa

from corpuslake.filters.base import Failure, SignalColumn, Signals, TextView, ratio
from corpuslake.filters.text import count_sentences, token_ids

NAME = "c4"

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION = (".", "?", "!", '"', "'")
_POLICY = re.compile("terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies")


@dataclass(frozen=True)
class C4Config:
    """C4's line edits and document rules (datatrove's defaults, FineWeb's terminal-punctuation choice)."""

    enabled: bool = True
    """Apply the document rules and keep the edited text (signals are stored either way)."""
    filter_no_terminal_punct: bool = False
    """Drop lines not ending in . ? ! " ' (C4 does; FineWeb switches it off, so off by default)."""
    min_sentences: int | None = 5
    """Fewer sentences left after the line edits: ``too_few_sentences``."""
    min_words_per_line: int | None = 3
    """Lines with fewer whitespace-separated words are removed."""
    max_word_length: int | None = 1000
    """Lines holding a longer word are removed."""
    remove_citations: bool = True
    """Strip ``[1]``, ``[edit]`` and ``[citation needed]``."""
    filter_lorem_ipsum: bool = True
    """"lorem ipsum" in a kept line: ``lorem_ipsum``."""
    filter_javascript: bool = True
    """Lines mentioning "javascript" are removed."""
    filter_curly_bracket: bool = True
    """``{`` in a kept line: ``curly_bracket``."""
    filter_policy: bool = True
    """Lines with cookie and terms-of-use phrases are removed."""


SIGNALS = [
    SignalColumn("c4_lines", pa.int32(), "lines before the edits"),
    SignalColumn("c4_lines_removed", pa.int32(), "lines the edits removed"),
    SignalColumn("c4_sentences", pa.int32(), "sentences in the kept lines"),
    SignalColumn("c4_document_rule", pa.string(), "lorem_ipsum or curly_bracket when a kept line has it"),
    SignalColumn("c4_removed_word_fraction", pa.float32(), "whitespace words removed by the edits"),
]


def edit(view: TextView, config: C4Config) -> tuple[TextView, Signals]:
    """The text after C4's line edits (with its token count), and the signals of the edits and rules."""
    c = config
    kept: list[str] = []
    kept_tokens = kept_chunks = 0
    document_rule: str | None = None
    lines = view.lines
    phrases = _may_hold_phrases(view.text, config)
    for raw, split in zip(lines, view.split_lines, strict=True):
        line = raw.strip()
        tokens, chunks = len(split.ids), split.chunks
        too_long = c.max_word_length is not None and len(line) > c.max_word_length
        if too_long and max(map(len, line.split())) > c.max_word_length:  # type: ignore[operator]
            continue
        if c.remove_citations and "[" in line:
            cited = line
            line = _CITATION.sub("", line)
            if line != cited:
                tokens, chunks = len(token_ids(line)), len(line.split())
        if c.filter_no_terminal_punct and (not line.endswith(_END_PUNCTUATION) or line.endswith("...")):
            continue
        if c.min_words_per_line is not None and split.chunks < c.min_words_per_line:  # words before citations
            continue
        lowered = line.lower() if phrases else ""
        if document_rule is None and c.filter_lorem_ipsum and "lorem ipsum" in lowered:
            document_rule = "lorem_ipsum"
        if c.filter_javascript and "javascript" in lowered:
            continue
        if document_rule is None and c.filter_curly_bracket and "{" in line:
            document_rule = "curly_bracket"
        if phrases and c.filter_policy and _POLICY.search(lowered):
            continue
        kept.append(line)
        kept_tokens += tokens
        kept_chunks += chunks
    edited = "\n".join(kept).strip()
    before = sum(split.chunks for split in view.split_lines)
    return TextView(edited, word_count=kept_tokens), {
        "c4_lines": len(lines),
        "c4_lines_removed": len(lines) - len(kept),
        "c4_sentences": count_sentences(kept),
        "c4_document_rule": document_rule,
        "c4_removed_word_fraction": ratio(before - kept_chunks, before),
    }


def _may_hold_phrases(text: str, config: C4Config) -> bool:
    """Whether a line of ``text`` can hold one of the lowercase phrases the line rules look for. Most
    pages hold none: their lines are then neither lowercased nor searched. Without citation removal a
    line is a piece of the text, so a phrase in a line is a phrase in the text; removing ``[1]`` can join
    a phrase, hence the ``[``."""
    if config.remove_citations and "[" in text:
        return True
    lowered = text.lower()
    return "lorem ipsum" in lowered or "javascript" in lowered or _POLICY.search(lowered) is not None


def decide(s: Signals, config: C4Config) -> Failure | None:
    if s["c4_document_rule"] is not None:
        return Failure(NAME, s["c4_document_rule"], f"a kept line contains {s['c4_document_rule'].replace('_', ' ')}")
    if config.min_sentences is not None and s["c4_sentences"] < config.min_sentences:
        return Failure(NAME, "too_few_sentences", f"{s['c4_sentences']} sentences < {config.min_sentences}")
    return None
