"""Weight vectors to try, and the regression from weights to target loss (RegMix, Liu et al. 2024).

Candidates are drawn from a Dirichlet centred on the natural (size-proportional) weights, each with its
own strength (log-uniform over a decade around ``concentration``), so some sit near the natural mix and
some near the simplex's corners. With a few dozen points a gradient-boosted model (RegMix's LightGBM)
has little to split on: a ridge regression on the weights, and one on their pairwise products, are
scored by leave-one-out error, and the better one predicts the loss of many simplex points; the
published weights are the mean of the ``top_k`` best predictions.
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
    """``linear`` or ``quadratic`` (pairwise products of the weights)."""
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


def _models() -> dict[str, Pipeline]:
    return {
        "linear": make_pipeline(RidgeCV(alphas=_ALPHAS)),
        "quadratic": make_pipeline(PolynomialFeatures(2, include_bias=False), RidgeCV(alphas=_ALPHAS)),
    }


def fit_and_predict(
    weights: Matrix, losses: Matrix, natural: Matrix, *, top_k: int, points: int, seed: int, concentration: float
) -> Fit:
    """Fit each model, keep the one with the lower leave-one-out error, predict over ``points`` simplex
    points (half around the natural weights as the candidates were drawn, half uniform on the simplex)."""
    loo: dict[str, Matrix] = {
        name: np.asarray(cross_val_predict(model, weights, losses, cv=LeaveOneOut()), np.float64)
        for name, model in _models().items()
    }
    mae = {name: float(np.mean(np.abs(pred - losses))) for name, pred in loo.items()}
    chosen = min(mae, key=lambda name: (mae[name], name))
    model = _models()[chosen].fit(weights, losses)
    rng = np.random.default_rng([seed, 2])
    near = sample_weights(natural, points - points // 2, concentration, seed + 1)
    spread = rng.dirichlet(np.ones(len(natural)), points // 2)
    grid = np.concatenate([near, spread])
    predicted = np.asarray(model.predict(grid), np.float64)
    best = grid[np.argsort(predicted, kind="stable")[:top_k]].mean(axis=0)
    best = best / best.sum()
    return Fit(chosen, mae, loo[chosen], grid, predicted, best, float(model.predict(best[None, :])[0]))
