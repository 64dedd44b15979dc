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
from hyperlasso.inner.dual import DUAL_MODELS, DualProblem
from hyperlasso.inner.solver import InnerSolution
from hyperlasso.inner.threads import single_threaded_blas


@dataclass(frozen=True)
class PrimalCriterion:
    """A criterion on (coef, intercept) seen as a function of the dual point u."""

    criterion: object
    model: object
    problem: DualProblem

    def _primal_gradient(self, u: np.ndarray):
        coef, intercept = self.model.primal_point(self.problem, u)
        value, grad_coef, grad_intercept = self.criterion.value_and_grad(coef, intercept)
        grad = np.asarray(grad_coef, dtype=np.float64).ravel()
        if self.model.fit_intercept:  # b = s w~_last
            grad = np.append(grad, self.model.intercept_scaling * float(grad_intercept))
        return float(value), grad

    def value_and_grad(self, u: np.ndarray, intercept: float = 0.0):
        """(value, dC/du of shape (n_samples,), 0.0): the dual has no intercept."""
        value, grad = self._primal_gradient(u)
        return value, self.problem.C * np.asarray(self.problem.primal @ grad).ravel(), 0.0

    def explicit_derivative(self, u: np.ndarray) -> float:
        """dC/dC at fixed u: dC/dw~ . X~^T u."""
        _, grad = self._primal_gradient(u)
        return float(grad @ np.asarray(self.problem.primal.T @ u).ravel())


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
    gradient[0] += view.explicit_derivative(u)
    coef, intercept = model.primal_point(problem, u)
    solution = primal_solution(out.solution, coef, intercept)
    gradient = float(gradient[0]) if np.ndim(alpha) == 0 else gradient
    return HypergradientResult(float(out.value), gradient, solution, settings.method,
                               out.linear_solver, out.note,
                               WarmStart(u, 0.0, out.jacobian))


def primal_solution(dual: InnerSolution, coef: np.ndarray, intercept: float):
    """The ``InnerSolution`` with the primal (coef, intercept) of a dual one; its
    support stays the dual's: the free support vectors (0 < |u_i| < 1), as in
    the searches' ``support_size``."""
    return InnerSolution(coef, float(intercept), dual.support, dual.gap, dual.kkt,
                         dual.n_iter, dual.n_epochs, dual.converged)
