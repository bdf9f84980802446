"""A finished search as people read it: the runs as a Markdown table, the fit as a PNG, and the
predicted mixture's proxy loss against the natural and uniform ones.

Drawing needs matplotlib (the service's); it is imported when a plot is drawn, never at start-up.
"""

import base64
import io

import numpy as np

from corpuslake.mixsearch.fit import FALLBACK_RUNS
from corpuslake.mixsearch.search import SearchResult, ordered_runs


def runs_markdown(result: SearchResult) -> str:
    """One row per proxy run: weights per source, target loss, what the regression predicted without it."""
    short = [u.removeprefix("corpuslake://") for u in result.sources]
    lines = [
        "| run | kind | " + " | ".join(short) + " | target loss | predicted | CPU s |",
        "| --- | --- | " + " | ".join("---:" for _ in short) + " | ---: | ---: | ---: |",
    ]
    loo = {f"c{i:02d}": float(v) for i, v in enumerate(result.fit.loo_predicted)}
    for run in ordered_runs(result.runs.values()):
        guess = run.predicted_loss if run.predicted_loss is not None else loo.get(run.candidate)
        cells = " | ".join(f"{run.weights[u]:.3f}" for u in result.sources)
        shown = f"{guess:.4f}" if guess is not None else ""
        lines.append(
            f"| {run.candidate} | {run.kind} | {cells} | {run.target_loss:.4f} | {shown} | {run.cpu_seconds:.1f} |"
        )
    return "\n".join(lines)


def comparison(result: SearchResult) -> dict[str, float]:
    """Target loss of the predicted, natural and uniform proxies, and the best sampled candidate's."""
    runs = result.runs
    best = min(r.target_loss for r in runs.values() if r.kind == "candidate")
    return {
        "predicted": runs["predicted"].target_loss,
        "natural": runs["natural"].target_loss,
        "uniform": runs["uniform"].target_loss,
        "best_candidate": best,
        "predicted_by_fit": result.fit.weights_loss,
    }


def comparison_markdown(result: SearchResult) -> str:
    lines = ["| mixture | proxy target loss |", "| --- | ---: |"]
    lines += [f"| {name} | {loss:.4f} |" for name, loss in comparison(result).items()]
    fit = result.fit
    scores = ", ".join(f"{name} {mae:.4f}" for name, mae in sorted(fit.loo_mae.items()))
    lines += ["", f"Regression: **{fit.model}** (leave-one-out mean absolute error: {scores})."]
    if fit.model == "mean":
        lines.append(
            f"No regression predicted a left-out run better than the other runs' mean: the losses are mostly "
            f"noise at this proxy size, and the published weights are the mean of the {FALLBACK_RUNS} best runs'."
        )
    return "\n".join(lines)


def fit_png(result: SearchResult) -> bytes:
    """Left: each candidate's loss against the loss predicted without it. Right: the predicted loss over
    the simplex points against the first source's weight, with the runs drawn on it."""
    import matplotlib  # deferred: the engine loads without the service's plotting

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fit, runs = result.fit, result.runs
    candidates = [runs[f"c{i:02d}"] for i in range(len(fit.loo_predicted))]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4), dpi=100)
    observed = np.array([r.target_loss for r in candidates])
    left.scatter(fit.loo_predicted, observed, s=18)
    low, high = float(min(observed.min(), fit.loo_predicted.min())), float(max(observed.max(), fit.loo_predicted.max()))
    left.plot([low, high], [low, high], color="grey", linewidth=0.8)
    left.set(xlabel="predicted without it (leave-one-out)", ylabel="proxy target loss", title=f"fit: {fit.model}")
    first = result.sources[0].removeprefix("corpuslake://")
    right.scatter(fit.points[:, 0], fit.predicted, s=2, alpha=0.25, color="grey", label="predicted")
    right.scatter([r.weights[result.sources[0]] for r in candidates], observed, s=18, label="candidates")
    for name, marker in (("natural", "s"), ("uniform", "^"), ("predicted", "*")):
        run = runs[name]
        right.scatter([run.weights[result.sources[0]]], [run.target_loss], marker=marker, s=90, label=name)
    right.set(xlabel=f"weight of {first}", ylabel="target loss", title="loss over the simplex")
    right.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    pyplot.close(figure)
    return buffer.getvalue()


def fit_markdown(result: SearchResult) -> str:
    """The fit's plot embedded as a ``data:`` image, as the asset pages embed their plots."""
    encoded = base64.b64encode(fit_png(result)).decode()
    return f"![fit](data:image/png;base64,{encoded})"
