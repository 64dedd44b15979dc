"""Hypergradient methods of the block models (multi-task and group Lasso).

Implicit differentiation and polish use the active-group system
(``block_system``) through the linear solvers of ``restricted.py``. The block
penalty is not piecewise linear, so polish is a few Newton steps on the active
system (quadratic convergence) rather than one. Implicit forward, forward and
backward differentiation are in ``block_iterative.py``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hyperlasso.hypergradients.linear import choose_linear_solver, factorize
from hyperlasso.hypergradients.methods import (
    Context,
    MethodOutput,
    criterion_on_support,
    needs,
    polish_until_accepted,
)
from hyperlasso.inner.block import BlockSolution
from hyperlasso.inner.block_system import (
    ActiveGroupSystem,
    has_structured_solve,
    structured_direct_solver,
)
from hyperlasso.inner.solver import solve

#: Chord steps of polish at most; each multiplies the error by about the
#: relative distance to the solution.
MAX_NEWTON_STEPS = 12
#: Polish stops when a step shrinks the optimality map by less than this factor.
STALL_RATIO = 0.9
#: Polish stops when the optimality map is below this times the penalty scale
#: (a few units of rounding of its terms, which are of that scale).
NEWTON_RTOL = 1e-14
#: Relative slack of the off-support optimality check after the Newton steps.
POLISH_SLACK = 1e-8
#: Refinement steps of the adjoint at the polished point at most (H factorized at
#: the solver's point as preconditioner); each multiplies the error by about the
#: relative distance between the two points, 1e-6 or less after a solve to a gap
#: of 1e-6, so two or three steps reach rounding level.
MAX_REFINEMENT_STEPS = 8
#: The refined adjoint is accepted when the last correction is below this times
#: the adjoint (an estimate of its relative error: rounding level of a
#: Cholesky solve of a system of condition number 1e3).
REFINEMENT_RTOL = 1e-13


def shape_matches(expected, shape) -> bool:
    """Whether a criterion's ``coef_shape`` (None: any; -1: any size on that
    axis, the multiclass log-loss's K) admits coefficients of ``shape``."""
    if expected is None:
        return True
    return len(expected) == len(shape) and all(
        e in (-1, s) for e, s in zip(expected, shape, strict=True))


def criterion_at(ctx: Context, coef, intercept, support):
    """Criterion value and its gradients as (p, T) and (T,) arrays."""
    coef_user, intercept_user = ctx.model.user_point(coef, intercept)
    if not shape_matches(getattr(ctx.criterion, "coef_shape", None), coef_user.shape):
        coef_user, intercept_user = coef_user[:, 0], float(intercept_user[0])  # T = 1
    value, grad_coef, grad_intercept = criterion_on_support(
        ctx.criterion, coef_user, intercept_user, support)
    grad_coef = np.asarray(grad_coef, dtype=np.float64).reshape(coef.shape)
    return value, grad_coef, np.atleast_1d(np.asarray(grad_intercept, dtype=np.float64))


def block_solution(ctx: Context) -> BlockSolution:
    """Solve the block problem, or take the point the user gave (``coef=``)."""
    if ctx.given is None:
        return solve(ctx.problem, tol=ctx.tol, stop=ctx.stop, max_iter=ctx.max_iter,
                     warm_start=ctx.start)
    coef, intercept = ctx.given
    b_int = ctx.problem.internal_intercept(coef, intercept)
    opt = ctx.problem.optimality(coef, b_int)
    converged = (opt.gap if ctx.stop == "gap" else opt.kkt) <= ctx.tol
    active = np.flatnonzero(ctx.problem.groups.norms(coef) > 0)
    return BlockSolution(coef, intercept, np.flatnonzero(np.any(coef != 0, axis=1)),
                         active, opt.gap, opt.kkt, 0, 0, converged)


def _adjoint_gradient(ctx: Context, system: ActiveGroupSystem, solver):
    value, grad_coef, grad_intercept = criterion_at(ctx, system.coef, system.intercept,
                                                    system.features)
    adjoint = solver(system.restrict(grad_coef, grad_intercept))
    g_lam, g_l2 = system.pullback(adjoint)
    groups = ctx.problem.groups
    return value, ctx.model.pullback(g_lam, g_l2, ctx.alpha, groups)


@needs("pullback", "user_point")
def block_implicit(ctx: Context) -> MethodOutput:
    """Implicit differentiation: one adjoint solve on the active groups."""
    solution = block_solution(ctx)
    system = ctx.problem.active_system(solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(ctx.linear_solver, system.direct_size)
    value, gradient = _adjoint_gradient(ctx, system, block_solver(system, linear_solver))
    return MethodOutput(solution, value, gradient, linear_solver)


def block_solver(system: ActiveGroupSystem, linear_solver: str):
    """solve(r) = H^{-1} r: the structured direct solve ("cholesky") or CG.

    With several tasks the direct solve factorizes |F| x |F| matrices
    (``structured_solver``) instead of H's (|F| T)^2; with one task and more
    active features than samples plus groups, an LU of order n + |A|
    (``low_rank_solver``); otherwise H itself. If these fail (collinear active
    features and no l2 term), the dense system's Cholesky, with its
    least-squares fallback and warning, takes over.
    """
    if linear_solver == "cg":
        return factorize(system, linear_solver)
    if not has_structured_solve(system):
        return factorize(system, linear_solver)  # H is |F| x |F| already
    try:
        return structured_direct_solver(system)
    except np.linalg.LinAlgError:
        return factorize(system, "cholesky")


@needs("pullback", "user_point")
def block_polish(ctx: Context) -> MethodOutput:
    """Newton-type steps on the active-group system, then implicit differentiation.

    The penalty's curvature lam_g (I - u u^T) / ||W_g|| moves with the point, so
    one step is not exact as for the Lasso. H is factorized at the solver's point
    and reused for the steps (chord iterations: linear convergence at a rate of
    the order of the distance to the solution, rounding level in a few steps
    from a gap of 1e-6 to 1e-8); the adjoint is then solved with H at the
    polished point by iterative refinement on that factorization
    (``refined_solver``), so the gradient is exact. The steps are refused (plain
    implicit at the solver's point) if an active group would shrink towards zero
    or an inactive group would violate its optimality condition; the inner
    problem is then solved tighter and the steps tried again
    (``methods.polish_until_accepted``).
    """
    return polish_until_accepted(ctx, block_solution(ctx),
                                 lambda solution, last: _block_polish_at(ctx, solution,
                                                                         last))


def _block_polish_at(ctx: Context, solution, last: bool) -> MethodOutput | None:
    """Polish from ``solution``; if the steps are refused, None, or implicit
    differentiation at ``solution`` when this is the ``last`` attempt."""
    system = ctx.problem.active_system(solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(ctx.linear_solver, system.direct_size)
    base = block_solver(system, linear_solver)
    polished, n_steps, reason, opt = _newton(ctx, system, base)
    if reason:
        if not last:
            return None
        value, gradient = _adjoint_gradient(ctx, system, base)
        return MethodOutput(solution, value, gradient, linear_solver,
                            note=f"polish rejected ({reason}); implicit")
    solution = replace(solution, coef=polished.coef, intercept=polished.intercept,
                       gap=opt.gap, kkt=opt.kkt)
    solver = base
    if n_steps:
        solver = (block_solver(polished, linear_solver) if linear_solver == "cg"
                  else refined_solver(polished, base, linear_solver))
    value, gradient = _adjoint_gradient(ctx, polished, solver)
    return MethodOutput(solution, value, gradient, linear_solver,
                        note=f"{n_steps} chord-Newton steps on the active groups")


def refined_solver(system: ActiveGroupSystem, base, linear_solver: str):
    """solve(r) = H^{-1} r at ``system``'s point by iterative refinement on ``base``,
    a solver of H at a nearby point (one factorization per hypergradient instead
    of two); H at this point is factorized if the refinement does not settle."""
    def solve(r: np.ndarray) -> np.ndarray:
        x = base(r)
        for _ in range(MAX_REFINEMENT_STEPS):
            correction = base(r - system.matvec(x))
            x = x + correction
            if np.max(np.abs(correction), initial=0.0) <= REFINEMENT_RTOL * max(
                    float(np.max(np.abs(x), initial=0.0)), 1e-300):
                return x
        return block_solver(system, linear_solver)(r)
    return solve


def _newton(ctx: Context, system: ActiveGroupSystem, solver):
    """Chord iterations on the optimality map: (final system, steps, reason,
    optimality at the final point or None).

    Stops when the map is at rounding level (``NEWTON_RTOL`` times the penalty
    scale), stops shrinking (by ``STALL_RATIO``: rounding reached) or after
    ``MAX_NEWTON_STEPS``; ``reason`` says why the steps are refused ("" if not).
    """
    scale = max(float(np.max(np.abs(ctx.problem.lam))), 1e-300)
    current, previous = system, np.inf
    old_norms = ctx.problem.groups.norms(system.coef)[system.active]
    for step in range(MAX_NEWTON_STEPS + 1):
        residual = current.optimality_map()
        size = float(np.max(np.abs(residual), initial=0.0))
        if size <= NEWTON_RTOL * scale or size > STALL_RATIO * previous or \
                step == MAX_NEWTON_STEPS:
            break
        coef, intercept = current.moved(solver(residual))
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            return system, step, "non-finite Newton step", None
        if np.any(ctx.problem.groups.norms(coef)[system.active] < 0.5 * old_norms):
            return system, step, "an active group shrank towards zero", None
        moved = current.at_point(coef, intercept)
        if not system.keeps_support(moved):
            return system, step, "an entry of the support changed sign", None
        current, previous = moved, size
    problem = ctx.problem
    b_int = problem.internal_intercept(current.coef, current.intercept)
    opt = problem.optimality(current.coef, b_int, current.R)
    return current, step, _off_support_violation(problem, current, opt), opt


def _off_support_violation(problem, system: ActiveGroupSystem, opt) -> str:
    inactive = np.ones(problem.groups.n_groups, dtype=bool)
    inactive[system.active] = False
    if np.any(opt.violations[inactive] > POLISH_SLACK * problem.lam[inactive]):
        return "off-support optimality violated"
    zeros_within = getattr(system, "zero_entries_violation", None)
    if zeros_within is not None and zeros_within(opt.grad) > POLISH_SLACK:
        return "optimality violated at a zero entry of an active row"
    return ""
