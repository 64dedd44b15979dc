"""Hyperparameters in log scale: theta = log(alpha), default start and bounds.

Outer optimizers work on theta, where positivity is free and the scales of
penalties (often spread over decades) are even: dC/dtheta = alpha * dC/dalpha.
Defaults: start at alpha_max / 10, bounds [alpha_max 1e-3, alpha_max] for l1
weights (see ``LOWER``); the l2 weight of the ElasticNet is scaled by the mean
curvature L = mean_j ||X_j||^2 / n of the datafit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hyperlasso.criteria.objectives import Evaluation
from hyperlasso.inner.problem import Design

#: Lower bound of l1 weights, relative to alpha_max (scikit-learn's path stops at
#: 1e-3 too). At 1e-4 a single solve on diabetes with degree-3 features took 10 s
#: (207520 epochs, collinear columns) against 0.15 s at 1e-3, and L-BFGS line
#: searches do visit the bound: LassoCV took 92 s there, scikit-learn 5.5 s.
LOWER = 1e-3
#: Start of l1 weights, relative to alpha_max.
START = 0.1
#: Bounds and start of the ElasticNet's l2 weight, relative to L.
L2_BOUNDS = (1e-4, 1e2)
L2_START = 1e-1


@dataclass(frozen=True)
class Space:
    """Start point and bounds in theta, and the shape of alpha.

    Attributes
    ----------
    theta0 : ndarray of shape (n_hyperparameters,)
    bounds : ndarray of shape (n_hyperparameters, 2)
    shape : tuple
        Shape of alpha: () for one penalty, (2,) for the ElasticNet, (p,) ...
    """

    theta0: np.ndarray
    bounds: np.ndarray
    shape: tuple

    def alpha(self, theta) -> float | np.ndarray:
        """alpha = exp(theta), in the model's shape."""
        alpha = np.exp(np.asarray(theta, dtype=float)).reshape(self.shape)
        return float(alpha) if self.shape == () else alpha

    def theta(self, alpha) -> np.ndarray:
        """theta = log(alpha), flat."""
        return np.log(np.asarray(alpha, dtype=float)).ravel()

    def starting_at(self, alpha) -> Space:
        """The same space started at ``alpha`` (checked against the bounds later)."""
        alpha = _positive(alpha, "alpha_init")
        return replace(self, theta0=self.theta(np.broadcast_to(alpha, self.shape)))

    def bounded_by(self, bounds) -> Space:
        """The same space within ``bounds``: a pair (low, high) for every component,
        or one pair per component, shape (n_hyperparameters, 2)."""
        bounds = _positive(bounds, "alpha_bounds")
        try:
            bounds = np.broadcast_to(bounds, self.bounds.shape)
        except ValueError:
            raise ValueError(f"alpha_bounds must be a pair (low, high) or have shape "
                             f"{self.bounds.shape}, got shape {bounds.shape}.") from None
        if np.any(bounds[:, 0] >= bounds[:, 1]):
            raise ValueError(f"alpha_bounds must have low < high, got {bounds.tolist()}.")
        return replace(self, bounds=np.log(bounds))


def _positive(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        raise ValueError(f"{name} must be positive and finite, got {values.tolist()}.")
    return values


#: Bounds of the SVM's and SVR's C relative to ``reference_C`` (1 / mean ||x_i||^2,
#: where it starts): from nearly all samples at the margin's bound to nearly hard.
C_BOUNDS = (1e-3, 1e4)
#: Start and bounds of the SVR's epsilon relative to the standard deviation of y.
EPSILON_START = 0.1
EPSILON_BOUNDS = (1e-4, 1.0)


def _dual_space(model, design: Design, y: np.ndarray) -> Space:
    """C (and the SVR's epsilon) in log scale (``C_BOUNDS``, ``EPSILON_BOUNDS``)."""
    ref = model.reference_C(design)
    c = [np.log(ref), *np.log(np.array(C_BOUNDS) * ref)]
    if model.layout != "svr":
        return Space(np.array([c[0]]), np.array([c[1:]]), ())
    scale = float(np.std(y))
    if scale <= 0:
        raise ValueError("y is constant on the training data: epsilon has no scale.")
    e = [np.log(EPSILON_START * scale), *np.log(np.array(EPSILON_BOUNDS) * scale)]
    return Space(np.array([c[0], e[0]]), np.array([c[1:], e[1:]]), (2,))


def default_space(model, design: Design, y: np.ndarray) -> Space:
    """Start and bounds for ``model`` on ``(design, y)`` (see the module docstring)."""
    if model.layout in ("svm", "svr"):
        return _dual_space(model, design, y)
    amax = float(np.max(model.alpha_max(design, y)))
    if amax <= 0:
        raise ValueError("alpha_max is 0: y is constant (or X is zero) on the training "
                         "data, there is nothing to tune.")
    l1 = [np.log(START * amax), np.log(LOWER * amax), np.log(amax)]
    if model.layout == "l1_l2":
        curvature = float(np.mean(design.col_sq_norms)) / design.shape[0]
        l2 = [np.log(L2_START * curvature), *np.log(np.array(L2_BOUNDS) * curvature)]
        return Space(np.array([l1[0], l2[0]]), np.array([l1[1:], l2[1:]]), (2,))
    if model.layout == "per_unit":  # one penalty per feature or group
        k = np.size(model.alpha_max(design, y))
        bounds = np.tile([l1[1], np.log(10 * amax)], (k, 1))
        return Space(np.full(k, l1[0]), bounds, (k,))
    return Space(np.array([l1[0]]), np.array([l1[1:]]), ())


@dataclass
class LogScale:
    """An objective in alpha seen in theta = log(alpha), by the chain rule."""

    objective: object
    space: Space

    def value_and_grad(self, theta) -> Evaluation:
        """Value and dC/dtheta = alpha * dC/dalpha (flat)."""
        alpha = self.space.alpha(theta)
        evaluation = self.objective.value_and_grad(alpha)
        gradient = (np.asarray(alpha) * np.asarray(evaluation.gradient)).ravel()
        return replace(evaluation, gradient=gradient)

    def value(self, theta) -> Evaluation:
        """Value only."""
        return self.objective.value(self.space.alpha(theta))

    def values(self, thetas) -> list[Evaluation]:
        """Values at several points (in parallel where the objective can)."""
        alphas = [self.space.alpha(theta) for theta in thetas]
        if callable(getattr(self.objective, "values", None)):
            return self.objective.values(alphas)
        return [self.objective.value(alpha) for alpha in alphas]

    @property
    def tolerance(self) -> float:
        """The objective's inner tolerance."""
        return self.objective.tolerance

    def set_tolerance(self, tol: float) -> None:
        """Forward to the objective."""
        self.objective.set_tolerance(tol)
