"""Tracing a range of an export's tokens or samples back to its documents.

Touches: corpuslake.trace and the ``corpuslake trace`` handler (corpuslake.trace_cli) on export folders the
tests write themselves: an ``export.json`` and sidecars (``train.docs.parquet``, ``validation.docs.parquet``)
of a crafted mixture with three dumps, two sources and scores with gaps, in row groups of 5 documents.
Every range is checked against a token-by-token expansion of the sidecar; the samples packing, the quality
deciles, the JSON and text output and the one-line errors are checked on their own.
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpuslake import cli
from corpuslake.export.manifest import write_manifest
from corpuslake.export.sidecar import DOCS
from corpuslake.trace import QualityDeciles, TraceError, open_split, overlapping, parse_range, trace_documents
from corpuslake.trace_cli import add_trace_parser

PIN = "corpuslake://mix@1"
COUNTS = [5, 3, 8, 1, 4, 6, 2, 7, 5, 3, 9, 4]  # tokens per document, EOS included
DUMPS = ["D1", "D2", "D3", "D1", "D1", "D2", "D3", "D3", "D2", "D1", "D2", "D3"]
SOURCES = ["web@1", "web@1", "hq@2", "web@1", "hq@2", "hq@2", "web@1", "hq@2", "web@1", "web@1", "hq@2", "web@1"]
SCORES = [0.5, None, 0.9, 0.1, 0.7, None, 0.3, 0.8, 0.2, 0.6, 0.4, None]
TOTAL = sum(COUNTS)  # 57


def _sidecar(counts: list[int], tag: str) -> pa.Table:
    offsets = np.cumsum([0, *counts[:-1]]).tolist()
    n = len(counts)
    return pa.table(
        {
            "document_index": list(range(n)),
            "token_offset": offsets,
            "token_count": counts,
            "pin": [PIN] * n,
            "id": [f"{tag}-{i:02d}" for i in range(n)],
            "dump": DUMPS[:n],
            "url": [None if i == 3 else f"https://example.org/{tag}/{i}" for i in range(n)],
            "source": SOURCES[:n],
            "quality": SCORES[:n],
        },
        schema=DOCS,
    )


def write_export(folder: Path, *, statistics: bool = True) -> Path:
    """An export folder as ``corpuslake export`` lays it out, without shards: the sidecars and export.json."""
    folder.mkdir(parents=True, exist_ok=True)
    train, validation = _sidecar(COUNTS, "doc"), _sidecar([6, 2], "val")
    for name, table in (("train", train), ("validation", validation)):
        pq.write_table(table, folder / f"{name}.docs.parquet", row_group_size=5, write_statistics=statistics)
    splits = {
        "train": {"prefix": "train", "documents": len(COUNTS), "tokens": TOTAL},
        "validation": {"prefix": "validation", "documents": 2, "tokens": 8},
    }
    write_manifest(folder, {"pin": PIN, "format": "megatron", "splits": splits})
    return folder


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_export(tmp_path_factory.mktemp("trace") / "export")


def expected(begin: int, end: int, counts: list[int] = COUNTS) -> list[tuple[int, int]]:
    """(document, tokens in range) from the stream expanded token by token."""
    owner = np.repeat(np.arange(len(counts)), counts)
    return sorted(Counter(owner[begin:end].tolist()).items())


def traced(export: Path, begin: int, end: int) -> list[tuple[int, int]]:
    split = open_split(export)
    return [(d["document_index"], d["tokens_in_range"]) for d in trace_documents(split, begin, end)]


@pytest.mark.parametrize(
    ("begin", "end", "documents"),
    [
        (10, 13, [(2, 3)]),  # inside one document (tokens 8..15)
        (8, 16, [(2, 8)]),  # exactly one document
        (6, 10, [(1, 2), (2, 2)]),  # across a boundary
        (16, 17, [(3, 1)]),  # a document of one token
        (19, 23, [(4, 2), (5, 2)]),  # across a row group's boundary (documents 0-4 | 5-9)
        (0, 1, [(0, 1)]),  # the first token
        (TOTAL - 1, TOTAL, [(11, 1)]),  # the last token
        (0, TOTAL, list(enumerate(COUNTS))),  # everything
    ],
)
def test_exact_documents_and_counts(export: Path, begin: int, end: int, documents: list[tuple[int, int]]) -> None:
    assert traced(export, begin, end) == documents == expected(begin, end)


def test_every_range_matches_the_token_by_token_expansion(export: Path, tmp_path: Path) -> None:
    no_statistics = write_export(tmp_path / "plain", statistics=False)  # offsets read from the column instead
    for folder in (export, no_statistics):
        split = open_split(folder)
        for begin in range(TOTAL):
            for end in range(begin + 1, TOTAL + 1, 3):
                rows = [r for t in overlapping(split, begin, end) for r in t.to_pylist()]
                assert [(r["document_index"], r["tokens_in_range"]) for r in rows] == expected(begin, end)


def test_the_validation_split_has_its_own_stream(export: Path) -> None:
    split = open_split(export, "validation")
    assert [(d["id"], d["tokens_in_range"]) for d in trace_documents(split, 5, 8)] == [("val-00", 1), ("val-01", 2)]


def test_quality_deciles_rank_each_score_among_the_scored_documents(export: Path) -> None:
    deciles = QualityDeciles(export / "train.docs.parquet")
    scored = sorted(s for s in SCORES if s is not None)  # 9 scores: 0.1 .. 0.9
    assert deciles.scored == len(scored)
    buckets = deciles.buckets([*scored, None, float("nan")])
    assert buckets == [str(1 + 10 * k // len(scored)) for k in range(len(scored))] + ["none", "none"]
    assert buckets[0] == "1" and buckets[-3] == "9"  # the highest of nine is above 8 of them: 1 + 80 // 9


def run_cli(argv: list[str]) -> int:
    """The command line with ``trace`` wired in (as corpuslake.cli does once it adds the handler)."""
    commands = [a for a in cli._parser(None)._actions if isinstance(a, argparse._SubParsersAction)]
    wired = any("trace" in a.choices for a in commands)
    return cli.main(argv, None if wired else add_trace_parser)


def test_json_lists_the_documents_and_the_totals(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["trace", str(export), "--tokens", "14:40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = expected(14, 40)
    assert [(d["document_index"], d["tokens_in_range"]) for d in out["documents"]] == want
    first = out["documents"][0]
    assert {k: first[k] for k in ("pin", "id", "dump", "source", "url")} == {
        "pin": PIN,
        "id": "doc-02",
        "dump": "D3",
        "source": "hq@2",
        "url": "https://example.org/doc/2",
    }
    totals = out["totals"]
    assert (totals["documents"], totals["tokens"]) == (len(want), 26)
    for group, values in (("dump", DUMPS), ("source", SOURCES)):
        tokens: Counter[str] = Counter()
        for document, inside in want:
            tokens[values[document]] += inside
        assert {k: v["tokens"] for k, v in totals[group].items()} == dict(tokens)
    assert sum(v["documents"] for v in totals["quality"].values()) == len(want)
    assert totals["quality"]["none"] == {"documents": 1, "tokens": 6}  # document 5, the only one without a score
    assert out["range"] == {"unit": "tokens", "asked": [14, 40], "tokens": [14, 40]} and out["pin"] == PIN


def test_samples_are_packed_back_to_back_with_one_extra_token(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # samples of 10 tokens: sample i reads tokens [10 i, 10 i + 11); 57 tokens hold (57 - 1) // 10 = 5 samples
    assert run_cli(["trace", str(export), "--samples", "1:3", "--seq-length", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(d["document_index"], d["tokens_in_range"]) for d in out["documents"]] == expected(10, 31)
    assert out["range"] == {"unit": "samples", "asked": [1, 3], "seq_length": 10, "tokens": [10, 31]}
    assert run_cli(["trace", str(export), "--samples", "4:5", "--seq-length", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["range"]["tokens"] == [40, 51]
    assert run_cli(["trace", str(export), "--samples", "5:6", "--seq-length", "10"]) == 2
    assert "samples 5:6 is outside the export: its train split holds 5 samples" in capsys.readouterr().err


def test_text_output_lists_documents_then_totals(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["trace", str(export), "--tokens", "16:17"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{PIN} train split, tokens 16:17, export ")
    assert lines[2].split() == ["3", "1", PIN, "doc-03", "D1", "web@1", "-"]  # a document without a url
    assert lines[3] == "1 tokens of 1 documents"
    assert lines[4] == "per dump:" and lines[5].split() == ["D1", "1", "documents", "1", "tokens"]
    assert lines[-2] == "per quality decile:" and lines[-1].split()[0] == "1"  # 0.1: the lowest score


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tokens", "5"], "'5' is not a range"),
        (["--tokens", "a:b"], "'a:b' is not a range"),
        (["--tokens", "7:7"], "'7:7' is not a range"),
        (["--tokens", "9:3"], "'9:3' is not a range"),
        (["--tokens=-1:4"], "'-1:4' is not a range"),
        (["--tokens", f"0:{TOTAL + 1}"], f"tokens 0:{TOTAL + 1} is outside the export: its train split holds {TOTAL}"),
        (["--tokens", "0:9", "--split", "validation"], "tokens 0:9 is outside the export: its validation split"),
        (["--samples", "0:1"], "--samples needs --seq-length"),
        (["--samples", "0:1", "--seq-length", "0"], "--seq-length must be at least 1"),
        (["--tokens", "0:1", "--seq-length", "4"], "--seq-length goes with --samples"),
    ],
)
def test_bad_ranges_are_one_line_errors(
    export: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["trace", str(export), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("corpuslake: error: ")


def test_a_missing_or_altered_sidecar_and_a_folder_that_is_no_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_export(tmp_path / "export")
    (folder / "validation.docs.parquet").unlink()
    assert run_cli(["trace", str(folder), "--tokens", "0:1", "--split", "validation"]) == 2
    assert "validation.docs.parquet is missing: the export has no sidecar for its validation split" in (
        capsys.readouterr().err
    )
    table = pq.read_table(folder / "train.docs.parquet")
    pq.write_table(table.slice(1), folder / "train.docs.parquet")
    with pytest.raises(TraceError, match=r"train\.docs\.parquet was altered"):
        open_split(folder)
    assert run_cli(["trace", str(tmp_path), "--tokens", "0:1"]) == 2
    assert "is not an export: it has no export.json" in capsys.readouterr().err
    assert run_cli(["trace", str(tmp_path / "nowhere"), "--tokens", "0:1"]) == 2
    assert "is neither a pin nor an export folder" in capsys.readouterr().err


def test_parse_range_reads_a_half_open_range() -> None:
    assert parse_range("0:4096") == (0, 4096) and parse_range("17:18") == (17, 18)
    with pytest.raises(TraceError, match="--samples '3:' is not a range"):
        parse_range("3:", "samples")


def test_the_handler_adds_one_subcommand() -> None:
    parser = argparse.ArgumentParser()
    add_trace_parser(parser.add_subparsers())
    args = parser.parse_args(["trace", "out", "--samples", "0:2", "--seq-length", "8", "--split", "validation"])
    assert (args.target, args.samples, args.seq_length, args.split, args.json) == ("out", "0:2", 8, "validation", False)
    assert args.handler.__name__ == "run_trace"
    with pytest.raises(SystemExit):
        parser.parse_args(["trace", "out", "--tokens", "0:1", "--samples", "0:1"])  # one unit, not both
