"""Stein's unbiased risk estimate by finite-difference Monte-Carlo (Deledalle et al. 2014).

For y = X beta + noise with known noise level sigma and predictions
z(y) = X beta(y) + b(y),

    SURE / n = ||y - z(y)||^2 / n - sigma^2 + 2 sigma^2 dof / n,
    dof ~= delta^T (z(y + eps delta) - z(y)) / eps,   delta ~ N(0, I_n),

so one evaluation solves two inner problems (targets y and y + eps delta) and its
hypergradient goes through both: SURE is the sum of a criterion on each problem.
"""

from __future__ import annotations

import numpy as np

from hyperlasso.criteria.objectives import Fold, FoldObjective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner import datafits
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design


class ResidualAndProjection:
    """C(w, b) = weight ||y - z||^2 / n + u^T z on the training data, z = Xw + b.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Training design (as given, not centered).
    y : ndarray of shape (n_samples,)
    weight : float
        Weight of the mean squared residual.
    u : ndarray of shape (n_samples,)
        Linear weights of the predictions.
    """

    def __init__(self, X, y: np.ndarray, weight: float, u: np.ndarray):
        self.X, self.y, self.weight, self.u = X, y, weight, u

    @property
    def n_features(self) -> int:
        """Number of features."""
        return self.X.shape[1]

    def value_and_grad(self, coef: np.ndarray, intercept: float = 0.0):
        """Value, gradient in coef (n_features,) and in the intercept."""
        z = np.asarray(self.X @ coef).ravel() + intercept
        residual = z - self.y
        n = residual.shape[0]
        value = self.weight * np.dot(residual, residual) / n + np.dot(self.u, z)
        dz = 2.0 * self.weight * residual / n + self.u
        return float(value), np.asarray(self.X.T @ dz).ravel(), float(np.sum(dz))

    def value(self, coef: np.ndarray, intercept: float = 0.0) -> float:
        """Value only."""
        return self.value_and_grad(coef, intercept)[0]


def sure_objective(model: Model, design: Design, X, y: np.ndarray, sigma: float | None,
                   settings: Settings, eps: float | None = None,
                   random_state: int | None = 0) -> FoldObjective:
    """SURE (divided by n) as an objective in alpha.

    Parameters
    ----------
    model : Model
        A model with a quadratic datafit (Lasso, ElasticNet, weighted Lasso).
    design : Design
        The solver's view of X (``Design.of(X, model.fit_intercept)``).
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sigma : float
        Noise standard deviation (known or estimated, see ``estimate_noise``).
    settings : Settings
    eps : float, optional
        Finite-difference step; default 2 sigma / n^0.3 (Deledalle et al. 2014).
    random_state : int or None, default=0
        Seed of the Monte-Carlo direction delta.
    """
    if model.datafit is not datafits.Quadratic:
        raise ValueError(
            f"criterion='sure' needs a quadratic datafit (lasso, elastic_net, "
            f"weighted_lasso), not {model.name}."
        )
    if model.kind != "separable":
        raise ValueError(f"criterion='sure' is not available for {model.name} yet "
                         "(multi-output SURE is issue #11); use 'cv' or 'holdout'.")
    if sigma is None:
        raise ValueError("criterion='sure' needs the noise level: pass sigma=.")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}.")
    n = y.shape[0]
    eps = 2.0 * sigma / n**0.3 if eps is None else float(eps)
    delta = np.random.default_rng(random_state).standard_normal(n)
    u = 2.0 * sigma**2 * delta / (n * eps)
    folds = [Fold(design, y, ResidualAndProjection(X, y, 1.0, -u)),
             Fold(design, y + eps * delta, ResidualAndProjection(X, y, 0.0, u))]
    return FoldObjective(model, folds, settings, reduce="sum", offset=-sigma**2)
