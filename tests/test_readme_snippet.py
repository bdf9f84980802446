"""The README's training-side snippet runs as written, and the torch rows batch with torch's own collate.

Touches: the Python block under "Reading a pin" in README.md, executed unchanged with ``CORPUSLAKE_LAKE``
pointing at a lake under tmp_path that holds ``web-en-hq@1`` (rows with timestamps and null URLs, as
published snapshots have), a DataLoader with four spawned workers; and ``collate_rows`` on every column.
"""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import torch
import torch.utils.data

from corpuslake import client
from corpuslake.store import Lake
from corpuslake.torch_dataset import collate_rows
from tests.published import publish_rows

README = Path(__file__).resolve().parent.parent / "README.md"
ROWS = 100


def snippet() -> str:
    """The first Python block after the heading that introduces reading a pin."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Reading a pin") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README: no python block under 'Reading a pin'"
    return match.group(1)


def rows(count: int) -> pa.Table:
    """Rows shaped like a published snapshot's: a timestamp column and a URL column with nulls."""
    return pa.table(
        {
            "id": pa.array([f"doc-{i:04d}" for i in range(count)], pa.string()),
            "dump": pa.array(["CC-MAIN-2024-10"] * count, pa.string()),
            "url": pa.array([None if i % 3 == 0 else f"https://example.org/{i}" for i in range(count)], pa.string()),
            "warc_date": pa.array(
                [datetime(2024, 3, 1, i % 24, tzinfo=UTC) for i in range(count)], pa.timestamp("us", "UTC")
            ),
            "text": pa.array([f"document {i}: " + "word " * (i % 5 + 1) for i in range(count)], pa.string()),
            "quality_score": pa.array([i / count for i in range(count)], pa.float64()),
            "tokens": pa.array([i % 5 + 3 for i in range(count)], pa.int32()),
        }
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    store = Lake(str(tmp_path_factory.mktemp("readme") / "lake"))
    publish_rows(store, "web-en-hq", rows(ROWS), rows_per_file=40)
    return store


@pytest.mark.slow
# four workers on a machine with fewer cores: torch warns, the snippet is right for a training node
@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
def test_the_readme_snippet_runs_as_written(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUSLAKE_LAKE", lake.root)
    code = snippet()
    assert 'corpuslake.open("corpuslake://web-en-hq@1")' in code and "for batch in loader" in code
    scope: dict[str, Any] = {}
    exec(compile(code, str(README), "exec"), scope)  # the README's own code, as a user runs it
    last = scope["batch"]  # the loop's last batch: 100 rows in blocks of 32 leave 4
    assert set(last) == {"id", "text", "tokens"}
    assert last["id"] == [f"doc-{i:04d}" for i in range(96, 100)]
    assert isinstance(last["tokens"], torch.Tensor) and last["tokens"].tolist() == [(i % 5) + 3 for i in range(96, 100)]


def test_default_rows_batch_with_default_collate_and_every_column_with_collate_rows(lake: Lake) -> None:
    snapshot = client.open("corpuslake://web-en-hq@1", lake)
    batches = list(torch.utils.data.DataLoader(snapshot.torch(block_rows=32), batch_size=32))
    assert [len(b["id"]) for b in batches] == [32, 32, 32, 4]
    assert [i for b in batches for i in b["id"]] == [f"doc-{i:04d}" for i in range(ROWS)]

    every = snapshot.torch(block_rows=32, columns=snapshot.schema.names)
    with pytest.raises(TypeError):  # what the README's snippet hit before: timestamps and nulls
        next(iter(torch.utils.data.DataLoader(every, batch_size=32)))
    loader = torch.utils.data.DataLoader(every, batch_size=32, collate_fn=collate_rows)
    first = next(iter(loader))
    assert first["warc_date"][1] == datetime(2024, 3, 1, 1, tzinfo=UTC)
    assert first["url"][:2] == [None, "https://example.org/1"]
    assert isinstance(first["quality_score"], torch.Tensor) and first["quality_score"].dtype == torch.float64
    assert first["tokens"].tolist()[:3] == [3, 4, 5]
    assert collate_rows([]) == {}
    assert collate_rows([{"a": 1, "b": True}, {"a": None, "b": False}]) == {"a": [1, None], "b": [True, False]}
