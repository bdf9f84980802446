"""Publishing rows straight into a test lake's catalog (no selection, no tokenizer), for reader tests."""

import pyarrow as pa

from corpuslake.publish import publish
from corpuslake.store import Lake


def publish_rows(lake: Lake, name: str, rows: pa.Table, rows_per_file: int) -> str:
    """Publish ``rows`` (with their ``tokens``) as the next number of snapshot ``name``; return its pin."""
    return publish(
        lake,
        name,
        "snapshot",
        rows,
        order_by="id",
        tokenizer="test",
        upstream=(),
        definition={},
        report={},
        run_id="test",
        code_version="test",
        rows_per_file=rows_per_file,
    ).entry.uri


def numbered_rows(name: str, count: int) -> pa.Table:
    """``count`` short documents of one dump, ids ``<name>-000`` on, three tokens each."""
    ids = [f"{name}-{i:03d}" for i in range(count)]
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "dump": pa.array(["D1"] * count, pa.string()),
            "text": pa.array([f"text of {i}" for i in ids], pa.string()),
            "tokens": pa.array([3] * count, pa.int32()),
        }
    )
