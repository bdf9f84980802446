"""In-process materialization of the graph on the committed fixture landing zone, into tmp_path.

Touches: the Dagster job of the one Definitions object, a test instance, a lake under tmp_path. FIXTURE-A's
serial run is the session's (tests/conftest.py ``fixture_a``): read here, copied where a test runs more.
"""

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from corpuslake.filters.chain import ORDER
from corpuslake.store import Lake
from tests.conftest import Ingested, run_ingest


def _materializations(result: Any, asset: str) -> list[dg.AssetMaterialization]:
    return list(result.asset_materializations_for_node(asset))


@pytest.mark.slow
def test_graph_builds_tables_with_reasons_and_lineage(fixture_a: Ingested, plan: dict[str, Any]) -> None:
    expected = plan["FIXTURE-A"]
    result = fixture_a.result
    assert result.success
    lake = Lake(str(fixture_a.lake))

    files = {r["source_file"]: r for r in lake.read("crawl_files").to_pylist()}
    assert {name: row["format"] for name, row in files.items()} == expected["files"]
    assert "README.txt" in (files["README.txt"]["error"] or "")
    assert sum(r["response_records"] for r in files.values()) == expected["response_records"]

    docs = lake.read("documents")
    assert docs.num_rows == expected["documents"]
    assert len(set(docs["id"].to_pylist())) == docs.num_rows
    row = next(r for r in docs.to_pylist() if r["url"] == expected["record_without_id_url"])
    assert row["warc_record_id"] is None and row["id"]  # an id from (dump, file, offset)
    assert all(r["text"] and r["language"] and r["source_file"] for r in docs.to_pylist())
    assert len(set(docs["language"].to_pylist())) >= 4  # real pages in several languages

    rejections = lake.read("rejections", filters={"stage": "documents"}).to_pylist()
    reasons = Counter(f"{r['filter']}/{r['reason']}" for r in rejections)
    assert dict(reasons) == expected["rejections"]
    assert all(r["dump"] == "FIXTURE-A" for r in rejections)

    # every document is either kept by the filters or rejected by them, with a reason
    kept = set(lake.read("filtered", columns=["id"])["id"].to_pylist())
    dropped = lake.read("rejections", filters={"stage": "filtered"}).to_pylist()
    assert kept.isdisjoint(r["id"] for r in dropped)
    assert kept | {r["id"] for r in dropped} == set(docs["id"].to_pylist())
    assert all(r["filter"] and r["reason"] and r["signals"] for r in dropped)
    assert [str(u) for u in lake.lineage("filtered", 0).upstream] == ["documents@v0"]

    # lineage in the commit: documents@v0 was built from crawl_files@v0 by this run
    lineage = lake.lineage("documents", 0)
    assert (lineage.asset, lineage.partition, lineage.run_id) == ("documents", "FIXTURE-A", result.run_id)
    assert [str(u) for u in lineage.upstream] == ["crawl_files@v0"]
    assert lineage.config["max_payload_bytes"] == expected["oversized_limit"]

    # the UI sees the data version, the counters and the checks' verdicts
    (inventory,) = _materializations(result, "crawl_files")
    assert "README.txt: not a WARC file" in str(inventory.metadata["rejected_inputs"].value)
    (mat,) = _materializations(result, "documents")
    assert (mat.tags or {})["dagster/data_version"] == "documents@v0"
    assert mat.metadata["dagster/row_count"].value == expected["documents"]
    assert mat.metadata["lake"].value == lake.root  # which lake the step wrote
    (filtered,) = _materializations(result, "filtered")
    funnel = filtered.metadata["funnel"].value
    rows = funnel.records  # type: ignore[union-attr]
    assert rows[0].data["remaining"] == expected["documents"]
    assert rows[-1].data["step"] == "documents out" and rows[-1].data["remaining"] == len(kept)
    assert sum(r.data["dropped"] for r in rows) == len(dropped)
    assert sum(filtered.metadata[f"funnel/{unit}"].value for unit in ORDER) == len(dropped)  # type: ignore[misc]
    assert "documents in" in str(filtered.metadata["funnel_chart"].value)
    (dedup,) = _materializations(result, "deduplicated")
    deduplicated = lake.read("deduplicated")
    removed = lake.read("rejections", filters={"stage": "deduplicated"}).num_rows
    assert deduplicated.num_rows + removed == len(kept)
    assert dedup.metadata["removed_exact"].value + dedup.metadata["removed_near"].value == removed  # type: ignore[operator]
    sizes = dedup.metadata["cluster_sizes"].value.records  # type: ignore[union-attr]
    assert sum(r.data["cluster_size"] * r.data["clusters"] for r in sizes) == len(kept)
    assert lake.read("minhash_index").num_rows == 15 * deduplicated.num_rows
    signals = lake.read("content_signals")
    assert sorted(signals["id"].to_pylist()) == sorted(kept)  # one row per filtered document
    (tagged,) = _materializations(result, "content_signals")
    assert tagged.metadata["dagster/row_count"].value == len(kept)
    scored = lake.read("scored")
    model = lake.read("quality_models").to_pylist()[0]
    assert scored.num_rows == deduplicated.num_rows  # scoring drops nothing
    assert set(scored["quality_model"].to_pylist()) == {model["model_hash"]}
    assert all(0.0 <= s <= 1.0 for s in scored["quality_score"].to_pylist())
    assert [str(u) for u in lake.lineage("scored", 0).upstream] == ["deduplicated@v0", "quality_models@v0"]
    assert model["precision"] > 0.85 and model["recall"] > 0.85
    assert lake.local_path(model["path"]).is_file()
    training_lineage = lake.lineage("quality_training_set", 0)
    assert len(next(iter(training_lineage.config["source_sha256"].values()))) == 64
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


@pytest.mark.slow
def test_rerun_is_idempotent_and_partitions_are_isolated(
    instance: dg.DagsterInstance, tmp_path: Path, plan: dict[str, Any], blocklist_cache: Path, fixture_a: Ingested
) -> None:
    lake_dir = shutil.copytree(fixture_a.lake, tmp_path / "lake")  # FIXTURE-A ingested once, as the session's
    assert run_ingest(instance, lake_dir, "FIXTURE-B", plan, blocklist_cache, trained=fixture_a.lake).success
    # (the copy holds the model already: ``trained`` is never copied again)
    lake = Lake(str(lake_dir))
    before = lake.read("documents", dumps=["FIXTURE-A"]).sort_by("id")
    filtered_before = lake.read("filtered", dumps=["FIXTURE-A"]).sort_by("id")
    version_before = lake.version("documents")
    assert version_before is not None
    assert run_ingest(instance, lake_dir, "FIXTURE-A", plan, blocklist_cache, trained=fixture_a.lake).success
    after = lake.read("documents", dumps=["FIXTURE-A"]).sort_by("id")
    assert lake.version("documents") == version_before + 1  # a new version ...
    assert after.equals(before)  # ... with the same rows, none duplicated
    assert lake.read("documents", dumps=["FIXTURE-B"]).num_rows == plan["FIXTURE-B"]["documents"]
    rejected = lake.read("rejections", dumps=["FIXTURE-A"], filters={"stage": "documents"})
    assert rejected.num_rows == sum(plan["FIXTURE-A"]["rejections"].values())
    assert lake.read("filtered", dumps=["FIXTURE-A"]).sort_by("id").equals(filtered_before)
    # the version read before the re-run is still readable, byte for byte the same rows
    assert lake.read("documents", version=version_before, dumps=["FIXTURE-A"]).sort_by("id").equals(before)


@pytest.mark.slow
def test_process_pool_gives_the_same_rows(
    instance: dg.DagsterInstance,
    tmp_path: Path,
    plan: dict[str, Any],
    blocklist_cache: Path,
    trained_lake: Path,
    fixture_a: Ingested,
) -> None:
    pool = tmp_path / "pool"
    assert run_ingest(instance, pool, "FIXTURE-A", plan, blocklist_cache, trained=trained_lake, workers=2).success
    serial = Lake(str(fixture_a.lake)).read("documents").sort_by("id")  # the session's run, in one process
    pooled = Lake(str(pool)).read("documents").sort_by("id")
    assert pooled.equals(serial)
    kept_serial = Lake(str(fixture_a.lake)).read("filtered").sort_by("id")
    assert Lake(str(tmp_path / "pool")).read("filtered").sort_by("id").equals(kept_serial)
