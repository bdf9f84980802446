"""The filters' word and sentence splitter. Pure functions, no files.

The expected token lists are what spaCy's blank English tokenizer (datatrove's English word tokenizer)
gives for the same strings, checked by hand against spaCy 3.8.
"""

import pytest

from corpuslake.filters.text import count_sentences, punctuation, split_words, terminal_punctuation


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        # punctuation is split off; abbreviations with inner periods stay whole
        ("Hello, world. (e.g. U.S.)", ["Hello", ",", "world", ".", "(", "e.g.", "U.S.", ")"]),
        # clitics as spaCy's exception table splits them
        ("it's John's can't won't", ["it", "'s", "John", "'s", "ca", "n't", "wo", "n't"]),
        # contractions without apostrophe, and "cannot"
        ("I dont know, cannot", ["I", "do", "nt", "know", ",", "can", "not"]),
        # hyphens and slashes between letters split; between digits "-" splits but "/" does not
        ("well-known a/b 10-20 1/2", ["well", "-", "known", "a", "/", "b", "10", "-", "20", "1/2"]),
        # numbers with separators stay whole; "+" before a digit is kept
        ("3.14 1,000 10:30 +5 5%", ["3.14", "1,000", "10:30", "+5", "5", "%"]),
        # URLs and e-mail addresses stay whole, their trailing period does not
        ("see http://x.com/a?b=c. or me@ex.com", ["see", "http://x.com/a?b=c", ".", "or", "me@ex.com"]),
        # a run of underscores is one token per underscore; inside a name it stays
        ("___ snake_case", ["_", "_", "_", "snake_case"]),
        # odd code stays one token when no rule splits it
        ("a\\xDEADBEEF'::bytea", ["a\\xDEADBEEF'::bytea"]),
        # ellipses and dashes
        ("wait...no a--b", ["wait", "...", "no", "a", "--", "b"]),
        # bullets are not punctuation to spaCy: they stay attached
        ("•item", ["•item"]),
        # CJK runs stay whole (no segmenter); the final full stop is split off
        ("中文文本，这是一个测试。", ["中文文本，这是一个测试", "。"]),
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_split_words_matches_spacy_rules(text: str, tokens: list[str]) -> None:
    assert split_words(text) == tokens


def test_split_words_is_the_same_per_line_and_whole() -> None:
    """Lines are split separately by the filters: no token may span a line break."""
    text = "first line, here.\nsecond-line (x)\n\nthird: a/b...\r\nfourth"
    per_line = [t for line in text.splitlines() for t in split_words(line)]
    assert per_line == split_words(text)


@pytest.mark.parametrize(
    ("lines", "sentences"),
    [
        (["One sentence."], 1),
        (["One. Two! Three?"], 3),
        (["Mr. Smith met J. Doe. Then left."], 2),  # titles and initials are no sentence ends
        (["A line", "", "Another line. And more"], 3),
        ([], 0),
        (["中文。中文"], 1),  # no space after the mark: spaCy's sentencizer needs a following token
    ],
)
def test_count_sentences(lines: list[str], sentences: int) -> None:
    assert count_sentences(lines) == sentences


def test_terminal_punctuation_is_unicode_sentence_terminal() -> None:
    marks = set(terminal_punctuation())
    assert {".", "?", "!", "。", "！", "？", "।", "؟", "።"} <= marks
    assert not {",", ";", ":", "a", "…"} & marks
    assert marks <= punctuation()  # a sentence terminal is never a word
