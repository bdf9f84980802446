"""The cross-dump pass's keys: each staged text's exact key, as the dedup stage defines it.

Touches: corpuslake.crossdump (``key_rows`` and its batch of keys), against ``exact_key(normalize_text(t))``
of corpuslake.dedup.normalize and corpuslake.stages.deduplicated, on texts that exercise normalization:
case, accents and combining marks, digits of several scripts, punctuation and symbols, every kind of
whitespace, non-BMP characters, empty and null texts, and redacted texts.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.crossdump import KeyJob, _keys, key_rows
from corpuslake.dedup.normalize import normalize_text
from corpuslake.ordered import REDACT_COLUMN
from corpuslake.policies import pii
from corpuslake.stages.deduplicated import exact_key

TEXTS = [
    "Hello, World!  The year 2024.",
    "hello world the year 0000",
    "Ça va? Élève naïve — «quoted» ‘text’\u00a0with\u2003spaces\tand\ttabs\r\nnew lines",
    "e\u0301 combining and \u00e9 composed",
    "Digits: ٣٤٥ ५६७ ８９",
    "Symbols: € $ ± © ™ → ♥ 😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0001f600",
    "",
    "   \n\t  ",
    "中文文本，带标点。日本語のテキスト！",
    "ΑΒΓ αβγ Straße STRASSE İstanbul",
    "mail me at someone@example.com or call +1 555 123 4567",
    "a" * 5000 + " tail 123",
]


def reference(text: str) -> int:
    return exact_key(normalize_text(text))


def test_batch_keys_equal_the_dedup_stage_keys() -> None:
    assert _keys(TEXTS) == [reference(t) for t in TEXTS]
    assert _keys([]) == []


def test_key_rows_writes_each_rows_key_with_redaction_applied(tmp_path: Path) -> None:
    n = len(TEXTS)
    flags = [i % 3 == 2 and i < n - 1 for i in range(n)]  # the null text (last) is not flagged
    staged = pa.table(
        {
            "id": [f"d{i:03d}" for i in range(n)],
            "dump_rank": pa.array([i % 2 for i in range(n)], pa.int32()),
            "url": [f"https://example.org/{i}" for i in range(n)],
            "text": [*TEXTS[:-1], None],
            REDACT_COLUMN: flags,
        }
    )
    path = tmp_path / "selected.parquet"
    pq.write_table(staged, path, row_group_size=5)
    output = key_rows(KeyJob(str(path), 2, n, str(tmp_path / "keys-000000.parquet"), redact=True))
    keys = pq.read_table(output)
    expected = []
    for text, flagged in zip([*TEXTS[:-1], ""][2:], flags[2:], strict=True):
        expected.append(reference(pii.redact(text) if flagged else text))
    assert keys["id"].to_pylist() == staged["id"].to_pylist()[2:]
    assert keys["text_key"].to_pylist() == expected
