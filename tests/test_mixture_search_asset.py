"""The ``mixture_search`` asset and ``corpuslake search-mixture``: what a person sees of a search, and a
stopped search.

Touches: assets.mixture_search materialized in process (an ephemeral Dagster instance) and the command's
parser and handler, on the mixtures tests' lake with the tiny search of tests/test_mixture_search.py; a
proxy run interrupted by a KeyboardInterrupt raised from the trainer.
"""

import argparse
import base64
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from assets.mixture_search import mixture_search
from corpuslake.catalog import Catalog
from corpuslake.errors import InterruptedRunError
from corpuslake.mixsearch.cli import add_search_parser
from corpuslake.mixsearch.proxy import train_and_score
from corpuslake.mixsearch.runs import TABLE
from corpuslake.store import Lake
from orchestration.resources import ComputeResource, DatasetsResource, LakeResource
from tests.test_mixture_search import tiny
from tests.test_mixtures import lake
from tests.test_snapshots import texts, tokenizer

__all__ = ["lake", "texts", "tokenizer"]  # the shared fixtures


def _value(event: dg.AssetMaterialization, key: str) -> Any:
    return getattr(event.metadata[key], "value", None)


def test_the_asset_shows_runs_fit_and_comparison(lake: Lake, tmp_path: Path) -> None:
    folder = tmp_path / "datasets"
    (folder / "searches").mkdir(parents=True)
    (folder / "searches" / "tiny.yaml").write_text(yaml.safe_dump(tiny()), encoding="utf-8")
    resources = {
        "lake": LakeResource(root=lake.root),
        "datasets": DatasetsResource(folder=str(folder)),
        "compute": ComputeResource(workers=1),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize([mixture_search], instance=instance, resources=resources)
    assert result.success
    [event] = [e.materialization for e in result.get_asset_materialization_events()]
    assert _value(event, "pins") == "corpuslake://tiny-found@1"
    runs = str(_value(event, "tiny/runs"))
    for candidate in ("c00", "c01", "c02", "natural", "uniform", "predicted"):
        assert f"| {candidate} |" in runs
    assert "| predicted |" in str(_value(event, "tiny/comparison"))
    fit = str(_value(event, "tiny/fit"))
    assert base64.b64decode(fit.split("base64,")[1].rstrip(")")).startswith(b"\x89PNG")
    assert isinstance(_value(event, "tiny/natural_loss"), float)


def _command(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_search_parser(parser.add_subparsers(), "lake root")
    return parser.parse_args(argv)


def test_ctrl_c_keeps_finished_runs_and_publishes_nothing(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny()), encoding="utf-8")
    real = train_and_score
    calls: list[int] = []

    def stopped_at_the_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("corpuslake.mixsearch.search.train_and_score", stopped_at_the_second)
    args = _command(["search-mixture", str(path), "--lake", lake.root])
    with pytest.raises(InterruptedRunError, match="interrupted"):
        args.handler(args)
    # One finished run, one committed version of it; nothing published.
    assert len(lake.read(TABLE).to_pylist()) == 1
    assert Catalog(lake).latest("tiny-found") is None
    # Run again: the finished run is reused, the others trained, the mixture published.
    monkeypatch.setattr("corpuslake.mixsearch.search.train_and_score", real)
    assert args.handler(args) == 0
    out = capsys.readouterr()
    assert "corpuslake://tiny-found@1" in out.out
    assert "c00" in out.err and "recorded before" in out.err
    assert len(lake.read(TABLE).to_pylist()) == 6
