"""User-facing access to the inner layer: fit a model at a given alpha, alpha_max."""

from __future__ import annotations

import numpy as np

from hyperlasso._validation import check_matrix, check_vector
from hyperlasso.inner.block_models import make_block_model, names_block_model
from hyperlasso.inner.dual import DUAL_MODELS, primal_solution
from hyperlasso.inner.models import Model, make_model
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import InnerSolution


def _validated(model, X, y):
    X = check_matrix(X, "X")
    if names_block_model(model):
        model = make_block_model(model)
        return model, Design.of(X, model.fit_intercept), model.check_target(y, X.shape[0])
    model = DUAL_MODELS[model]() if isinstance(model, str) and model in DUAL_MODELS \
        else make_model(model)
    return (model, Design.of(X, model.fit_intercept),
            check_vector(model.check_target(y), X.shape[0], "y"))


def fit(
    model: str | Model,
    alpha,
    X,
    y,
    tol: float = 1e-8,
    stop: str = "gap",
    max_iter: int = 100,
    warm_start: tuple[np.ndarray, float] | None = None,
) -> InnerSolution:
    """Solve the inner problem of ``model`` at ``alpha``.

    Parameters
    ----------
    model : str or Model
        See :func:`hyperlasso.hypergradient`.
    alpha : float or array-like
        Hyperparameters of the model (see the model's docstring).
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    tol : float, default=1e-8
        Tolerance on ``stop``.
    stop : {"gap", "kkt"}, default="gap"
        Relative duality gap (gap / objective at zero) or absolute optimality
        violation.
    max_iter : int, default=100
        Working-set iterations.
    warm_start : tuple (coef, intercept), optional

    Returns
    -------
    InnerSolution or BlockSolution
        coef (n_features,), intercept, support, achieved gap and violation; for
        block models (multi-task, group) coef (n_features, n_tasks), intercept
        (n_tasks,) and the active groups. The SVM and SVR are solved in the dual:
        coef and intercept are the primal ones, support the free support vectors
        (and ``warm_start`` a dual point, shape (n_samples,)).
    """
    model, design, y = _validated(model, X, y)
    alpha = model.check_alpha(alpha, design.shape[1])
    problem = model.problem(alpha, design, y)
    solution = model.solve(problem, tol=tol, stop=stop, max_iter=max_iter,
                           warm_start=warm_start)
    if model.kind == "dual":  # its warm start and solve are in the dual variables
        return primal_solution(solution, *model.criterion_point(problem, solution))
    return solution


def alpha_max(model: str | Model, X, y):
    """Smallest alpha whose solution is all zero.

    Returns
    -------
    float, or ndarray of shape (n_features,) for the weighted Lasso
        For the ElasticNet, the bound on the l1 weight alpha[0].
    """
    model, design, y = _validated(model, X, y)
    return model.alpha_max(design, y)
