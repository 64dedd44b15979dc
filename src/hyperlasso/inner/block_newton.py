"""Newton steps of the block solver on the groups that are not zero.

Block coordinate descent identifies the active groups fast but converges slowly
on correlated columns (the M/EEG gain: neighbouring sources have correlations
above 0.99, thousands of epochs to a gap of 1e-6). On the active groups the
objective is smooth, and its Newton system is the active-group system of
``block_system`` (the one implicit differentiation solves), whose structured
solves cost O(|F|^3) rather than O((|F| T)^3). Once the active groups stop
changing, a few Newton steps on them reach rounding level; the solver's own
checks (violations off the support, duality gap) then decide, so a wrong
support costs a few small factorizations and is left to coordinate descent.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from hyperlasso.inner.block_system import has_structured_solve, structured_direct_solver

#: Newton steps per call at most (quadratic convergence: 3 to 5 from a point
#: where coordinate descent has identified the support).
MAX_STEPS = 8
#: No Newton step when its direct solve would factorize a larger matrix (one
#: task and more active features than this, without the low-rank solve).
MAX_DIRECT_SIZE = 1000
#: The steps stop when the optimality map is below this times the largest
#: penalty weight (rounding level of its terms).
RTOL = 1e-14
#: Rounding level of the objective, relative: a backtracking step may not raise
#: it by more, and the point reached replaces the state if it lowers it by more.
OBJECTIVE_SLACK = 1e-13


def newton_on_active_groups(problem, state) -> int:
    """Damped Newton steps on the non-zero groups of ``state = (W, R, b_internal)``.

    The groups stay those of the state: a group the steps shrink towards zero is
    left to coordinate descent, whose block prox sets it to zero (setting it to
    zero here raised the objective and made later Newton steps useless: on the
    M/EEG gains, a solve along the SURE path took 1.5 to 3 times as long). The
    state is replaced in place by the point reached if that lowers the objective
    by more than rounding.
    Returns the number of Newton steps taken (0: the state is unchanged).
    """
    W, R, b_int = state
    system = problem.active_system(W, problem.external_intercept(W, b_int))
    if system.active.size == 0 or not _direct_solve_is_small(system):
        return 0
    start = system.objective()
    reached, n_steps, objective = _newton_steps(problem, system, start)
    if n_steps == 0 or objective >= start - OBJECTIVE_SLACK * abs(start):
        return 0
    W[:] = reached.coef
    b_int[:] = problem.internal_intercept(reached.coef, reached.intercept)
    R[:] = reached.R  # the datafit's state: the residual, or Z (multinomial)
    return n_steps


def _newton_steps(problem, system, objective: float):
    """Newton steps with backtracking from ``system`` (objective ``objective``):
    (the system reached, the steps taken, its objective)."""
    scale = max(float(np.max(problem.lam)), 1e-300)
    for n_steps in range(MAX_STEPS):
        residual = system.optimality_map()
        if float(np.max(np.abs(residual), initial=0.0)) <= RTOL * scale:
            return system, n_steps, objective
        try:
            step = _solver(system)(residual)
        except (np.linalg.LinAlgError, ValueError):
            return system, n_steps, objective
        if not np.all(np.isfinite(step)):
            return system, n_steps, objective
        moved = _backtrack(system, step, objective)
        if moved is None:
            return system, n_steps, objective
        system, objective = moved
    return system, MAX_STEPS, objective


#: Step lengths tried along a Newton direction (the full step first; short ones
#: for the near-singular systems of many correlated active columns).
STEP_LENGTHS = tuple(0.5**k for k in range(11))


def _backtrack(system, step, objective):
    """(the system at the longest step of ``STEP_LENGTHS`` that does not raise the
    objective beyond rounding, its objective), or None."""
    for length in STEP_LENGTHS:
        moved = system.at_point(*system.moved(length * step))
        if not system.keeps_support(moved):
            continue
        value = moved.objective()
        if value <= objective + OBJECTIVE_SLACK * abs(objective):
            return moved, value
    return None


def _direct_solve_is_small(system) -> bool:
    return has_structured_solve(system) or system.direct_size <= MAX_DIRECT_SIZE


def _solver(system):
    """H^{-1} by the structured solves of ``block_system``, or H's Cholesky; for a
    singular H (collinear active columns), its minimum-norm least-squares
    solution, a step within H's range (the backtracking judges it)."""
    if has_structured_solve(system):
        return structured_direct_solver(system)
    H = system.dense()
    try:
        factor = scipy.linalg.cho_factor(H, check_finite=False)
    except np.linalg.LinAlgError:
        return lambda r: scipy.linalg.lstsq(H, r, check_finite=False)[0]
    return lambda r: scipy.linalg.cho_solve(factor, r, check_finite=False)
