"""Stein's unbiased risk estimate by finite-difference Monte-Carlo (Deledalle et al. 2014).

For y = X beta + noise with known noise level sigma (i.i.d. entries) and
predictions z(y) = X beta(y) + b(y), N the number of entries of y (n, or n T for
a multi-output Y of shape (n, T): the multi-task Lasso),

    SURE / N = ||y - z(y)||^2 / N - sigma^2 + 2 sigma^2 dof / N,
    dof ~= <delta, z(y + eps delta) - z(y)> / eps,   delta ~ N(0, I) of y's shape,

so one evaluation solves two inner problems (targets y and y + eps delta) and its
hypergradient goes through both: SURE is the sum of a criterion on each problem.
With delta fixed (``random_state``) the criterion is a deterministic function of
alpha; its mean over draws of delta is unbiased for the prediction risk
E ||X (beta(y) - beta_true)||^2 / N, up to the finite-difference bias in eps.
"""

from __future__ import annotations

import numpy as np

from hyperlasso.criteria.objectives import Fold, FoldObjective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner import datafits
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design


class ResidualAndProjection:
    """C(w, b) = weight ||y - z||^2 / N + <u, z> on the training data, z = Xw + b.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Training design (as given, not centered).
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)
        Then coef has shape (n_features,) or (n_features, n_tasks) and the
        intercept is a float or has shape (n_tasks,); N = y.size.
    weight : float
        Weight of the mean squared residual.
    u : ndarray of the shape of y
        Linear weights of the predictions.
    """

    def __init__(self, X, y: np.ndarray, weight: float, u: np.ndarray):
        self.X, self.y, self.weight, self.u = X, y, weight, u

    @property
    def n_features(self) -> int:
        """Number of features."""
        return self.X.shape[1]

    def value_and_grad(self, coef: np.ndarray, intercept=0.0):
        """Value, gradient in coef (coef's shape) and in the intercept."""
        z = np.asarray(self.X @ coef).reshape(self.y.shape) + intercept
        residual = z - self.y
        size = residual.size
        value = (self.weight * np.vdot(residual, residual) / size  # BLAS dots
                 + np.vdot(self.u, z))
        dz = 2.0 * self.weight * residual / size + self.u
        grad_coef = np.asarray(self.X.T @ dz).reshape(np.shape(coef))
        grad_intercept = dz.sum(axis=0)
        if self.y.ndim == 1:
            grad_intercept = float(grad_intercept)
        return float(value), grad_coef, grad_intercept

    def value(self, coef: np.ndarray, intercept: float = 0.0) -> float:
        """Value only."""
        return self.value_and_grad(coef, intercept)[0]


def sure_objective(model: Model, design: Design, X, y: np.ndarray, sigma: float | None,
                   settings: Settings, eps: float | None = None,
                   random_state: int | None = 0,
                   n_jobs: int | None = None) -> FoldObjective:
    """SURE (divided by the number of entries N of y) as an objective in alpha.

    Parameters
    ----------
    model : Model or BlockModel
        A model with a quadratic datafit: Lasso, ElasticNet, weighted Lasso, and
        the block models (multi-task Lasso and its weighted and ElasticNet
        versions, group Lasso).
    design : Design
        The solver's view of X (``Design.of(X, model.fit_intercept)``).
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)
    sigma : float
        Noise standard deviation of every entry of y (known or estimated, see
        ``hyperlasso.estimators.noise.estimate_noise``).
    settings : Settings
    eps : float, optional
        Finite-difference step; default 2 sigma / N^0.3 (Deledalle et al. 2014).
    random_state : int or None, default=0
        Seed of the Monte-Carlo direction delta.
    n_jobs : int or None, default=None
        2 solves the two inner problems (targets y and y + eps delta) in parallel
        threads; None means one after the other.
    """
    if model.datafit is not datafits.Quadratic:
        raise ValueError(
            f"criterion='sure' needs a quadratic datafit (lasso, elastic_net, "
            f"weighted_lasso, the multi-task and group Lassos), not {model.name}."
        )
    if sigma is None:
        raise ValueError("criterion='sure' needs the noise level: pass sigma=.")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}.")
    size = y.size
    eps = 2.0 * sigma / size**0.3 if eps is None else float(eps)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}.")
    delta = np.random.default_rng(random_state).standard_normal(y.shape)
    u = 2.0 * sigma**2 * delta / (size * eps)
    folds = [Fold(design, y, ResidualAndProjection(X, y, 1.0, -u)),
             Fold(design, y + eps * delta, ResidualAndProjection(X, y, 0.0, u))]
    return FoldObjective(model, folds, settings, n_jobs=n_jobs, reduce="sum",
                         offset=-sigma**2, all_data_fold=0)
