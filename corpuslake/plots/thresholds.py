"""Where each stored signal is decided: the filter stage's thresholds and the snapshots' cuts.

The filter thresholds are read from the config the ``filtered`` version was written with (its lineage
holds the whole :class:`~corpuslake.filters.chain.FilterConfig`), so a plot shows the thresholds that
made that version, not today's defaults. A snapshot's cut comes from its latest publication: the
definition's ``quality_threshold``, or the score where its top percent was cut, and its bad-word cap.
"""

from collections.abc import Mapping
from typing import Any

from corpuslake.catalog import Catalog
from corpuslake.filters.gopher_repetition import DUP_NGRAMS, TOP_NGRAMS
from corpuslake.plots.bins import Keep, Threshold
from corpuslake.store import Lake

# (signal column, unit, config key, the kept side): one row per rule of the chain that compares a stored
# signal with one number.
_RULES: tuple[tuple[str, str, str, Keep], ...] = (
    ("language_score", "language", "min_score", "above"),
    ("url_soft_banned_words", "url", "soft_banned_threshold", "below"),
    ("gopher_words", "gopher_quality", "min_doc_words", "above"),
    ("gopher_words", "gopher_quality", "max_doc_words", "below"),
    ("gopher_mean_word_length", "gopher_quality", "min_avg_word_length", "above"),
    ("gopher_mean_word_length", "gopher_quality", "max_avg_word_length", "below"),
    ("gopher_hash_ratio", "gopher_quality", "max_symbol_word_ratio", "below"),
    ("gopher_ellipsis_ratio", "gopher_quality", "max_symbol_word_ratio", "below"),
    ("gopher_bullet_lines_ratio", "gopher_quality", "max_bullet_lines_ratio", "below"),
    ("gopher_ellipsis_lines_ratio", "gopher_quality", "max_ellipsis_lines_ratio", "below"),
    ("gopher_alpha_words_ratio", "gopher_quality", "min_alpha_words_ratio", "above"),
    ("gopher_stop_words", "gopher_quality", "min_stop_words", "above"),
    ("rep_dup_para_frac", "gopher_repetition", "dup_para_frac", "below"),
    ("rep_dup_para_char_frac", "gopher_repetition", "dup_para_char_frac", "below"),
    ("rep_dup_line_frac", "gopher_repetition", "dup_line_frac", "below"),
    ("rep_dup_line_char_frac", "gopher_repetition", "dup_line_char_frac", "below"),
    ("c4_sentences", "c4", "min_sentences", "above"),
    ("c4_removed_word_fraction", "refinedweb", "max_removed_word_fraction", "below"),
    ("fineweb_line_punct_ratio", "fineweb", "line_punct_thr", "above"),
    ("fineweb_short_line_ratio", "fineweb", "short_line_thr", "below"),
    ("fineweb_char_dup_ratio", "fineweb", "char_duplicates_ratio", "below"),
    ("fineweb_list_ratio", "fineweb", "new_line_ratio", "below"),
)


def filter_thresholds(config: Mapping[str, Any]) -> dict[str, list[Threshold]]:
    """Each signal's thresholds in a filter stage config (as its lineage stores it); rules set to None
    are switched off and have no line."""
    out: dict[str, list[Threshold]] = {}

    def add(column: str, unit: str, key: str, value: Any, keep: Keep) -> None:
        if value is None:
            return
        enabled = bool(config.get(unit, {}).get("enabled", True))
        out.setdefault(column, []).append(Threshold(float(value), f"{unit}.{key}", keep, enabled))

    for column, unit, key, keep in _RULES:
        add(column, unit, key, config.get(unit, {}).get(key), keep)
    repetition = config.get("gopher_repetition", {})
    for n, value in zip(TOP_NGRAMS, repetition.get("top_ngram_char_frac", ()), strict=False):
        add(f"rep_top_{n}gram_char_frac", "gopher_repetition", f"top_ngram_char_frac[{n}]", value, "below")
    for n, value in zip(DUP_NGRAMS, repetition.get("dup_ngram_char_frac", ()), strict=False):
        add(f"rep_dup_{n}gram_char_frac", "gopher_repetition", f"dup_ngram_char_frac[{n}]", value, "below")
    return out


def snapshot_thresholds(lake: Lake, dump: str) -> dict[str, list[Threshold]]:
    """The quality-score cut and bad-word cap of each snapshot's latest publication that covers ``dump``."""
    out: dict[str, list[Threshold]] = {}
    latest = {e.name: e for e in Catalog(lake).entries() if e.kind == "snapshot"}
    for entry in latest.values():
        if dump not in entry.report.get("by_dump", {dump: None}):
            continue
        definition = entry.lineage.get("definition", {})
        label = f"{entry.name}@{entry.number}"
        cut = definition.get("quality_threshold")
        if cut is None:
            cut = entry.report.get("quality_cut")
        if cut is not None:
            out.setdefault("quality_score", []).append(Threshold(float(cut), f"{label} cut", "above"))
        cap = definition.get("max_badword_rate")
        if cap is not None:
            out.setdefault("badword_rate", []).append(Threshold(float(cap), f"{label} cap", "below"))
        if definition.get("drop_contaminated"):
            out.setdefault("contamination_ngrams", []).append(Threshold(1.0, f"{label}: any overlap", "below"))
    return out
