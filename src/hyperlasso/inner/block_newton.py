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

from hyperlasso.inner.block_system import (
    ActiveGroupSystem,
    low_rank_applies,
    low_rank_solver,
    structured_solver,
)

#: Newton steps per call at most (quadratic convergence: 3 to 5 from a point
#: where coordinate descent has identified the support).
MAX_STEPS = 8
#: No Newton step when its direct solve would factorize a larger matrix (one
#: task and more active features than this, without the low-rank solve).
MAX_DIRECT_SIZE = 1000
#: The steps stop when the optimality map is below this times the largest
#: penalty weight (rounding level of its terms).
RTOL = 1e-14
#: A step that shrinks an active group's norm below this fraction of its value
#: says the group is leaving the support: it is set to zero and the steps go on
#: on the other groups (at most ``MAX_PRUNES`` times per call).
SHRINK_LIMIT = 0.5
MAX_PRUNES = 10
#: A point replaces the state only if it lowers the objective by more than this
#: relative amount, or reaches rounding level without raising it beyond it.
OBJECTIVE_SLACK = 1e-13


def newton_on_active_groups(problem, state) -> int:
    """Newton steps on the non-zero groups of ``state = (W, R, b_internal)``.

    Groups a step would shrink towards zero are set to zero and the steps go on
    on the others (coordinate descent and the solver's checks bring back a group
    wrongly removed). The state is replaced in place by the point of lowest
    objective reached, if it is lower than the state's. Returns the number of
    Newton steps taken to that point (0: the state is unchanged).
    """
    W, R, b_int = state
    intercept = problem.external_intercept(W, b_int)
    best = ActiveGroupSystem.at(problem, W, intercept)
    best_objective, best_steps = _objective(problem, best), 0
    coef, n_steps = W, 0
    for _ in range(MAX_PRUNES + 1):
        system = ActiveGroupSystem.at(problem, coef, intercept)
        if system.active.size == 0 or not _direct_solve_is_small(system):
            break
        reached, steps, leaving = _newton_steps(problem, system)
        n_steps += steps
        objective = _objective(problem, reached)
        if objective < best_objective - OBJECTIVE_SLACK * abs(best_objective):
            best, best_objective, best_steps = reached, objective, n_steps
        if leaving.size == 0:
            break
        coef = reached.coef.copy()
        coef[problem.groups.features_of(leaving)] = 0.0
        intercept = reached.intercept
    if best_steps:
        W[:] = best.coef
        b_int[:] = problem.internal_intercept(best.coef, best.intercept)
        R[:] = best.R
    return best_steps


def _newton_steps(problem, system: ActiveGroupSystem):
    """Newton steps with backtracking from ``system``: (the system reached, steps
    taken, the groups the next full step would shrink towards zero: empty unless
    that stopped them)."""
    scale = max(float(np.max(problem.lam)), 1e-300)
    objective = _objective(problem, system)
    none = np.empty(0, dtype=np.intp)
    for n_steps in range(MAX_STEPS):
        residual = system.optimality_map()
        if float(np.max(np.abs(residual), initial=0.0)) <= RTOL * scale:
            return system, n_steps, none
        try:
            step = _solver(system)(residual)
        except (np.linalg.LinAlgError, ValueError):
            return system, n_steps, none
        coef, intercept = system.moved(step)
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            return system, n_steps, none
        shrinking = problem.groups.norms(coef)[system.active] < SHRINK_LIMIT * system._norms
        if np.any(shrinking):
            return system, n_steps, system.active[shrinking]
        moved = _backtrack(problem, system, step, objective)
        if moved is None:
            return system, n_steps, none
        system, objective = moved
    return system, MAX_STEPS, none


#: Step lengths tried along a Newton direction (the full step first; short ones
#: for the near-singular systems of many correlated active columns).
STEP_LENGTHS = tuple(0.5**k for k in range(11))


def _backtrack(problem, system: ActiveGroupSystem, step, objective):
    """(the system at the longest step of ``STEP_LENGTHS`` that does not raise the
    objective beyond rounding, its objective), or None."""
    for length in STEP_LENGTHS:
        coef, intercept = system.moved(length * step)
        if np.any(problem.groups.norms(coef)[system.active] == 0.0):
            continue
        moved = system.at_point(coef, intercept)
        value = _objective(problem, moved)
        if value <= objective + OBJECTIVE_SLACK * abs(objective):
            return moved, value
    return None


def _direct_solve_is_small(system: ActiveGroupSystem) -> bool:
    return (system.n_tasks > 1 or low_rank_applies(system)
            or system.direct_size <= MAX_DIRECT_SIZE)


def _solver(system: ActiveGroupSystem):
    """H^{-1} by the structured solves of ``block_system``, or H's Cholesky."""
    if system.n_tasks > 1:
        return structured_solver(system)
    if low_rank_applies(system):
        return low_rank_solver(system)
    factor = scipy.linalg.cho_factor(system.dense(), check_finite=False)
    return lambda r: scipy.linalg.cho_solve(factor, r, check_finite=False)


def _objective(problem, system: ActiveGroupSystem) -> float:
    return (0.5 * float(np.sum(system.R**2)) / problem.n_samples
            + problem.penalty_value(system.coef))
