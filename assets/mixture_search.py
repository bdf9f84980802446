"""Mixture weights found by proxy runs: every search under the definitions' ``searches/`` folder."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from orchestration.resources import ComputeResource, DatasetsResource, LakeResource

if TYPE_CHECKING:
    from corpuslake.mixsearch.search import SearchResult


def _metadata(result: "SearchResult") -> dict[str, Any]:
    from corpuslake.mixsearch.report import comparison, comparison_markdown, fit_markdown, runs_markdown

    name = result.search.name
    metadata: dict[str, Any] = {
        f"{name}/pin": result.publication.entry.uri,
        f"{name}/search_id": result.search_id,
        f"{name}/proxy_runs": f"proxy_runs@v{result.proxy_runs_version}",
        f"{name}/runs": dg.MetadataValue.md(runs_markdown(result)),
        f"{name}/comparison": dg.MetadataValue.md(comparison_markdown(result)),
        f"{name}/fit": dg.MetadataValue.md(fit_markdown(result)),
        f"{name}/cpu_seconds": round(result.cpu_seconds, 1),
    }
    for mixture, loss in comparison(result).items():
        metadata[f"{name}/{mixture}_loss"] = round(loss, 4)
    return metadata


@dg.asset(deps=["snapshots"], group_name="publish", kinds={"deltalake", "torch"}, code_version="1")
def mixture_search(
    context: dg.AssetExecutionContext, lake: LakeResource, datasets: DatasetsResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """Mixture weights found by proxy runs (RegMix-style). For each search definition: one small language
    model per sampled weight vector over its pinned sources, each run's target loss a row of ``proxy_runs``
    (keyed by search and candidate); a regression from weights to loss; the predicted best weights
    published as a mixture whose lineage names the ``proxy_runs`` version, and one more proxy trained at
    them, compared with the natural (size-proportional) and uniform mixtures'."""
    # deferred: the search trains torch models; the code location loads without torch and scikit-learn
    from corpuslake.mixsearch.config import load_searches
    from corpuslake.mixsearch.search import run_search

    store, workers = lake.lake(), compute.resolved_workers()
    metadata: dict[str, Any] = {"lake": store.root}
    pins: list[str] = []
    for search in load_searches(Path(datasets.folder) / "searches"):
        result = run_search(store, search, context.run.run_id, progress=context.log.info, workers=workers)
        metadata |= _metadata(result)
        pins.append(result.publication.entry.uri)
    metadata["pins"] = ", ".join(pins) or "(no search defined)"
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(", ".join(pins) or "none"))
