"""Weight vectors to try, and the regression from weights to target loss (RegMix, Liu et al. 2024).

Candidates are drawn from a Dirichlet centred on the natural (size-proportional) weights, each with its
own strength (log-uniform over a decade around ``concentration``), so some sit near the natural mix and
some near the simplex's corners. With a few dozen points a gradient-boosted model (RegMix's LightGBM)
has little to split on: a ridge regression on the weights, and one on their pairwise products, are
scored by leave-one-out error against the plainest prediction, the mean of the other runs' losses. The
best of them predicts the loss of many points drawn as the candidates were and within the candidates'
range per source (RegMix's way: a regression is not trusted far from its points), and the published
weights are the mean of the ``top_k`` best predictions. When neither regression predicts a left-out run
better than the mean does, the losses are noise at this proxy size: the published weights are then the
mean of the ``FALLBACK_RUNS`` best runs'.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import RidgeCV  # type: ignore[import-untyped,unused-ignore]  # no stubs
from sklearn.model_selection import LeaveOneOut, cross_val_predict  # type: ignore[import-untyped,unused-ignore]  # no stubs
from sklearn.pipeline import Pipeline, make_pipeline  # type: ignore[import-untyped,unused-ignore]  # no stubs
from sklearn.preprocessing import PolynomialFeatures  # type: ignore[import-untyped,unused-ignore]  # no stubs

Matrix = npt.NDArray[np.float64]
_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
FALLBACK_RUNS = 3
"""Best runs averaged when no regression beats the mean."""


def sample_weights(natural: Matrix, count: int, concentration: float, seed: int) -> Matrix:
    """``count`` weight vectors (rows summing to 1) around ``natural``."""
    rng = np.random.default_rng([seed, 1])
    strengths = concentration * len(natural) * np.exp(rng.uniform(np.log(0.3), np.log(3.0), count))
    rows = np.stack([rng.dirichlet(np.maximum(natural * s, 1e-3)) for s in strengths])
    return np.asarray(rows, np.float64)


@dataclass(frozen=True)
class Fit:
    """The chosen regression, how well it predicts points it did not see, and its prediction."""

    model: str
    """``linear``, ``quadratic`` (pairwise products of the weights) or ``mean`` (no regression beat the
    mean of the other runs: the weights are the best runs' mean)."""
    loo_mae: dict[str, float]
    """Leave-one-out mean absolute error per model tried (nats)."""
    loo_predicted: Matrix
    """Each candidate's loss predicted without it, by the chosen model."""
    points: Matrix
    """The simplex points the model was evaluated on."""
    predicted: Matrix
    """The model's loss at each point."""
    weights: Matrix
    """The mean of the ``top_k`` points with the lowest predicted loss."""
    weights_loss: float
    """The model's loss at ``weights``."""


def _within_candidates(grid: Matrix, weights: Matrix) -> Matrix:
    """The grid points whose every weight lies within the candidates' range for that source. The grid is
    drawn as the candidates were but holds far more points, so it reaches shares no candidate tried, where a
    quadratic fit extrapolates freely (a source at 0.73 when the candidates tried at most 0.24); with no
    point inside, the candidates themselves."""
    low, high = weights.min(axis=0) - 1e-12, weights.max(axis=0) + 1e-12
    inside = grid[np.all((grid >= low) & (grid <= high), axis=1)]
    return inside if len(inside) else weights


def _models() -> dict[str, Pipeline]:
    return {
        "linear": make_pipeline(RidgeCV(alphas=_ALPHAS)),
        "quadratic": make_pipeline(PolynomialFeatures(2, include_bias=False), RidgeCV(alphas=_ALPHAS)),
    }


def fit_and_predict(
    weights: Matrix, losses: Matrix, natural: Matrix, *, top_k: int, points: int, seed: int, concentration: float
) -> Fit:
    """Fit each model, keep the one with the lowest leave-one-out error, predict over ``points`` points
    drawn around the natural weights as the candidates were."""
    loo: dict[str, Matrix] = {
        name: np.asarray(cross_val_predict(model, weights, losses, cv=LeaveOneOut()), np.float64)
        for name, model in _models().items()
    }
    loo["mean"] = (losses.sum() - losses) / (len(losses) - 1)
    mae = {name: float(np.mean(np.abs(pred - losses))) for name, pred in loo.items()}
    chosen = min(mae, key=lambda name: (mae[name], name != "mean"))  # a tie goes to the plainest
    grid = sample_weights(natural, points, concentration, seed + 1)
    if chosen == "mean":
        best = weights[np.argsort(losses, kind="stable")[:FALLBACK_RUNS]].mean(axis=0)
        flat = np.full(len(grid), float(losses.mean()))
        return Fit(chosen, mae, loo[chosen], grid, flat, best / best.sum(), float(losses.mean()))
    model = _models()[chosen].fit(weights, losses)
    grid = _within_candidates(grid, weights)
    predicted = np.asarray(model.predict(grid), np.float64)
    best = grid[np.argsort(predicted, kind="stable")[:top_k]].mean(axis=0)
    best = best / best.sum()
    return Fit(chosen, mae, loo[chosen], grid, predicted, best, float(model.predict(best[None, :])[0]))
