"""What the run's own process reads to decide a check: add actions and footers, never a column of every row.

Touches: ``Lake.dumps`` (the dumps of a table from its add actions), which the drift checks use to find
the earlier dumps.
"""

from pathlib import Path

import pyarrow as pa

from corpuslake.lineage import Lineage
from corpuslake.store import Lake

SCHEMA = pa.schema([("id", pa.string()), ("dump", pa.string()), ("score", pa.float64())])


def _write(lake: Lake, dump: str, rows: int) -> int:
    table = pa.table({"id": [f"{dump}-{i}" for i in range(rows)], "dump": [dump] * rows, "score": [0.5] * rows})
    return lake.write_partition("probe", table.cast(SCHEMA), Lineage("probe", dump, "run", "t", {}), {"dump": dump})


def test_the_dumps_of_a_table_come_from_its_add_actions(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    first = _write(lake, "D2", 5)
    _write(lake, "D1", 3)
    _write(lake, "D3", 0)  # a partition replaced by no rows holds no dump
    assert lake.dumps("probe") == ["D1", "D2"]
    assert lake.dumps("probe", first) == ["D2"]
    every_row = lake.read("probe", columns=["dump"])["dump"].to_pylist()
    assert lake.dumps("probe") == sorted(set(every_row))
