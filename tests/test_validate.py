"""Validating a folder of dataset definitions without publishing: every problem listed, the good files kept.

Touches: corpuslake.validate and ``corpuslake validate`` on definition folders written under tmp_path (and
the committed sample definitions); no lake is read.
"""

from pathlib import Path

import pytest

from corpuslake.cli import main
from corpuslake.settings import SAMPLE_DATASETS
from corpuslake.validate import load_valid_definitions, validate_definitions

GOOD_SNAPSHOT = "name: web-en\nsource: scored\nlanguages: [en]\nredact_pii: true\n"
GOOD_RECIPE = """name: mix
target_tokens: 1000
seed: 1
sources:
  - {uri: "corpuslake://web-en@1", weight: 1}
"""


def _folder(root: Path, snapshots: dict[str, str], mixtures: dict[str, str]) -> Path:
    for kind, files in (("snapshots", snapshots), ("mixtures", mixtures)):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / kind / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good and bad definitions side by side."""
    return _folder(
        tmp_path / "datasets",
        {
            "web-en.yaml": GOOD_SNAPSHOT,
            "pii.yaml": 'name: pii\nredact_pii: "no"\n',
            "broken.yaml": "name: [unclosed\n",
            "twin-a.yaml": "name: twin\n",
            "twin-b.yaml": "name: twin\nlanguages: [en]\n",
        },
        {
            "mix.yaml": GOOD_RECIPE,
            "strings.yaml": GOOD_RECIPE.replace("name: mix", "name: strings").replace("1000", '"1000"'),
            "typo.yaml": GOOD_RECIPE.replace("name: mix", "name: typo").replace("seed: 1", "sead: 1"),
        },
    )


def test_every_problem_is_listed_with_its_file_and_key(mixed: Path) -> None:
    result = validate_definitions(mixed)
    assert not result.valid
    assert [d.name for d in result.snapshots] == ["web-en"] and [r.name for r in result.mixtures] == ["mix"]
    problems = result.problems
    assert f"{mixed}/snapshots/pii.yaml: redact_pii must be true or false, not 'no' (a string)" in problems
    broken = f"{mixed}/snapshots/broken.yaml: not valid YAML: expected ',' or ']', but got '<stream end>' at line 2"
    assert any(p.startswith(broken) for p in problems)
    assert f"{mixed}/snapshots/twin-a.yaml: snapshot name twin is defined by 2 files" in problems
    assert f"{mixed}/snapshots/twin-b.yaml: snapshot name twin is defined by 2 files" in problems
    assert (
        f"{mixed}/mixtures/strings.yaml: target_tokens must be a whole number, not '1000' (a string): remove the quotes"
        in problems
    )
    assert f"{mixed}/mixtures/typo.yaml: unknown setting 'sead' (did you mean seed?)" in problems
    assert f"{mixed}/mixtures/typo.yaml: seed is required" in problems
    assert len(problems) == 7


def test_publishing_keeps_the_good_definitions(mixed: Path) -> None:
    definitions, problems = load_valid_definitions(mixed)
    assert [d.name for d in definitions.snapshots] == ["web-en"]
    assert [r.name for r in definitions.mixtures] == ["mix"]
    assert len(problems) == 7
    # a step that publishes one kind reports the problems of that kind
    assert all("/snapshots/" in p for p in load_valid_definitions(mixed, only="snapshots")[1])
    assert all("/mixtures/" in p for p in load_valid_definitions(mixed, only="mixtures")[1])
    assert len(load_valid_definitions(mixed, only="snapshots")[1]) == 4


def test_a_mixture_may_not_share_a_snapshot_name(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"web-en.yaml": GOOD_SNAPSHOT}, {"web-en.yaml": GOOD_RECIPE.replace("mix", "web-en")})
    result = validate_definitions(folder)
    assert [d.name for d in result.snapshots] == ["web-en"] and result.mixtures == []
    assert result.problems == [f"{folder}/mixtures: web-en is also the name of a snapshot definition; rename one"]


def test_the_command_exits_0_when_valid_and_2_with_one_line_per_problem(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--datasets", str(SAMPLE_DATASETS)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "2 snapshot definition(s) and 1 mixture recipe(s) valid, 0 problem(s)" in err

    assert main(["validate", "--datasets", str(mixed)]) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 7 and all(line.startswith(str(mixed)) for line in lines)
    assert "7 problem(s)" in err

    assert main(["validate", "--datasets", str(tmp_path / "absent")]) == 2
    out, _ = capsys.readouterr()
    assert out == f"{tmp_path / 'absent'}: the dataset definitions folder does not exist\n"
