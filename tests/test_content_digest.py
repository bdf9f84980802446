"""The digest a publishing worker compares a written row group with its read-back copy by.

Touches: corpuslake.content (values_digest) on small tables in memory and one Parquet file under tmp_path.
"""

import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpuslake.content import values_digest

ROWS = pa.table(
    {
        "text": pa.array(["a", None, "ccc", "", "é 🦆"]),
        "tokens": pa.array([1, None, 3, 4, 5], pa.int32()),
        "score": [0.5, None, 1.0, 2.0, 3.0],
        "when": pa.array([datetime.datetime(2026, 1, 1)] * 4 + [None], pa.timestamp("us", tz="UTC")),
        "flag": [True, False, None, True, False],
        "tags": [[1], [2], None, [], [3]],
    }
)


def test_chunks_and_a_parquet_round_trip_do_not_change_the_digest(tmp_path: Path) -> None:
    pq.write_table(ROWS, tmp_path / "rows.parquet")
    assert values_digest(pa.concat_tables([ROWS.slice(0, 2), ROWS.slice(2)])) == values_digest(ROWS)
    assert values_digest(pq.read_table(tmp_path / "rows.parquet")) == values_digest(ROWS)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("text", ["a", None, "ccd", "", "é 🦆"]),  # one character
        ("text", ["a", "", "ccc", "", "é 🦆"]),  # a null became empty
        ("text", ["ac", None, "cc", "", "é 🦆"]),  # the same bytes, split elsewhere
        ("tokens", [1, 0, 3, 4, 5]),  # a null became zero
        ("flag", [True, False, None, True, True]),  # a type hashed through its JSON lines
    ],
)
def test_any_changed_value_changes_the_digest(column: str, values: list[object]) -> None:
    index = ROWS.schema.get_field_index(column)
    changed = ROWS.set_column(index, column, pa.array(values, ROWS.schema.field(column).type))
    assert values_digest(changed) != values_digest(ROWS)
