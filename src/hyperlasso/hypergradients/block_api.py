"""Hypergradients of the block models: the block twin of ``hypergradient_on``."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hyperlasso.hypergradients.block_iterative import (
    block_backward,
    block_forward,
    block_implicit_forward,
)
from hyperlasso.hypergradients.block_methods import (
    block_implicit,
    block_polish,
    shape_matches,
)
from hyperlasso.hypergradients.methods import Context, check_needs
from hyperlasso.inner.block_models import BlockModel
from hyperlasso.inner.problem import Design
from hyperlasso.inner.threads import single_threaded_blas

BLOCK_METHODS = {
    "forward": block_forward,
    "backward": block_backward,
    "implicit": block_implicit,
    "implicit_forward": block_implicit_forward,
    "polish": block_polish,
}


def block_context(model: BlockModel, criterion, alpha, design: Design, Y: np.ndarray,
                  settings, warm_start=None, given=None) -> Context:
    """The Context of a block hypergradient (settings already resolved)."""
    groups = model.groups_for(design.shape[1])
    alpha = model.check_alpha(alpha, groups)
    problem = model.problem(alpha, design, Y)
    _check_criterion_shape(criterion, model, problem.shape)
    start = None if warm_start is None else (warm_start.coef, warm_start.intercept)
    ctx = Context(model, problem, alpha, criterion, settings.tol, settings.stop,
                  settings.max_iter, settings.linear_solver, start,
                  None if warm_start is None else warm_start.jacobian)
    if given is not None:
        ctx = _at_given_point(ctx, settings.method, *given)
    return ctx


def run_block_method(ctx: Context, method: str):
    """Run ``method`` on the block context, BLAS single-threaded."""
    available = getattr(ctx.model, "hypergradient_methods", tuple(BLOCK_METHODS))
    if method not in available:
        raise ValueError(f"method={method!r} is not available for {ctx.model.name}; "
                         f"use one of {sorted(available)}.")
    check_needs(ctx.model, method, BLOCK_METHODS[method])
    with single_threaded_blas():
        return BLOCK_METHODS[method](ctx)


def _at_given_point(ctx: Context, method: str, coef, intercept) -> Context:
    if method in ("forward", "backward"):
        raise ValueError(f"coef= cannot be used with method={method!r}, which runs its "
                         "own iterations; use 'implicit', 'implicit_forward' or 'polish'.")
    shape = ctx.problem.shape
    coef = np.asarray(coef, dtype=np.float64)
    if coef.size != shape[0] * shape[1] or coef.shape[0] != shape[0]:
        raise ValueError(f"coef must have shape {shape if shape[1] > 1 else shape[:1]},"
                         f" got {coef.shape}.")
    intercept = np.broadcast_to(np.asarray(intercept, dtype=np.float64),
                                (shape[1],)).copy()
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ValueError("coef and intercept must be finite.")
    if not ctx.problem.fit_intercept:
        intercept[:] = 0.0
    return replace(ctx, given=(coef.reshape(shape).copy(), intercept))


def _check_criterion_shape(criterion, model: BlockModel, shape: tuple[int, int]) -> None:
    """The criterion's coef shape (if it says) must be the model's, up to T = 1."""
    expected = getattr(criterion, "coef_shape", None)
    own = shape[:1] if model.single_task else shape
    if shape_matches(expected, own):
        return
    if int(np.prod(expected)) == shape[0] and shape[1] == 1:
        return  # one task: a 1-D criterion and a (p, 1) coef are the same thing
    raise ValueError(
        f"the criterion expects coef of shape {tuple(expected)} but {model.name} "
        f"has coef of shape {own}: the validation target must have as many tasks "
        "(columns) as the training target.")
