"""An asset's code version is its stage's STAGE_VERSION: bumping the stage (whose output changed for the
same input) gives the asset a new code version in the UI, and the two cannot drift apart.

Touches: every corpuslake module defining STAGE_VERSION (found by reading the sources), the asset
definitions of the code location, and the asset modules' source (read, not run).
"""

import ast
import importlib
from pathlib import Path

import dagster as dg

from corpuslake.settings import Settings
from orchestration.definitions import build_definitions

ROOT = Path(__file__).resolve().parent.parent
# Stage modules that do not name their asset in a STAGE constant.
ASSET_OF = {
    "corpuslake.policies.run": "content_signals",
    "corpuslake.stages.crawl_files": "crawl_files",
    "corpuslake.domains.run": "domains",  # and domain_model, which trains what it labels with
    "corpuslake.perplexity.stage": "perplexity",
    "corpuslake.quality.model_scores": "model_scores",
}


def _stage_versions() -> dict[str, str]:
    """The asset each stage module with a STAGE_VERSION feeds, and that version."""
    versions = {}
    for path in sorted((ROOT / "corpuslake").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
        }
        if "STAGE_VERSION" not in names:
            continue
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(module_name)
        asset = ASSET_OF.get(module_name) or getattr(module, "STAGE", None)
        assert asset, f"{module_name} has a STAGE_VERSION but names no asset (add it to ASSET_OF)"
        versions[asset] = module.STAGE_VERSION
    return versions


def test_every_asset_with_a_stage_version_has_it_as_its_code_version(tmp_path: Path) -> None:
    versions = _stage_versions()
    assert {"crawl_files", "documents", "filtered", "deduplicated", "content_signals"} <= set(versions)
    settings = Settings(lake=str(tmp_path / "lake"), landing=str(tmp_path), dagster_home=str(tmp_path / "home"))
    definitions = build_definitions(settings)
    graph = definitions.resolve_asset_graph()
    for asset, version in versions.items():
        assert graph.get(dg.AssetKey(asset)).code_version == version, asset


def test_the_asset_modules_name_the_constant_not_a_copy_of_it() -> None:
    for asset in _stage_versions():
        source = ast.parse((ROOT / "assets" / f"{asset}.py").read_text(encoding="utf-8"))
        given = [
            k.value
            for node in ast.walk(source)
            if isinstance(node, ast.Call)
            for k in node.keywords
            if k.arg == "code_version"
        ]
        assert given and all(isinstance(v, ast.Name) and v.id == "STAGE_VERSION" for v in given), asset
