"""``corpuslake export`` and ``corpuslake verify`` on an export folder: output, errors, interruption.

Touches: corpuslake.cli (in process) on a lake under tmp_path with one small published snapshot
(``web@1``, 60 rows), exported with GPT-2's committed ``tokenizer.json``. Checks the summary printed,
the one-line errors (unknown pin, missing tokenizer, non-empty output folder, a bad fraction), that an
interrupted export leaves no folder (nor a hidden partial one) behind, and that ``verify`` names a
changed byte of an export and exits 1.
"""

import json
from pathlib import Path

import pyarrow as pa
import pytest

import corpuslake.export.splits
from corpuslake.cli import main
from corpuslake.errors import BAD_INPUT, INTERRUPTED
from corpuslake.store import Lake
from tests.published import publish_rows
from tests.test_export import GPT2


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("export-cli") / "lake")
    ids = [f"doc-{i:03d}" for i in range(60)]
    rows = pa.table(
        {
            "id": ids,
            "dump": ["D1"] * 60,
            "url": [f"https://example.org/{i}" for i in ids],
            "text": [f"Document {i} says hello to the exporter." for i in ids],
            "tokens": pa.array([8] * 60, pa.int32()),
        }
    )
    publish_rows(Lake(root), "web", rows, rows_per_file=25)
    return root


def _export(lake: str, out: Path, *more: str) -> int:
    return main(["export", "corpuslake://web@1", "--lake", lake, "--tokenizer", str(GPT2), "--out", str(out), *more])


def test_export_prints_its_splits_and_verify_passes(
    lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _export(lake, out, "--workers", "1", "--validation-fraction", "0.1") == 0
    printed = capsys.readouterr().out
    assert f"corpuslake://web@1 -> {out} (megatron, export " in printed
    assert "tokenizer: huggingface tokenizer.json sha256:" in printed
    assert "train " in printed and "validation " in printed
    assert main(["verify", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: 0 problem(s), intact"
    # The lake records the export beside its pin: `resolve` lists it.
    export_id = json.loads((out / "export.json").read_text(encoding="utf-8"))["export_id"]
    assert main(["resolve", "corpuslake://web@1", "--lake", lake]) == 0
    assert f"  export {export_id[:16]}  megatron  tokenizer.json sha256:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # a pin the lake has never published: named, with what there is
        (["export", "corpuslake://nope@1", "--tokenizer", str(GPT2)], "no snapshot named 'nope'"),
        # a tokenizer file that is not there
        (
            ["export", "corpuslake://web@1", "--tokenizer", "missing/tokenizer.json"],
            "missing/tokenizer.json does not exist",
        ),
        # a fraction outside [0, 1)
        (["export", "corpuslake://web@1", "--validation-fraction", "1.5"], "validation fraction must be in [0, 1)"),
    ],
)
def test_bad_input_is_one_line(
    lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main([*arguments, "--lake", lake, "--out", str(tmp_path / "out")]) == BAD_INPUT
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("corpuslake: error: ")
    assert not (tmp_path / "out").exists()


def test_a_non_empty_folder_needs_overwrite(lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _export(lake, out) == BAD_INPUT
    assert "exists and is not empty" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"
    assert _export(lake, out, "--workers", "1", "--overwrite") == 0
    assert not (out / "notes.txt").exists() and (out / "export.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no partial or old folder left beside it


def test_an_interrupted_export_leaves_nothing(
    lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = corpuslake.export.splits.tokenize
    calls = []

    def interrupted(job: corpuslake.export.splits.TokenizeJob) -> object:
        calls.append(job.index)
        if len(calls) == 2:  # Ctrl-C while the second batch is tokenized: the first is already written
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(corpuslake.export.splits, "tokenize", interrupted)
    out = tmp_path / "out"
    assert (
        main(
            [
                "export",
                "corpuslake://web@1",
                "--lake",
                lake,
                "--tokenizer",
                str(GPT2),
                "--out",
                str(out),
                "--workers",
                "1",
            ]
        )
        == INTERRUPTED
    )
    assert "export interrupted: nothing was written to" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_verify_names_a_changed_byte(lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert _export(lake, out, "--workers", "1", "--format", "datatrove", "--no-eos", "--bos") == 0
    capsys.readouterr()
    data = bytearray((out / "train.ds").read_bytes())
    data[-1] ^= 0xFF
    (out / "train.ds").write_bytes(bytes(data))
    assert main(["verify", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"DAMAGED  {out / 'train.ds'} was altered: its SHA-256 differs from export.json",
        f"{out}: 1 problem(s)",
    ]


def test_a_lock_file_exports_the_pin_it_locks(lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("dataset: corpuslake://web@1\n", encoding="utf-8")
    assert main(["lock", str(config), "--lake", lake]) == 0
    lock = tmp_path / "train.corpuslake.lock"
    out = tmp_path / "out"
    assert main(["export", str(lock), "--tokenizer", str(GPT2), "--out", str(out), "--workers", "1"]) == 0
    assert json.loads((out / "export.json").read_text(encoding="utf-8"))["pin"] == "corpuslake://web@1"
