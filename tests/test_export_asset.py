"""The ``exports`` asset: published pins exported from the UI's graph, kept when already current.

Touches: assets.exports materialized in process (an ephemeral Dagster instance) against a lake under
tmp_path with one published snapshot (``web@1``, 30 rows), GPT-2's committed ``tokenizer.json``.
"""

from pathlib import Path

import dagster as dg
import pyarrow as pa

from assets.exports import exports
from corpuslake.export.manifest import read_manifest, verify_export
from corpuslake.export.registry import exports as recorded
from corpuslake.store import Lake
from orchestration.resources import ComputeResource, LakeResource
from tests.published import numbered_rows, publish_rows
from tests.test_export import GPT2


def _materialize(lake: str, folder: Path) -> dg.AssetMaterialization:
    config = {"folder": str(folder), "tokenizer": str(GPT2), "validation_fraction": 0.1}
    resources = {"lake": LakeResource(root=lake), "compute": ComputeResource(workers=1)}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [exports], instance=instance, resources=resources, run_config={"ops": {"exports": {"config": config}}}
        )
    assert result.success
    [event] = result.get_asset_materialization_events()
    return event.materialization


def _value(event: dg.AssetMaterialization, key: str) -> str:
    return str(getattr(event.metadata[key], "value", ""))


def test_exports_asset_writes_each_latest_pin_once(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    rows: pa.Table = numbered_rows("web", 30)
    publish_rows(Lake(lake), "web", rows, rows_per_file=10)
    first = _materialize(lake, tmp_path / "exports")
    target = tmp_path / "exports" / "web@1-megatron"
    manifest = read_manifest(target)
    assert verify_export(target) == []
    assert _value(first, "web@1/export_id") == manifest["export_id"]
    assert "| corpuslake://web@1 | yes |" in _value(first, "exports")
    again = _materialize(lake, tmp_path / "exports")  # current already: kept, not written again
    assert "| corpuslake://web@1 | no |" in _value(again, "exports")
    assert [r["export_id"] for r in recorded(Lake(lake), "corpuslake://web@1")] == [manifest["export_id"]]
