"""A whole mixture search: proxies at sampled weights, the natural and the uniform weights, the fitted
regression, one more proxy at the predicted weights, and the predicted weights published as a mixture.

The search's id is a fingerprint of everything that decides its losses (the proxy config, the token
budget, the target, the seed, and the manifest hash of every pin read): the same id means the same
runs, so rows already in ``proxy_runs`` under it are reused, and a stopped search resumes where it
stopped. The published mixture is an ordinary recipe (one phase, the found weights) built like any
other; its lineage's upstream names the ``proxy_runs`` version that holds every run of the search, and
its report lists them.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from corpuslake import __version__
from corpuslake.datasets import publish_mixture
from corpuslake.lineage import Lineage, TableVersion, fingerprint, plain
from corpuslake.mixsearch.config import SearchDefinition
from corpuslake.mixsearch.fit import Fit, Matrix, fit_and_predict, sample_weights
from corpuslake.mixsearch.proxy import PROXY_CODE, train_and_score
from corpuslake.mixsearch.runs import TABLE, Kind, ProxyRun, read_runs, record_run
from corpuslake.mixsearch.streams import SearchTokens, mixture_stream, read_tokens
from corpuslake.parallel import Workers
from corpuslake.publish import Publication
from corpuslake.recipes import MixtureRecipe, MixtureSource, Phase
from corpuslake.store import Lake

Progress = Callable[[str], None]
"""Told one line per proxy run and step."""


@dataclass(frozen=True)
class SearchResult:
    """A finished search."""

    search: SearchDefinition
    search_id: str
    sources: tuple[str, ...]
    """The candidate pins, in the order of every weight vector."""
    runs: dict[str, ProxyRun]
    """Every proxy run, by candidate (``c00``.., ``natural``, ``uniform``, ``predicted``)."""
    fit: Fit
    proxy_runs_version: int
    """The ``proxy_runs`` version holding every run: upstream of the published mixture."""
    publication: Publication
    cpu_seconds: float
    """CPU of the proxies run now (reused rows count nothing)."""


def run_search(
    lake: Lake,
    search: SearchDefinition,
    run_id: str,
    *,
    progress: Progress | None = None,
    resume: bool = True,
    workers: Workers = 1,
) -> SearchResult:
    """Run ``search`` on ``lake`` and publish its predicted mixture (see the module's docstring)."""
    say = progress or (lambda line: None)
    tokens = read_tokens(lake, search)
    uris = tuple(sorted(search.sources))
    natural = np.array([tokens.entries[u].tokens for u in uris], np.float64)
    natural = natural / natural.sum() if natural.sum() else np.full(len(uris), 1 / len(uris))
    manifests = {uri: e.manifest_sha256 for uri, e in sorted(tokens.entries.items())}
    config = {"proxy_hash": search.proxy_fingerprint(), "manifests": manifests, "tokenizer": tokens.tokenizer}
    config["proxy_code"] = PROXY_CODE
    search_id = fingerprint(config | {"search": plain(search)})
    # each proxy's line prints its weights as a bare vector: say once which source each position is
    say(f"search {search.name} ({search_id}): {len(uris)} sources, {search.candidates} candidates")
    say(f"  weights in the order {', '.join(uris)}")
    done = read_runs(lake, search_id) if resume else {}
    runner = _Runner(lake, search, search_id, tokens, uris, run_id, say, done)
    weights = sample_weights(natural, search.candidates, search.concentration, search.seed)
    for index, row in enumerate(weights):
        runner.run(f"c{index:02d}", "candidate", row)
    runner.run("natural", "natural", natural)
    runner.run("uniform", "uniform", np.full(len(uris), 1 / len(uris)))
    candidates = [runner.runs[f"c{i:02d}"] for i in range(search.candidates)]
    observed = np.array([[r.weights[u] for u in uris] for r in candidates], np.float64)
    losses = np.array([r.target_loss for r in candidates], np.float64)
    fit = fit_and_predict(
        observed,
        losses,
        natural,
        top_k=search.top_k,
        points=search.simplex_points,
        seed=search.seed,
        concentration=search.concentration,
    )
    say(f"fit: {fit.model}, leave-one-out MAE {fit.loo_mae[fit.model]:.4f}; predicted loss {fit.weights_loss:.4f}")
    runner.run("predicted", "predicted", fit.weights, predicted_loss=fit.weights_loss)
    version = lake.version(TABLE)
    assert version is not None
    publication = publish_found(lake, search, search_id, runner.runs, version, run_id=run_id, workers=workers)
    say(f"published {publication.entry.uri} ({'new' if publication.new else 'same content'})")
    return SearchResult(search, search_id, uris, runner.runs, fit, version, publication, runner.cpu)


class _Runner:
    """Trains (or reuses) one proxy per weight vector and records each run as it finishes."""

    def __init__(
        self,
        lake: Lake,
        search: SearchDefinition,
        search_id: str,
        tokens: SearchTokens,
        uris: tuple[str, ...],
        run_id: str,
        say: Progress,
        done: dict[str, ProxyRun],
    ) -> None:
        self.lake, self.search, self.search_id, self.tokens, self.uris = lake, search, search_id, tokens, uris
        self.run_id, self.say, self.done = run_id, say, done
        self.runs: dict[str, ProxyRun] = {}
        self.cpu = 0.0
        self.proxy_config = json.dumps(
            {"proxy": plain(search.proxy), "proxy_tokens": search.proxy_tokens, "tokenizer": tokens.tokenizer},
            sort_keys=True,
        )
        self.upstream = tuple(
            sorted({TableVersion(e.table, e.delta_version) for e in tokens.entries.values()}, key=str)
        )

    def run(self, candidate: str, kind: Kind, weights: Matrix, predicted_loss: float | None = None) -> None:
        shares = {uri: float(w) for uri, w in zip(self.uris, weights, strict=True)}
        reused = self.done.get(candidate)
        shown = " ".join(f"{w:.3f}" for w in weights)
        if reused is not None and np.allclose([reused.weights[u] for u in self.uris], weights, atol=1e-9):
            self.runs[candidate] = reused
            self.say(f"  {candidate:<9} [{shown}] loss {reused.target_loss:.4f} (recorded before)")
            return
        search, context = self.search, self.search.proxy.context
        windows = mixture_stream(self.tokens, shares, search.proxy_tokens // (context + 1), context, search.seed)
        result = train_and_score(search.proxy, windows, self.tokens.target, search.seed)
        run = ProxyRun(
            search=search.name,
            search_id=self.search_id,
            candidate=candidate,
            kind=kind,
            weights=shares,
            tokens_trained=result.tokens_trained,
            target_loss=result.target_loss,
            seed=search.seed,
            proxy_config=self.proxy_config,
            proxy_hash=search.proxy_fingerprint(),
            source_manifests={u: self.tokens.entries[u].manifest_sha256 for u in self.uris},
            cpu_seconds=result.cpu_seconds,
            wall_seconds=result.wall_seconds,
            predicted_loss=predicted_loss,
        )
        lineage = Lineage(
            asset="mixture_search",
            partition=search.name,
            run_id=self.run_id,
            code_version=__version__,
            config={"search_id": self.search_id, "candidate": candidate, "proxy_hash": run.proxy_hash},
            upstream=self.upstream,
        )
        record_run(self.lake, run, lineage)
        self.runs[candidate] = run
        self.cpu += result.cpu_seconds
        self.say(f"  {candidate:<9} [{shown}] loss {result.target_loss:.4f} ({result.cpu_seconds:.1f} CPU s)")


def found_recipe(search: SearchDefinition, search_id: str, weights: dict[str, float], version: int) -> MixtureRecipe:
    """The predicted weights as a one-phase recipe (weights rounded to 4 places; a zero weight is left out)."""
    sources = tuple(MixtureSource(uri, round(w, 4)) for uri, w in sorted(weights.items()) if round(w, 4) > 0)
    return MixtureRecipe(
        name=search.mixture_name,
        target_tokens=search.recipe_tokens,
        seed=search.seed,
        phases=(Phase("main", 1.0, sources),),
        description=f"found by mixture search {search.name} (id {search_id}), its proxy runs in {TABLE}@v{version}",
        max_epochs=search.recipe_max_epochs,
    )


def publish_found(
    lake: Lake,
    search: SearchDefinition,
    search_id: str,
    runs: dict[str, ProxyRun],
    version: int,
    *,
    run_id: str,
    workers: Workers = 1,
) -> Publication:
    """Build and publish the predicted run's weights as a mixture, as the mixtures asset publishes a recipe;
    its upstream adds ``proxy_runs@v<version>`` and its report names every run."""
    recipe = found_recipe(search, search_id, dict(runs["predicted"].weights), version)
    search_part = {"search": search_report(search, search_id, runs, version)}
    return publish_mixture(
        lake, recipe, run_id, workers=workers, upstream=(TableVersion(TABLE, version),), report=search_part
    )


def search_report(
    search: SearchDefinition, search_id: str, runs: dict[str, ProxyRun], version: int
) -> dict[str, object]:
    """What a mixture found by a search says about it: the search, the table version and every run."""
    return {
        "name": search.name,
        "search_id": search_id,
        "proxy_runs": f"{TABLE}@v{version}",
        "runs": [
            {"candidate": r.candidate, "kind": r.kind, "weights": dict(r.weights), "target_loss": r.target_loss}
            for r in ordered_runs(runs.values())
        ],
    }


def ordered_runs(runs: Iterable[ProxyRun]) -> list[ProxyRun]:
    """Candidates first, then the natural, uniform and predicted runs."""
    rank = {"candidate": 0, "natural": 1, "uniform": 2, "predicted": 3}
    return sorted(runs, key=lambda r: (rank[r.kind], r.candidate))
