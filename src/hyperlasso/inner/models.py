"""Models: a datafit and a map from hyperparameters alpha to penalty weights.

A model says three things about its hyperparameters alpha and nothing else:

- ``penalty(alpha, p)`` -> ``(lam, l2)``, the weights of the inner problem;
- ``directions(alpha, p)`` -> ``(dlam, dl2)``, the derivatives of those weights in
  each component of alpha (for forward-mode methods);
- ``pullback(g_lam, g_l2, alpha)`` -> the gradient in alpha from the gradient in
  ``(lam, l2)`` (for reverse-mode methods), same shape as alpha.

The math of the hypergradient methods lives in ``hyperlasso.hypergradients`` and
works on ``(lam, l2)`` only, so it is written once for every model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperlasso.inner import datafits, penalties
from hyperlasso.inner.problem import Design, InnerProblem
from hyperlasso.inner.solver import solve


def check_positive_alpha(alpha: np.ndarray, name: str = "alpha") -> None:
    """Raise a ValueError naming ``name`` unless every entry is positive and finite."""
    if not np.all(np.isfinite(alpha)):
        raise ValueError(f"{name} must be finite, got {alpha}.")
    if np.any(alpha <= 0):
        raise ValueError(f"{name} must be positive, got {alpha}.")


@dataclass(frozen=True)
class Model:
    """Base class: a datafit and a penalty parameterization.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an unpenalized intercept.
    """

    fit_intercept: bool = True
    datafit = datafits.Quadratic
    #: The penalty class (``penalties``) the weights ``penalty(alpha)`` build.
    penalty_type = penalties.L1L2
    name = "model"
    kind = "separable"
    #: Whether coefficients have shape (n_features, n_tasks) for the criteria.
    multi_output = False
    #: How alpha is laid out: "scalar" (one penalty), "per_unit" (one per feature
    #: or group) or "l1_l2" (an l1 and an l2 weight); the default search space
    #: (``hyperlasso.hyperparameters``) follows it.
    layout = "scalar"

    @property
    def held_out(self) -> str:
        """The held-out loss of criterion "cv" and "holdout" (``criteria.splits``)."""
        return "logistic" if self.datafit.classifier else "mse"

    def check_alpha(self, alpha, n_features: int) -> np.ndarray:
        """Validate alpha; return it as a float64 array of the model's shape."""
        raise NotImplementedError

    def penalty(self, alpha: np.ndarray, n_features: int) -> tuple[np.ndarray, float]:
        """Return ``(lam, l2)``: l1 weights of shape (p,) and the l2 weight."""
        raise NotImplementedError

    def directions(self, alpha: np.ndarray, n_features: int):
        """Return ``(dlam, dl2)`` of shapes (p, k) and (k,), k = alpha.size."""
        raise NotImplementedError

    def pullback(self, g_lam: np.ndarray, g_l2: float, alpha: np.ndarray):
        """Gradient in alpha (shape of alpha) from gradients in lam (p,) and l2."""
        raise NotImplementedError

    def directions_on(self, alpha: np.ndarray, n_features: int, support: np.ndarray):
        """The components of alpha that move the weights on ``support``.

        Returns
        -------
        active : ndarray of int, shape (k,)
            Indices into alpha.ravel().
        dlam : ndarray of shape (len(support), k)
        dl2 : ndarray of shape (k,)
        """
        dlam, dl2 = self.directions(alpha, n_features)
        active = np.flatnonzero(np.any(dlam[support] != 0, axis=0) | (dl2 != 0))
        return active, dlam[np.ix_(support, active)], dl2[active]

    def check_target(self, y: np.ndarray) -> np.ndarray:
        """Validate and convert the target for the datafit."""
        return np.asarray(y, dtype=np.float64)

    def problem(self, alpha: np.ndarray, design: Design, y: np.ndarray) -> InnerProblem:
        """The inner problem at ``alpha`` (validated) on ``(design, y)``."""
        lam, l2 = self.penalty(alpha, design.shape[1])
        return InnerProblem(design, y, self.datafit, lam, l2, self.fit_intercept,
                            self.penalty_type)

    def user_point(self, coef: np.ndarray, intercept: float):
        """(coef, intercept) as criteria take them (as solved, for these models)."""
        return coef, intercept

    def criterion_point(self, problem, solution) -> tuple:
        """(coef, intercept) of ``solution`` of ``problem`` as criteria take them."""
        return self.user_point(solution.coef, solution.intercept)

    def solve(self, problem: InnerProblem, **options):
        """Solve the model's problem (options of :func:`hyperlasso.inner.solver.solve`)."""
        return solve(problem, **options)

    def alpha_max(self, design: Design, y: np.ndarray):
        """Smallest alpha with an all-zero solution (per feature for weighted models).

        ``||X^T grad F(b0)||_inf``, the gradient of the datafit at w = 0 with the
        optimal intercept b0; for the ElasticNet it bounds the l1 weight.
        """
        unit = self.problem(self._unit_alpha(design.shape[1]), design, y)
        return float(np.max(np.abs(unit.gradient_at_zero()), initial=0.0))

    def _unit_alpha(self, n_features: int) -> np.ndarray:
        return np.ones(1)


class _ScalarL1:
    """alpha is one positive number: lam_j = alpha for all j, no l2."""

    def check_alpha(self, alpha, n_features):
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.size != 1:
            raise ValueError(
                f"alpha must be a single positive number for {self.name}, "
                f"got shape {alpha.shape}."
            )
        check_positive_alpha(alpha)
        return alpha.reshape(())

    def penalty(self, alpha, n_features):
        return np.full(n_features, float(alpha)), 0.0

    def directions(self, alpha, n_features):
        return np.ones((n_features, 1)), np.zeros(1)

    def pullback(self, g_lam, g_l2, alpha):
        return np.asarray(np.sum(g_lam)).reshape(np.shape(alpha))

    def _unit_alpha(self, n_features):
        return np.ones(())


@dataclass(frozen=True)
class Lasso(_ScalarL1, Model):
    """Lasso: ||y - Xw - b||^2 / (2n) + alpha ||w||_1. alpha: a positive float."""

    name = "lasso"


@dataclass(frozen=True)
class SparseLogisticRegression(_ScalarL1, Model):
    """(1/n) sum_i log(1 + exp(-y_i (x_i.w + b))) + alpha ||w||_1, y in {-1, 1}.

    Any two-class target is accepted: its smaller label is mapped to -1.
    """

    name = "sparse_logreg"
    datafit = datafits.Logistic

    def check_target(self, y):
        return binary_labels(y, "y")


@dataclass(frozen=True)
class WeightedLasso(Model):
    """||y - Xw - b||^2 / (2n) + sum_j alpha_j |w_j|. alpha: shape (n_features,)."""

    name = "weighted_lasso"
    layout = "per_unit"

    def check_alpha(self, alpha, n_features):
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.ndim == 0:
            alpha = np.full(n_features, float(alpha))
        if alpha.shape != (n_features,):
            raise ValueError(
                f"alpha must have shape (n_features,) = ({n_features},) for the "
                f"weighted Lasso, got shape {alpha.shape}."
            )
        check_positive_alpha(alpha)
        return alpha

    def penalty(self, alpha, n_features):
        return np.array(alpha, dtype=np.float64), 0.0

    def directions(self, alpha, n_features):
        return np.eye(n_features), np.zeros(n_features)

    def pullback(self, g_lam, g_l2, alpha):
        return np.asarray(g_lam, dtype=np.float64).copy()

    def directions_on(self, alpha, n_features, support):
        # alpha_j moves lam_j only: no p x p identity is ever formed.
        return support, np.eye(support.size), np.zeros(support.size)

    def alpha_max(self, design, y):
        """Per-feature thresholds |X_j^T grad F(b0)|, shape (n_features,)."""
        unit = self.problem(np.ones(design.shape[1]), design, y)
        return np.abs(unit.gradient_at_zero())

    def _unit_alpha(self, n_features):
        return np.ones(n_features)


@dataclass(frozen=True)
class ElasticNet(Model):
    """||y - Xw - b||^2 / (2n) + alpha[0] ||w||_1 + alpha[1] / 2 ||w||^2.

    scikit-learn's ``ElasticNet(alpha=a, l1_ratio=r)`` is ``alpha = (a r, a (1 - r))``.
    """

    name = "elastic_net"
    layout = "l1_l2"

    def check_alpha(self, alpha, n_features):
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.shape != (2,):
            raise ValueError(
                "alpha must be a pair (l1 weight, l2 weight) for the ElasticNet, "
                f"got shape {alpha.shape}."
            )
        check_positive_alpha(alpha)
        return alpha

    def penalty(self, alpha, n_features):
        return np.full(n_features, alpha[0]), float(alpha[1])

    def directions(self, alpha, n_features):
        dlam = np.zeros((n_features, 2))
        dlam[:, 0] = 1.0
        return dlam, np.array([0.0, 1.0])

    def pullback(self, g_lam, g_l2, alpha):
        return np.array([np.sum(g_lam), g_l2])

    def _unit_alpha(self, n_features):
        return np.ones(2)


MODELS = {
    "lasso": Lasso,
    "elastic_net": ElasticNet,
    "enet": ElasticNet,
    "weighted_lasso": WeightedLasso,
    "wlasso": WeightedLasso,
    "sparse_logreg": SparseLogisticRegression,
    "logreg": SparseLogisticRegression,
}


def make_model(model) -> Model:
    """Resolve a model name or instance.

    Parameters
    ----------
    model : str or Model
        One of ``"lasso"``, ``"elastic_net"``, ``"weighted_lasso"``,
        ``"sparse_logreg"`` (aliases ``"enet"``, ``"wlasso"``, ``"logreg"``), or a
        :class:`Model` instance.
    """
    if isinstance(model, Model):
        return model
    if isinstance(model, str) and model in MODELS:
        return MODELS[model]()
    raise ValueError(
        f"model must be one of {sorted(MODELS)} or a hyperlasso Model instance, "
        f"got {model!r}."
    )


def binary_labels(y, name: str = "y") -> np.ndarray:
    """Map a two-class target to {-1, 1} (the smaller label to -1).

    Labels already in {-1, 1} or {0, 1} keep their meaning even when only one
    class is present; any other target with more than two values is an error.
    """
    y = np.asarray(y)
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or inf.")
    labels = np.unique(y)
    if labels.size > 2:
        raise ValueError(
            f"{name} must be binary for logistic models, got {labels.size} classes."
        )
    if labels.dtype.kind in "biuf" and set(labels.tolist()) <= {-1, 0, 1}:
        if not (set(labels.tolist()) <= {0, 1} or set(labels.tolist()) <= {-1, 1}):
            raise ValueError(f"{name} mixes labels -1, 0 and 1: {labels}.")
        return np.where(y > 0, 1.0, -1.0)
    if labels.size < 2:
        raise ValueError(f"{name} must hold two classes, got only {labels}.")
    return np.where(y == labels[1], 1.0, -1.0)
