"""The lake summary's content-signal and quality-score lines, counted in Arrow per dump.

Touches: corpuslake.summary.lake_summary over a lake written with the lake API (two dumps of content
signals and scores, known counts).
"""

from pathlib import Path

import pyarrow as pa
import pytest

import corpuslake.summary
from corpuslake.lineage import Lineage
from corpuslake.store import Lake
from corpuslake.summary import lake_summary


def _signals(dump: str, rows: list[tuple[int, int, int, int, int, list[str]]]) -> pa.Table:
    keys = ("pii_emails", "pii_ips", "pii_phones", "pii_cards", "badword_matches")
    columns: dict[str, list[object]] = {"id": [f"{dump}-{i}" for i in range(len(rows))], "dump": [dump] * len(rows)}
    for j, key in enumerate(keys):
        columns[key] = [r[j] for r in rows]
    columns["contaminated"] = [r[5] for r in rows]
    return pa.table(columns).cast(
        pa.schema(
            [
                ("id", pa.string()),
                ("dump", pa.string()),
                *((k, pa.int32()) for k in keys),
                ("contaminated", pa.list_(pa.string())),
            ]
        )
    )


@pytest.mark.parametrize("batch_rows", [65_536, 1])
def test_content_signals_and_scores_are_counted_per_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    monkeypatch.setattr(corpuslake.summary, "_BATCH_ROWS", batch_rows)  # 1: every row a batch of its own
    lake = Lake(str(tmp_path))
    signals = {
        "D1": [(2, 0, 0, 0, 1, []), (0, 1, 0, 0, 0, ["mmlu"]), (0, 0, 0, 0, 0, [])],
        "D2": [(1, 1, 1, 1, 3, ["arc", "mmlu"])],
    }
    scores = {"D1": [0.1, 0.5, 0.9, 0.2], "D2": [0.7]}
    for dump in ("D1", "D2"):
        lake.write_partition(
            "content_signals",
            _signals(dump, signals[dump]),
            Lineage("content_signals", dump, "r", "r", {}),
            {"dump": dump},
        )
        table = pa.table(
            {
                "id": [f"{dump}-{i}" for i in range(len(scores[dump]))],
                "dump": [dump] * len(scores[dump]),
                "quality_score": scores[dump],
            }
        )
        lake.write_partition("scored", table, Lineage("scored", dump, "r", "r", {}), {"dump": dump})
    lines = lake_summary(lake).splitlines()
    assert "  D1: 3 documents: 1 / 1 / 0 / 0 / 1 / 1" in lines
    assert "  D2: 1 documents: 1 / 1 / 1 / 1 / 1 / 1" in lines
    assert "  D1: 4 documents, mean 0.425, 50% >= 0.5" in lines
    assert "  D2: 1 documents, mean 0.700, 100% >= 0.5" in lines


@pytest.mark.parametrize("batch_rows", [65_536, 2])
def test_languages_and_rejections_add_up_across_batches_for_the_dumps_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    monkeypatch.setattr(corpuslake.summary, "_BATCH_ROWS", batch_rows)
    lake = Lake(str(tmp_path))
    languages = {"D1": ["en", "de", "en", "en", "fr", "de"], "D2": ["en"]}
    reasons = {"D1": ["short_doc", "curly_bracket", "short_doc"], "D2": ["short_doc"]}
    for dump in ("D1", "D2"):
        n = len(languages[dump])
        documents = pa.table({"id": [f"{dump}-{i}" for i in range(n)], "dump": [dump] * n, "language": languages[dump]})
        lake.write_partition("documents", documents, Lineage("documents", dump, "r", "r", {}), {"dump": dump})
        m = len(reasons[dump])
        rejected = pa.table(
            {
                "id": [f"{dump}-r{i}" for i in range(m)],
                "dump": [dump] * m,
                "stage": ["filtered"] * m,
                "filter": ["c4" if r == "curly_bracket" else "gopher_quality" for r in reasons[dump]],
                "reason": reasons[dump],
            }
        )
        lineage = Lineage("rejections", dump, "r", "r", {})
        lake.write_partition("rejections", rejected, lineage, {"dump": dump, "stage": "filtered"})
    lines = lake_summary(lake, ["D1"]).splitlines()
    assert "  D1: 6 documents (en 3, de 2, fr 1)" in lines
    assert "  D1 / filtered / gopher_quality / short_doc: 2" in lines
    assert "  D1 / filtered / c4 / curly_bracket: 1" in lines
    assert not [line for line in lines if "D2" in line]  # only the dumps asked for
    assert "  D2: 1 documents (en 1)" in lake_summary(lake).splitlines()
