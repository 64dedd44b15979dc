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
#: Polish stops when the optimality map is below this times the penalty scale
#: (a few units of rounding of its terms, which are of that scale).
NEWTON_RTOL = 1e-14
#: Iterative refinement of a solve on a nearby factorization: relative residual
#: (rounding level of the matrix-vector product) and the most rounds tried.
REFINE_RTOL = 1e-14
MAX_REFINE = 8
#: Relative slack of the off-support optimality check after the Newton steps.
POLISH_SLACK = 1e-8


def criterion_at(ctx: Context, coef, intercept, support):
    """Criterion value and its gradients as (p, T) and (T,) arrays."""
    coef_user, intercept_user = ctx.model.user_point(coef, intercept)
    if getattr(ctx.criterion, "coef_shape", coef_user.shape) != coef_user.shape:
        coef_user, intercept_user = coef_user[:, 0], float(intercept_user[0])  # T = 1
    value, grad_coef, grad_intercept = criterion_on_support(
        ctx.criterion, coef_user, intercept_user, support)
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
    a gap-1e-6 solution to rounding level in two or three steps. H is factorized
    once, at the solver's point; the Newton systems and the adjoint at the moved
    points are solved exactly by iterative refinement on that factorization
    (``refined_solver``). The steps are refused (plain implicit at the solver's
    point) if a group would collapse towards zero or an inactive group would
    violate its optimality condition.
    """
    solution = block_solution(ctx)
    system = ActiveGroupSystem.at(ctx.problem, solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(ctx.linear_solver, system.size)
    base = factorize(system, linear_solver)
    polished, n_steps, reason = _newton(ctx, system, base, linear_solver)
    if reason:
        value, gradient = _adjoint_gradient(ctx, system, base)
        return MethodOutput(solution, value, gradient, linear_solver,
                            note=f"polish rejected ({reason}); implicit")
    b_int = ctx.problem.internal_intercept(polished.coef, polished.intercept)
    opt = measure_block_optimality(ctx.problem, polished.coef, b_int, polished.R)
    solution = replace(solution, coef=polished.coef, intercept=polished.intercept,
                       gap=opt.gap, kkt=opt.kkt)
    solver = refined_solver(polished, base, linear_solver) if n_steps else base
    value, gradient = _adjoint_gradient(ctx, polished, solver)
    return MethodOutput(solution, value, gradient, linear_solver,
                        note=f"{n_steps} Newton steps on the active groups")


def _newton(ctx: Context, system: ActiveGroupSystem, base, linear_solver: str):
    """Newton iterations on the optimality map: (final system, steps, reason).

    Stops when the map is at rounding level (``NEWTON_RTOL`` times the penalty
    scale), stops shrinking by half (rounding reached) or after
    ``MAX_NEWTON_STEPS``; ``reason`` says why the steps are refused ("" if not).
    """
    scale = max(float(np.max(np.abs(ctx.problem.lam))), 1e-300)
    current, previous, solver = system, np.inf, base
    old_norms = ctx.problem.groups.norms(system.coef)[system.active]
    for step in range(MAX_NEWTON_STEPS + 1):
        residual = current.optimality_map()
        size = float(np.max(np.abs(residual), initial=0.0))
        if size <= NEWTON_RTOL * scale or size > 0.5 * previous or \
                step == MAX_NEWTON_STEPS:
            break
        coef, intercept = current.moved(solver(residual))
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            return system, step, "non-finite Newton step"
        if np.any(ctx.problem.groups.norms(coef)[system.active] < 0.5 * old_norms):
            return system, step, "an active group shrank towards zero"
        current, previous = current.at_point(coef, intercept), size
        solver = refined_solver(current, base, linear_solver)
    return current, step, _off_support_violation(ctx, current)


def refined_solver(system: ActiveGroupSystem, base, linear_solver: str):
    """solve(r) = H^{-1} r at ``system``, refining on ``base``, a nearby H's solve.

    Each refinement multiplies the error by ||I - H_base^{-1} H||, of the order of
    the distance between the two points (1e-4 after a gap-1e-8 solve), so a few
    matrix-vector products replace a new factorization. If refinement does not
    reach ``REFINE_RTOL`` in ``MAX_REFINE`` rounds, H is factorized afresh.
    """
    if linear_solver == "cg":
        return factorize(system, linear_solver)

    def solve(r: np.ndarray) -> np.ndarray:
        v = base(r)
        target = REFINE_RTOL * max(float(np.linalg.norm(r)), 1e-300)
        for _ in range(MAX_REFINE):
            correction = r - system.matvec(v)
            if np.linalg.norm(correction) <= target:
                return v
            v = v + base(correction)
        return factorize(system, linear_solver)(r)
    return solve


def _off_support_violation(ctx: Context, system: ActiveGroupSystem) -> str:
    problem = ctx.problem
    b_int = problem.internal_intercept(system.coef, system.intercept)
    opt = measure_block_optimality(problem, system.coef, b_int)
    inactive = np.ones(problem.groups.n_groups, dtype=bool)
    inactive[system.active] = False
    if np.any(opt.violations[inactive] > POLISH_SLACK * problem.lam[inactive]):
        return "off-support optimality violated"
    return ""
