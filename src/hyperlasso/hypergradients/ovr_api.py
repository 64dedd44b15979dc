"""Hypergradients of the one-vs-rest models (``inner.ovr``).

The K binary problems share alpha and no unknowns, so

    dC/dalpha = sum_k (dC/dw_k)^T dw_k/dalpha,

each term the hypergradient of class k's binary problem for the criterion seen
as a function of w_k alone, the other classes held at their solutions
(``ClassView``). The classes are solved first (the views need every class's
solution), then each class's method runs from its solution, so that its own
solve only checks the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hyperlasso.hypergradients.methods import Context
from hyperlasso.hypergradients.results import HypergradientResult, WarmStart
from hyperlasso.inner.ovr import OvrSolution
from hyperlasso.inner.threads import single_threaded_blas


@dataclass(frozen=True)
class ClassView:
    """The criterion of all K classes as a function of class k's (coef, intercept)."""

    criterion: object
    coef: np.ndarray
    intercept: np.ndarray
    k: int

    def value_and_grad(self, coef_k: np.ndarray, intercept_k: float = 0.0):
        """(value, dC/dcoef_k (n_features,), dC/dintercept_k)."""
        coef, intercept = self.coef.copy(), self.intercept.copy()
        coef[:, self.k], intercept[self.k] = coef_k, intercept_k
        value, grad_coef, grad_intercept = self.criterion.value_and_grad(coef, intercept)
        return value, np.asarray(grad_coef)[:, self.k], float(grad_intercept[self.k])


def ovr_hypergradient(model, criterion, alpha, data, settings, warm_start, methods):
    """The hypergradient of a one-vs-rest model; ``data = (design, y)`` (class
    indices), ``settings`` resolved, ``methods`` the table of method functions."""
    design, y = data
    alpha = model.check_alpha(alpha, design.shape[1])
    problem = model.problem(alpha, design, y)
    start = None if warm_start is None else (warm_start.coef, warm_start.intercept)
    jacobians = (warm_start.jacobian if warm_start is not None
                 and isinstance(warm_start.jacobian, tuple)
                 else (None,) * model.n_classes)
    with single_threaded_blas():
        first = model.solve(problem, warm_start=start, tol=settings.tol,
                            stop=settings.stop, max_iter=settings.max_iter)
        outputs = [_class_output(model, criterion, alpha, settings, methods,
                                 (problem.problems[k], first, k, jacobians[k]))
                   for k in range(model.n_classes)]
    solution = OvrSolution.of([out.solution for out in outputs])
    solution = replace(solution, n_epochs=first.n_epochs + solution.n_epochs,
                       n_iter=first.n_iter + solution.n_iter)
    gradient = np.sum([np.asarray(out.gradient, dtype=np.float64) for out in outputs],
                      axis=0)
    value = criterion.value_and_grad(solution.coef, solution.intercept)[0]
    notes = "; ".join(sorted({out.note for out in outputs if out.note}))
    gradient = float(gradient) if np.ndim(alpha) == 0 else gradient.reshape(
        np.shape(alpha))
    return HypergradientResult(float(value), gradient, solution, settings.method,
                               outputs[0].linear_solver, notes,
                               WarmStart(solution.coef, solution.intercept,
                                         tuple(out.jacobian for out in outputs)))


def _class_output(model, criterion, alpha, settings, methods, parts):
    """Class k's method on its problem, started from its solution in ``first``."""
    problem, first, k, jacobian = parts
    view = ClassView(criterion, first.coef, first.intercept, k)
    start = (first.coef[:, k], float(first.intercept[k]))
    ctx = Context(model.binary, problem, alpha, view, settings.tol, settings.stop,
                  settings.max_iter, settings.linear_solver, start, jacobian)
    return methods[settings.method](ctx)
