"""The batch computations of the filter units (token ids, n-grams, Gopher's word rules) against the rules
written plainly over word strings, on texts where most n-grams are seen once (as in prose) and on odd
documents (empty, punctuation only, stop words in other cases); and token ids across a reset of the
id tables."""

import random
import re
from itertools import filterfalse

from corpuslake.filters import c4, gopher_quality, gopher_repetition
from corpuslake.filters.base import BatchTokens, TextView
from corpuslake.filters.gopher_quality import GopherQualityConfig
from corpuslake.filters.text import _HAS_ALPHA, clear_caches, punctuation, split_words
from tests.test_filters import _reference_repeated_chars, _reference_top_chars

PHRASES = ["the cat sat on the mat", "e.g. it's (really) well-known", "#tag ... …", "The and THE to of", "- • x"]


def _text(rng: random.Random) -> str:
    vocab = [f"w{i}" for i in range(rng.choice([5, 50, 5_000]))]
    lines = []
    for _ in range(rng.randint(0, 12)):
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 30))]
        if rng.random() < 0.5:
            words.insert(rng.randint(0, len(words)), rng.choice(PHRASES))
        lines.append(" ".join(words))
    return rng.choice(["\n", "\n\n", " \n"]).join(lines)


def _reference_quality(text: str, config: GopherQualityConfig) -> dict[str, object]:
    """The word signals as first written, over strings."""
    words = split_words(text)
    non_symbol = list(filterfalse(punctuation().issuperset, words))
    with_alpha = sum(1 for w in words if w.isalpha() or _HAS_ALPHA.search(w))
    return {
        "gopher_words": len(non_symbol),
        "gopher_tokens": len(words),
        "gopher_mean_word_length": sum(map(len, non_symbol)) / len(non_symbol) if non_symbol else 0.0,
        "gopher_alpha_words_ratio": with_alpha / len(words) if words else 0.0,
        "gopher_stop_words": len(set(config.stop_words).intersection(words)),
    }


def test_batched_word_signals_match_the_rules_over_strings() -> None:
    rng = random.Random(11)
    config = GopherQualityConfig()
    for _ in range(60):
        texts = [_text(rng) for _ in range(rng.randint(1, 8))] + ["", "... !!", "The THE the to"]
        views = [TextView(t) for t in texts]
        tokens = BatchTokens(views)
        for text, got in zip(texts, gopher_quality.score_batch(views, config, tokens), strict=True):
            assert {k: got[k] for k in _reference_quality(text, config)} == _reference_quality(text, config)
        grams = gopher_repetition.BatchNGrams(tokens.ids, tokens.table.lengths[tokens.ids], tokens.sizes)
        docs = [split_words(t) for t in texts]
        for n in gopher_repetition.TOP_NGRAMS:
            assert grams.top_chars(n).tolist() == [_reference_top_chars(d, n) for d in docs]
        repeated = grams.repeated_chars(gopher_repetition.DUP_NGRAMS)
        for n in gopher_repetition.DUP_NGRAMS:
            assert repeated[n].tolist() == [_reference_repeated_chars(d, n) for d in docs]


def test_sparse_ids_are_ranked_first() -> None:
    """Ids far above the batch's size (a long-lived id table) give the same n-grams as dense ones."""
    rng = random.Random(3)
    docs = [[rng.choice("abc") for _ in range(rng.randint(0, 30))] for _ in range(5)]
    dense = gopher_repetition.BatchNGrams.of_words(docs)
    sparse = gopher_repetition.BatchNGrams(
        dense.word_ids * 1_000_003 + 10**9,
        dense.prefix[1:] - dense.prefix[:-1],
        dense.doc_start[1:] - dense.doc_start[:-1],
    )
    for n in gopher_repetition.TOP_NGRAMS:
        assert sparse.top_chars(n).tolist() == dense.top_chars(n).tolist()
    got, want = sparse.repeated_chars((5, 6)), dense.repeated_chars((5, 6))
    assert {n: v.tolist() for n, v in got.items()} == {n: v.tolist() for n, v in want.items()}


def test_views_split_before_a_reset_are_split_again() -> None:
    """Ids of different generations never meet in one batch: a view split before the tables were reset
    is split again, so its words and the batch's signals are what a fresh view gives."""
    old = TextView("alpha beta gamma alpha beta gamma delta")
    assert old.words[0] == "alpha"
    clear_caches()
    assert TextView("zeta eta theta iota kappa").words  # new ids, reusing the old numbers
    fresh = TextView("alpha beta gamma alpha beta gamma delta")
    config = gopher_repetition.GopherRepetitionConfig()
    assert old.words == fresh.words
    assert gopher_repetition.score_batch([old], config) == gopher_repetition.score_batch([fresh], config)


def test_lines_split_as_the_regex_does() -> None:
    rng = random.Random(5)
    for _ in range(20_000):
        text = "".join(rng.choice("a\n b") for _ in range(rng.randint(0, 8)))
        assert gopher_repetition._lines(text) == re.split(r"\n+", text)


def test_c4_phrases_found_in_lines_whatever_the_page_holds() -> None:
    """The page-wide pre-check never hides a phrase from the line rules: one in mixed case, one that
    citation removal joins, one in a page without phrases elsewhere."""
    config = c4.C4Config()
    lines = ["Enable JavaScript to see this page now.", "java[1]script is off in this browser.", "Plain words here."]
    edited, signals = c4.edit(TextView("\n".join(lines)), config)
    assert edited.text == "Plain words here."
    assert signals["c4_lines_removed"] == 2
    edited, _ = c4.edit(TextView("We use cookies on this site.\nPlain words here."), config)
    assert edited.text == "Plain words here."
    edited, signals = c4.edit(TextView("Lorem Ipsum dolor sit amet.\n{ a b c }"), config)
    assert signals["c4_document_rule"] == "lorem_ipsum"
