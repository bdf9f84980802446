"""The filter units and the chain: each rule just below, at and just above its threshold, with its reason
code; non-Latin scripts; empty, one-word and very large documents. Pure functions (small list files
in tmp_path for the URL filter).

Every rule is tested the same way: a crafted text whose signal is computed by hand, then the rule with
its threshold at that value (kept: the rules are strict inequalities, as in datatrove), a hair on the
failing side (dropped, with the reason code) and a hair on the passing side (kept).
"""

import dataclasses
import io
import random
import tarfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from corpuslake.filters import c4, fineweb, gopher_quality, gopher_repetition, language, refinedweb, url
from corpuslake.filters.base import Failure, Signals, TextView
from corpuslake.filters.chain import FilterChain, FilterConfig

EPS = 1e-6


def words(n: int, length: int = 5) -> list[str]:
    """``n`` distinct words of ``length`` letters (no repeated n-grams, no stop words)."""
    alphabet = "bcdfghjklmnpqrstvwxz"
    out = []
    for i in range(n):
        word, k = "", i
        for _ in range(length):
            word += alphabet[k % 20]
            k //= 20
        out.append(word)
    return out


def prose(n: int) -> str:
    """``n`` distinct words with two stop words in front: passes every Gopher quality rule when n >= 50."""
    return " ".join(["the", "and", *words(n - 2)])


Unit = tuple[Callable[[TextView, Any], Signals], Callable[[Signals, Any], Failure | None]]
QUALITY: Unit = (gopher_quality.score, gopher_quality.decide)
REPETITION: Unit = (gopher_repetition.score, gopher_repetition.decide)
FINEWEB: Unit = (fineweb.score, fineweb.decide)


def verdict(unit: Unit, text: str, config: Any) -> str | None:
    score, decide = unit
    failure = decide(score(TextView(text), config), config)
    return failure.reason if failure else None


def _lines_with_a_repeated_long_line() -> tuple[str, float]:
    """8 distinct short lines and a long line twice: the second copy is the repeated characters."""
    long_line = " ".join(words(60)[20:60])
    text = "\n".join([*words(8), long_line, long_line])
    return text, len(long_line) / len(text)


def _paragraphs_with_a_repeated_long_one() -> tuple[str, float]:
    long_para = " ".join(words(60)[20:60])
    text = "\n\n".join([*words(8), long_para, long_para])
    return text, len(long_para) / len(text)


def _fineweb_duplicate_line() -> tuple[str, float]:
    text = "\n".join([" ".join(words(300)[:280]) + ".", "same words here.", "same words here."])
    return text, len("same words here.") / (len(text) - 2)


NO_NGRAM_RULES: dict[str, Any] = {"top_ngram_char_frac": (None,) * 3, "dup_ngram_char_frac": (None,) * 6}
LINE_CHARS, LINE_CHARS_VALUE = _lines_with_a_repeated_long_line()
PARA_CHARS, PARA_CHARS_VALUE = _paragraphs_with_a_repeated_long_one()
FW_DUP, FW_DUP_VALUE = _fineweb_duplicate_line()

THRESHOLDS = [
    # (unit, default config, field, text, signal, value, reason, direction): direction +1 when the rule
    # drops values above the threshold, -1 when it drops values below it.
    (QUALITY, gopher_quality.GopherQualityConfig(), "min_doc_words", prose(50), "gopher_words", 50, "short_doc", -1),
    (QUALITY, gopher_quality.GopherQualityConfig(), "max_doc_words", prose(60), "gopher_words", 60, "long_doc", +1),
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(min_stop_words=None),
        "min_avg_word_length",
        " ".join(words(50, 3)),
        "gopher_mean_word_length",
        3.0,
        "short_words",
        -1,
    ),
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(min_stop_words=None),
        "max_avg_word_length",
        " ".join(words(50, 10)),
        "gopher_mean_word_length",
        10.0,
        "long_words",
        +1,
    ),
    # 54 words and 6 "#" tokens: 6 / 60 tokens
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(),
        "max_symbol_word_ratio",
        prose(54) + " #" * 6,
        "gopher_hash_ratio",
        0.1,
        "hash_ratio",
        +1,
    ),
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(),
        "max_symbol_word_ratio",
        "... " * 6 + prose(54),
        "gopher_ellipsis_ratio",
        0.1,
        "ellipsis_ratio",
        +1,
    ),
    # 10 lines, 9 starting with a bullet
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(),
        "max_bullet_lines_ratio",
        "\n".join([prose(50), *[f"- {w} item" for w in words(9)]]),
        "gopher_bullet_lines_ratio",
        0.9,
        "bullet_lines",
        +1,
    ),
    # 10 lines, 3 ending with an ellipsis
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(),
        "max_ellipsis_lines_ratio",
        "\n".join([prose(50), *[f"{w} more..." for w in words(3)], *words(6)]),
        "gopher_ellipsis_lines_ratio",
        0.3,
        "ellipsis_lines",
        +1,
    ),
    # 80 tokens with letters, 20 numbers
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(),
        "min_alpha_words_ratio",
        prose(80) + " 123" * 20,
        "gopher_alpha_words_ratio",
        0.8,
        "non_alpha_words",
        -1,
    ),
    (
        QUALITY,
        gopher_quality.GopherQualityConfig(),
        "min_stop_words",
        prose(50),
        "gopher_stop_words",
        2,
        "few_stop_words",
        -1,
    ),
    # 10 lines, the last 4 the same: 3 repeats
    (
        REPETITION,
        gopher_repetition.GopherRepetitionConfig(),
        "dup_line_frac",
        "\n".join([" ".join(words(8)[i : i + 1] + words(40)[10 + 5 * i : 15 + 5 * i]) for i in range(6)] + ["x y"] * 4),
        "rep_dup_line_frac",
        0.3,
        "dup_line_frac",
        +1,
    ),
    (
        REPETITION,
        gopher_repetition.GopherRepetitionConfig(),
        "dup_para_frac",
        "\n\n".join([" ".join(words(60)[10 * i : 10 * i + 10]) for i in range(6)] + ["x y"] * 4),
        "rep_dup_para_frac",
        0.3,
        "dup_para_frac",
        +1,
    ),
    (
        REPETITION,
        gopher_repetition.GopherRepetitionConfig(dup_line_frac=None, dup_para_frac=None, **NO_NGRAM_RULES),
        "dup_line_char_frac",
        LINE_CHARS,
        "rep_dup_line_char_frac",
        LINE_CHARS_VALUE,
        "dup_line_char_frac",
        +1,
    ),
    (
        REPETITION,
        gopher_repetition.GopherRepetitionConfig(
            dup_line_frac=None, dup_para_frac=None, dup_line_char_frac=None, **NO_NGRAM_RULES
        ),
        "dup_para_char_frac",
        PARA_CHARS,
        "rep_dup_para_char_frac",
        PARA_CHARS_VALUE,
        "dup_para_char_frac",
        +1,
    ),
    (
        FINEWEB,
        fineweb.FineWebConfig(),
        "char_duplicates_ratio",
        FW_DUP,
        "fineweb_char_dup_ratio",
        FW_DUP_VALUE,
        "char_dup_ratio",
        +1,
    ),
    (
        FINEWEB,
        fineweb.FineWebConfig(short_line_thr=None, new_line_ratio=None),
        "line_punct_thr",
        "\n".join([f"{w} ends here." for w in words(3)] + [f"{w} does not" for w in words(22)]),
        "fineweb_line_punct_ratio",
        3 / 25,
        "line_punct_ratio",
        -1,
    ),
    (
        FINEWEB,
        fineweb.FineWebConfig(line_punct_thr=None),
        "short_line_thr",
        "\n".join([f"{w} short line." for w in words(2)] + [" ".join(words(10, 4)) + "."]),
        "fineweb_short_line_ratio",
        2 / 3,
        "short_line_ratio",
        +1,
    ),
    (
        FINEWEB,
        fineweb.FineWebConfig(short_line_thr=None),
        "new_line_ratio",
        "\n".join(" ".join(words(100)[4 * i : 4 * i + 4]) + "." for i in range(10)),
        "fineweb_list_ratio",
        9 / 50,
        "list_ratio",
        +1,
    ),
]


@pytest.mark.parametrize(
    ("unit", "config", "field", "text", "signal", "value", "reason", "direction"),
    THRESHOLDS,
    ids=[f"{t[2]}:{t[6]}" for t in THRESHOLDS],
)
def test_rule_below_at_and_above_threshold(
    unit: Unit, config: Any, field: str, text: str, signal: str, value: float, reason: str, direction: int
) -> None:
    signals = unit[0](TextView(text), config)
    assert signals[signal] == pytest.approx(value)
    at = dataclasses.replace(config, **{field: value})
    assert verdict(unit, text, at) is None  # at the threshold: kept
    failing = value - EPS * direction if isinstance(value, float) else value - direction
    passing = value + EPS * direction if isinstance(value, float) else value + direction
    assert verdict(unit, text, dataclasses.replace(config, **{field: failing})) == reason
    assert verdict(unit, text, dataclasses.replace(config, **{field: passing})) is None


def test_gopher_stop_words_are_case_sensitive_as_in_datatrove() -> None:
    config = gopher_quality.GopherQualityConfig()
    assert verdict(QUALITY, " ".join(["The", "And", *words(60)]), config) == "few_stop_words"
    assert verdict(QUALITY, " ".join(["the", "and", *words(60)]), config) is None


NGRAM_RULES = [("top_ngram_char_frac", i, n, f"top_{n}_gram") for i, n in enumerate(gopher_repetition.TOP_NGRAMS)] + [
    ("dup_ngram_char_frac", i, n, f"dup_{n}_gram") for i, n in enumerate(gopher_repetition.DUP_NGRAMS)
]


@pytest.mark.parametrize(("field", "index", "n", "reason"), NGRAM_RULES, ids=[r[3] for r in NGRAM_RULES])
def test_ngram_rules_below_at_and_above_threshold(field: str, index: int, n: int, reason: str) -> None:
    # a 10-word phrase said three times among distinct words: its n-grams top the counts and repeat
    phrase = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    tokens = [*words(20), *phrase, *words(40)[20:30], *phrase, *words(60)[40:50], *phrase]
    text = " ".join(tokens)
    # only the rule under test is on
    config = gopher_repetition.GopherRepetitionConfig(top_ngram_char_frac=(None,) * 3, dup_ngram_char_frac=(None,) * 6)
    signals = gopher_repetition.score(TextView(text), config)
    if field == "top_ngram_char_frac":
        value = len(" ".join(phrase[:n])) * 3 / len(text)  # the first-seen of the most frequent n-grams
        assert value == pytest.approx(_reference_top_chars(tokens, n) / len(text))
        assert signals[f"rep_top_{n}gram_char_frac"] == pytest.approx(value)
    else:
        value = _reference_repeated_chars(tokens, n) / len(text)
        assert value > 0
        assert signals[f"rep_dup_{n}gram_char_frac"] == pytest.approx(value)
    for limit, expected in ((value, None), (value - EPS, reason), (value + EPS, None)):
        limits: list[float | None] = list(getattr(config, field))
        limits[index] = limit
        changes: dict[str, Any] = {field: tuple(limits)}
        assert verdict(REPETITION, text, dataclasses.replace(config, **changes)) == expected


# --- C4: line edits and document rules ---------------------------------------------------------------


def c4_edit(text: str, **changes: Any) -> tuple[str, Signals, str | None]:
    config = dataclasses.replace(c4.C4Config(), **changes)
    edited, signals = c4.edit(TextView(text), config)
    failure = c4.decide(signals, config)
    return edited.text, signals, failure.reason if failure else None


def test_c4_removes_short_javascript_policy_lines_and_citations() -> None:
    text = "\n".join(
        [
            "Menu",  # fewer than 3 words
            "Enable JavaScript to view this page.",
            "Read our privacy policy today.",
            "The tide rose over the harbour wall[1] at dawn.",
            "Sailors waited on the pier. Some sang. Others slept.",
            "Gulls circled the masts all morning long.",
        ]
    )
    edited, signals, reason = c4_edit(text)
    assert edited.splitlines() == [
        "The tide rose over the harbour wall at dawn.",
        "Sailors waited on the pier. Some sang. Others slept.",
        "Gulls circled the masts all morning long.",
    ]
    assert signals["c4_lines_removed"] == 3 and signals["c4_sentences"] == 5
    assert reason is None  # 5 sentences: at the minimum
    assert c4_edit(text, min_sentences=6)[2] == "too_few_sentences"


def test_c4_terminal_punctuation_rule_is_switchable() -> None:
    text = "a line without an end mark\nA line with one.\nAnother with one!"
    assert c4_edit(text, min_sentences=1)[0].count("\n") == 2  # FineWeb's setting: off
    edited, _, _ = c4_edit(text, min_sentences=1, filter_no_terminal_punct=True)
    assert edited == "A line with one.\nAnother with one!"


def test_c4_document_rules_follow_datatrove_line_order() -> None:
    assert c4_edit("Some text here.\nLorem ipsum dolor sit amet.")[2] == "lorem_ipsum"
    assert c4_edit("A function body { return x; } here.")[2] == "curly_bracket"
    # a brace on a line already removed for "javascript" does not drop the document
    assert c4_edit("javascript: function f() { }\n" + "A sentence. " * 6)[2] is None


def test_c4_can_empty_a_document(tmp_path: Path) -> None:
    chain = FilterChain(
        FilterConfig(url=url.UrlConfig(domains="", urls="", banned_words="", soft_banned_words="", banned_subwords="")),
        tmp_path,
    )
    judged = chain.judge("Home\nAbout us\nContact\n", None, "en", 0.9)
    assert judged.text == ""
    assert judged.signals["c4_removed_word_fraction"] == 1.0
    assert "c4/too_few_sentences" in judged.flags and "fineweb/empty" in judged.flags


def test_refinedweb_guard_reads_c4s_removed_words() -> None:
    config = refinedweb.RefinedWebConfig(enabled=True)
    assert refinedweb.decide({"c4_removed_word_fraction": 0.05}, config) is None
    failure = refinedweb.decide({"c4_removed_word_fraction": 0.05 + EPS}, config)
    assert failure is not None and failure.code == "refinedweb/removed_words"


# --- language and URL ---------------------------------------------------------------------------------


def test_language_rules() -> None:
    config = language.LanguageConfig(languages=("en", "de"), min_score_by_language={"de": 0.5})
    assert language.decide({"language": "fr", "language_score": 0.99}, config).reason == "not_allowed"  # type: ignore[union-attr]
    assert language.decide({"language": "en", "language_score": 0.65}, config) is None  # at the threshold
    assert language.decide({"language": "en", "language_score": 0.6499}, config).reason == "low_score"  # type: ignore[union-attr]
    assert language.decide({"language": "de", "language_score": 0.55}, config) is None  # per-language override
    assert language.decide({"language": "xx", "language_score": 0.9}, language.LanguageConfig(languages=())) is None


@pytest.fixture
def url_lists(tmp_path: Path) -> url.UrlConfig:
    (tmp_path / "domains.txt").write_text("# a comment\nbad.example\nWorse.Example\n")
    (tmp_path / "urls.txt").write_text("good.example/one/bad-page\n")
    (tmp_path / "banned.txt").write_text("casino\n")
    (tmp_path / "soft.txt").write_text("free\nmoney\nfast\n")
    (tmp_path / "sub.txt").write_text("hotdeals\n")
    return url.UrlConfig(
        domains=str(tmp_path / "domains.txt"),
        urls=str(tmp_path / "urls.txt"),
        banned_words=str(tmp_path / "banned.txt"),
        soft_banned_words=str(tmp_path / "soft.txt"),
        banned_subwords=str(tmp_path / "sub.txt"),
    )


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("https://bad.example/", "blocklisted"),
        ("http://www.shop.bad.example/a", "blocklisted"),  # any parent domain
        ("http://worse.example:8080/", "blocklisted"),  # lists and hosts compared lowercased
        ("http://good.example/one/bad-page", "blocklisted"),  # blocked URL, scheme ignored
        ("http://good.example/one/Casino-night", "banned_word"),
        ("http://good.example/free-money", "soft_banned_words"),  # two soft words
        ("http://good.example/free-offer", None),  # one is not enough
        ("http://good.example/hot-deals", "banned_subword"),  # separators removed
        ("http://notbad.example/", None),  # a different domain, not a parent
        (None, None),
    ],
)
def test_url_rules(tmp_path: Path, url_lists: url.UrlConfig, page: str | None, reason: str | None) -> None:
    matcher = url.UrlMatcher(url_lists, tmp_path / "cache")
    failure = url.decide(matcher.score(page), url_lists)
    assert (failure.reason if failure else None) == reason


def test_missing_list_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(url.BlocklistError, match="banned_words list not found"):
        url.UrlMatcher(url.UrlConfig(domains="", urls="", banned_words=str(tmp_path / "nope.txt")), tmp_path)


@pytest.mark.slow
def test_builtin_ut1_blocklist(blocklist_cache: Path) -> None:
    """FineWeb's list from the datatrove wheel, compiled once into the cache folder."""
    matcher = url.UrlMatcher(url.UrlConfig(), blocklist_cache)
    assert len(matcher.domains) > 4_000_000
    assert matcher.score("http://www.0-1avsex.com/index.html")["url_blocklisted"] == "0-1avsex.com"
    assert matcher.score("https://docs.python.org/3/")["url_blocklisted"] is None
    # no partial file left (other stages keep their own folders in the same cache)
    assert sorted(p.suffix for p in blocklist_cache.iterdir() if p.is_file()) == [".npy", ".txt"]


# --- the chain ----------------------------------------------------------------------------------------


@pytest.fixture
def chain(url_lists: url.UrlConfig, tmp_path: Path) -> FilterChain:
    return FilterChain(FilterConfig(url=url_lists), tmp_path / "cache")


ENGLISH = (
    "The harbour was quiet at dawn, and the boats rocked gently on the water.\n"
    "Fishermen walked to the pier with their nets, talking about the weather that week.\n"
    "A small cafe opened its doors, and the smell of bread drifted along the street.\n"
    "Children ran past the fountain, laughing, while their parents followed with baskets.\n"
    "By noon the market was full of voices, colours and the sound of bargaining.\n"
)


def test_chain_keeps_prose_and_records_every_signal(chain: FilterChain) -> None:
    judged = chain.judge(ENGLISH, "http://good.example/story", "en", 0.95)
    assert judged.rejected_by is None and judged.flags == []
    assert judged.text == ENGLISH.strip()
    assert judged.signals["gopher_words"] > 50 and judged.signals["fineweb_lines"] == 5


def test_first_enabled_failure_decides_and_disabled_units_only_flag(chain: FilterChain, tmp_path: Path) -> None:
    judged = chain.judge(ENGLISH, "http://bad.example/", "fr", 0.9)
    assert judged.rejected_by is not None and judged.rejected_by.code == "url/blocklisted"
    assert judged.flags == ["url/blocklisted", "language/not_allowed"]
    config = dataclasses.replace(chain.config, url=dataclasses.replace(chain.config.url, enabled=False))
    relaxed = FilterChain(config, tmp_path / "cache")  # never the working directory
    judged = relaxed.judge(ENGLISH, "http://bad.example/", "fr", 0.9)
    assert judged.rejected_by is not None and judged.rejected_by.code == "language/not_allowed"
    assert "url/blocklisted" in judged.flags  # still recorded, for selections that want it


@pytest.mark.parametrize(
    ("text", "lang", "code"),
    [
        ("", "en", "gopher_quality/short_doc"),
        ("word", "en", "gopher_quality/short_doc"),
        # Chinese prose has no spaces: two tokens (the run and its final mark), whose one 2-gram is the whole
        # text; datatrove counts a top n-gram even when it occurs once, so Gopher's repetition rule drops it
        (
            "港口在黎明时分很安静，船只在水面上轻轻摇晃。渔民们带着渔网走向码头，谈论着那一周的天气。" * 3,
            "zh",
            "gopher_repetition/top_2_gram",
        ),
        # Russian prose passes the counting rules but has no English stop words
        (
            (" ".join(["Гавань", "была", "тихой", "на", "рассвете", "и", "лодки", "качались"] * 3) + ".\n") * 6,
            "ru",
            "gopher_repetition/dup_line_frac",
        ),
    ],
)
def test_edge_documents_get_a_reason_not_an_error(tmp_path: Path, text: str, lang: str, code: str) -> None:
    off = url.UrlConfig(domains="", urls="", banned_words="", soft_banned_words="", banned_subwords="")
    chain = FilterChain(FilterConfig(url=off, language=language.LanguageConfig(languages=())), tmp_path)
    judged = chain.judge(text, None, lang, 0.99)
    assert judged.rejected_by is not None and judged.rejected_by.code == code


def test_very_large_document(tmp_path: Path) -> None:
    off = url.UrlConfig(domains="", urls="", banned_words="", soft_banned_words="", banned_subwords="")
    chain = FilterChain(FilterConfig(url=off), tmp_path)
    text = "\n".join(f"The {' '.join(words(2_000)[i * 20 : i * 20 + 20])} and more." for i in range(100)) * 60
    judged = chain.judge(text, None, "en", 0.99)  # about 130,000 words on 6,000 lines
    assert judged.signals["gopher_words"] > 100_000
    assert judged.rejected_by is not None and judged.rejected_by.code.startswith("gopher_repetition/")
    assert "gopher_quality/long_doc" in judged.flags


# --- the batched n-gram computation against the rule as written -------------------------------------


def _reference_repeated_chars(tokens: list[str], n: int) -> int:
    """datatrove's scan, literally (on word tuples)."""
    grams = list(zip(*(tokens[i:] for i in range(n)), strict=False))
    seen: set[tuple[str, ...]] = set()
    chars = i = 0
    while i < len(grams):
        if grams[i] in seen:
            chars += sum(map(len, grams[i]))
            i += n
        else:
            seen.add(grams[i])
            i += 1
    return chars


def _reference_top_chars(tokens: list[str], n: int) -> int:
    grams = [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def test_batched_ngrams_match_the_rules_as_written() -> None:
    """Random batches over tiny vocabularies (many repeats, ties, empty and short documents)."""
    rng = random.Random(7)
    for _ in range(1_500):
        vocab = ["a" * k for k in range(1, rng.randint(2, 8))] + ["b", "cc"]
        docs = [
            [rng.choice(vocab) for _ in range(rng.choice([0, 1, 3, rng.randint(0, 40)]))]
            for _ in range(rng.randint(1, 6))
        ]
        grams = gopher_repetition.BatchNGrams.of_words(docs)
        for n in gopher_repetition.TOP_NGRAMS:
            assert grams.top_chars(n).tolist() == [_reference_top_chars(d, n) for d in docs]
        repeated = grams.repeated_chars(gopher_repetition.DUP_NGRAMS)
        for n in gopher_repetition.DUP_NGRAMS:
            assert repeated[n].tolist() == [_reference_repeated_chars(d, n) for d in docs]


def test_list_caches_survive_workers_building_them_at_once(tmp_path: Path) -> None:
    """Workers of one run may all find the cache empty: each builds under its own name, none fails."""
    archive = tmp_path / "lists.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for member, text in (("domains", "bad.example\n" * 2000), ("urls", "bad.example/page\n" * 2000)):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    config = url.UrlConfig(
        domains=str(archive), urls=str(archive), banned_words="", soft_banned_words="", banned_subwords=""
    )
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(max_workers=8) as pool:
        matchers = list(pool.map(lambda _: url.UrlMatcher(config, cache), range(16)))
    assert all(m.score("http://bad.example/page")["url_blocklisted"] == "bad.example" for m in matchers)
    assert sorted(p.suffix for p in cache.iterdir()) == [".npy", ".txt"]
