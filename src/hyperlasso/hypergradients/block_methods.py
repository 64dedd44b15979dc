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

from hyperlasso.hypergradients.block_system import ActiveGroupSystem
from hyperlasso.hypergradients.methods import Context, MethodOutput, criterion_on_support
from hyperlasso.hypergradients.restricted import choose_linear_solver, factorize
from hyperlasso.inner.block import BlockSolution, measure_block_optimality, solve_block

#: Newton steps of polish at most; each squares the relative error of the point.
MAX_NEWTON_STEPS = 6
#: Polish stops when the optimality map is below this times its scale.
NEWTON_RTOL = 1e-15
#: Relative slack of the off-support optimality check after the Newton steps.
POLISH_SLACK = 1e-8


def user_point(ctx: Context, coef: np.ndarray, intercept: np.ndarray):
    """(coef, intercept) as the criterion takes them: 1-D for a single task."""
    if ctx.model.single_task:
        return coef[:, 0], float(intercept[0])
    return coef, intercept


def criterion_at(ctx: Context, coef, intercept, support):
    """Criterion value and its gradients as (p, T) and (T,) arrays."""
    value, grad_coef, grad_intercept = criterion_on_support(
        ctx.criterion, *user_point(ctx, coef, intercept), support)
    grad_coef = np.asarray(grad_coef, dtype=np.float64).reshape(coef.shape)
    return value, grad_coef, np.atleast_1d(np.asarray(grad_intercept, dtype=np.float64))


def block_solution(ctx: Context) -> BlockSolution:
    """Solve the block problem, or take the point the user gave (``coef=``)."""
    if ctx.given is None:
        return solve_block(ctx.problem, tol=ctx.tol, stop=ctx.stop,
                           max_iter=ctx.max_iter, warm_start=ctx.start)
    coef, intercept = ctx.given
    b_int = ctx.problem.internal_intercept(coef, intercept)
    opt = measure_block_optimality(ctx.problem, coef, b_int)
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


def block_implicit(ctx: Context) -> MethodOutput:
    """Implicit differentiation: one adjoint solve on the active groups."""
    solution = block_solution(ctx)
    system = ActiveGroupSystem.at(ctx.problem, solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(ctx.linear_solver, system.size)
    value, gradient = _adjoint_gradient(ctx, system, factorize(system, linear_solver))
    return MethodOutput(solution, value, gradient, linear_solver)


def block_polish(ctx: Context) -> MethodOutput:
    """Newton steps on the active-group system, then implicit differentiation.

    The penalty's curvature lam_g (I - u u^T) / ||W_g|| moves with the point, so
    one step is not exact as for the Lasso; Newton's quadratic convergence takes
    a gap-1e-8 solution to rounding level in two or three steps. The steps are
    refused (plain implicit at the solver's point) if a group would collapse to
    zero or an inactive group would violate its optimality condition.
    """
    solution = block_solution(ctx)
    system = ActiveGroupSystem.at(ctx.problem, solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(ctx.linear_solver, system.size)
    polished, reason, n_steps = _newton(ctx, system, linear_solver)
    if reason:
        value, gradient = _adjoint_gradient(ctx, system, factorize(system, linear_solver))
        return MethodOutput(solution, value, gradient, linear_solver,
                            note=f"polish rejected ({reason}); implicit")
    b_int = ctx.problem.internal_intercept(polished.coef, polished.intercept)
    opt = measure_block_optimality(ctx.problem, polished.coef, b_int, polished.R)
    solution = replace(solution, coef=polished.coef, intercept=polished.intercept,
                       gap=opt.gap, kkt=opt.kkt)
    value, gradient = _adjoint_gradient(ctx, polished,
                                        factorize(polished, linear_solver))
    return MethodOutput(solution, value, gradient, linear_solver,
                        note=f"{n_steps} Newton steps on the active groups")


def _newton(ctx: Context, system: ActiveGroupSystem, linear_solver: str):
    """Newton iterations on the optimality map; (system, reason, steps)."""
    scale = max(float(np.max(np.abs(ctx.problem.lam))), 1e-300)
    current = system
    for step in range(MAX_NEWTON_STEPS + 1):
        residual = current.optimality_map()
        if np.max(np.abs(residual), initial=0.0) <= NEWTON_RTOL * scale or \
                step == MAX_NEWTON_STEPS:
            break
        coef, intercept = current.moved(factorize(current, linear_solver)(residual))
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            return system, "non-finite Newton step", step
        norms = ctx.problem.groups.norms(coef)[system.active]
        old = ctx.problem.groups.norms(system.coef)[system.active]
        if np.any(norms < 0.5 * old):
            return system, "an active group shrank towards zero", step
        current = current.at_point(coef, intercept)
    reason = _off_support_violation(ctx, current)
    return current, reason, step


def _off_support_violation(ctx: Context, system: ActiveGroupSystem) -> str:
    problem = ctx.problem
    b_int = problem.internal_intercept(system.coef, system.intercept)
    opt = measure_block_optimality(problem, system.coef, b_int)
    inactive = np.ones(problem.groups.n_groups, dtype=bool)
    inactive[system.active] = False
    if np.any(opt.violations[inactive] > POLISH_SLACK * problem.lam[inactive]):
        return "off-support optimality violated"
    return ""
