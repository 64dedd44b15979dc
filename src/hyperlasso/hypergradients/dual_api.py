"""Hypergradients of the dual models (linear SVM and SVR, ``inner.dual``).

The methods of the separable models run unchanged on the scaled dual (its
generalized support is the free coordinates, ``inner.box``); the criterion,
which judges the primal coefficients w~ = C X~^T u, is seen through that map
(``PrimalCriterion``): its gradient in u is C X~ dC/dw~, and since w~ also
moves with C at fixed u, the explicit term dC/dw~ . X~^T u is added to dC/dC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperlasso.hypergradients.methods import Context
from hyperlasso.hypergradients.results import HypergradientResult, WarmStart
from hyperlasso.inner.dual import DUAL_MODELS, DualProblem, primal_solution
from hyperlasso.inner.threads import single_threaded_blas


@dataclass(frozen=True)
class PrimalCriterion:
    """A criterion on (coef, intercept) seen as a function of the dual point u."""

    criterion: object
    model: object
    problem: DualProblem

    def _primal_gradient(self, u: np.ndarray):
        """(value, dC/dw~, w~) at the dual point u."""
        w = self.problem.primal_coef(u)
        value, grad_coef, grad_intercept = self.criterion.value_and_grad(
            *self.model.split(w))
        grad = np.asarray(grad_coef, dtype=np.float64).ravel()
        if self.model.fit_intercept:  # b = s w~_last
            grad = np.append(grad, self.model.intercept_scaling * float(grad_intercept))
        return float(value), grad, w

    def value_and_grad(self, u: np.ndarray, intercept: float = 0.0):
        """(value, dC/du of shape (n_samples,), 0.0): the dual has no intercept."""
        value, grad, _ = self._primal_gradient(u)
        return value, self.problem.C * np.asarray(self.problem.primal @ grad).ravel(), 0.0

    def explicit_derivative(self, u: np.ndarray) -> tuple[float, np.ndarray]:
        """(dC/dC at fixed u, w~): dC/dw~ . X~^T u = dC/dw~ . w~ / C."""
        _, grad, w = self._primal_gradient(u)
        return float(grad @ w) / self.problem.C, w


def make_dual_model(model):
    """Resolve "svm" / "svc" / "svr" or a dual model instance."""
    if isinstance(model, str):
        return DUAL_MODELS[model]()
    return model


def dual_hypergradient(model, criterion, alpha, data, settings, warm_start, methods):
    """The hypergradient of a dual model; ``data = (design, y)``, ``settings``
    resolved, ``methods`` the table of method functions by name."""
    design, y = data
    alpha = model.check_alpha(alpha, design.shape[0])
    problem = model.problem(alpha, design, y)
    view = PrimalCriterion(criterion, model, problem)
    start = jacobian = None
    if warm_start is not None and np.shape(warm_start.coef) == (design.shape[0],):
        start, jacobian = (warm_start.coef, 0.0), warm_start.jacobian
    ctx = Context(model, problem, alpha, view, settings.tol, settings.stop,
                  settings.max_iter, settings.linear_solver, start, jacobian)
    with single_threaded_blas():
        out = methods[settings.method](ctx)
    u = out.solution.coef
    gradient = np.array(out.gradient, dtype=np.float64).ravel()
    explicit, w = view.explicit_derivative(u)
    gradient[0] += explicit
    solution = primal_solution(out.solution, *model.split(w))
    gradient = float(gradient[0]) if np.ndim(alpha) == 0 else gradient
    return HypergradientResult(float(out.value), gradient, solution, settings.method,
                               out.linear_solver, out.note,
                               WarmStart(u, 0.0, out.jacobian))
