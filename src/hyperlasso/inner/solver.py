"""The working-set solver of every separable and block inner problem.

The outer loop (Python) computes the full gradient, the optimality violations of
the units (features, or groups) and the duality gap, stops when the user's
criterion is met, and otherwise picks a working set of the most violating units
(the active ones always included, its size doubling with them, as in skglm and
celer). The inner loop (numba, ``_cd``) runs coordinate descent with Anderson
extrapolation on that working set.

A problem tells the loop what it needs (``InnerProblem`` in ``problem.py``,
``BlockProblem`` in ``block.py``):

- ``kernel_args()``: ``(X, datafit, penalty, units)`` as ``_cd`` takes them;
- ``initial_point(warm_start)``: ``(W, b)``, W of shape (p,) or (p, T), b the
  internal intercepts (T,), both new arrays the loop updates in place;
- ``datafit_state(W, b)``: the datafit's state S (``datafits``), computed afresh
  at every working-set iteration (the kernel updates it in place, and the
  updates drift by rounding: a relative gap of 2e-15 on the updated state was
  1.7e-14 on a fresh one; checking a second time on a fresh state only before
  returning costs one more full gradient per solve instead of a product with
  the support's columns per iteration);
- ``optimality(W, b, S)``: an ``Optimality``;
- ``kernel_state((W, S, b))``: the state as ``_cd`` takes it (views);
- ``active_units(W)``: which units are not zero;
- ``newton_finisher``: None, or a function that takes Newton steps on the
  active units of a state (``block_newton``), tried when the active units (or
  the optional ``newton_support(W)``) stay the same over a chunk of epochs;
- ``shuffle_units`` (optional): whether every epoch visits the units in a new
  order (the SVM's dual), False by default (cyclic, as skglm and celer);
- ``epochs_per_check`` (optional): None, or the most epochs of coordinate
  descent on a working set before the gap is checked again (the SVM's dual);
- ``solution(W, b, opt, run)``: the result, ``run`` a ``SolverRun``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from hyperlasso.inner import _cd
from hyperlasso.inner.convergence import warn_not_converged
from hyperlasso.inner.threads import single_threaded_blas

STOP_CRITERIA = ("gap", "kkt")


@dataclass(frozen=True)
class InnerSolution:
    """Result of the inner solver for the separable models.

    Attributes
    ----------
    coef : ndarray of shape (n_features,)
    intercept : float
    support : ndarray of int, shape (n_support,)
        Indices of the non-zero coefficients, sorted.
    gap : float
        Duality gap relative to the objective at zero (``null_objective``).
    kkt : float
        Largest violation of the optimality conditions (absolute).
    n_iter : int
        Outer (working-set) iterations.
    n_epochs : int
        Coordinate-descent epochs, all working sets together.
    converged : bool
        Whether the stopping criterion reached ``tol``.
    """

    coef: np.ndarray
    intercept: float
    support: np.ndarray
    gap: float
    kkt: float
    n_iter: int
    n_epochs: int
    converged: bool


@dataclass(frozen=True)
class Optimality:
    """Optimality measures at one point: gradient X^T grad F, the violations of
    the units, the largest violation (intercepts included) and the relative gap."""

    grad: np.ndarray
    violations: np.ndarray
    kkt: float
    gap: float

    def achieved(self, stop: str) -> float:
        """The measure ``stop`` names: the relative gap or the largest violation."""
        return self.gap if stop == "gap" else self.kkt


class SolverRun(NamedTuple):
    """How a solve went: working-set iterations, epochs, and whether it converged."""

    n_iter: int
    n_epochs: int
    converged: bool


def solve(problem, tol: float = 1e-8, stop: str = "gap", max_iter: int = 100,
          max_epochs: int = 10_000, warm_start: tuple | None = None):
    """Solve an inner problem by working-set coordinate descent.

    Parameters
    ----------
    problem : InnerProblem or BlockProblem
    tol : float, default=1e-8
        Tolerance on the stopping criterion.
    stop : {"gap", "kkt"}, default="gap"
        ``"gap"``: duality gap relative to the objective at zero;
        ``"kkt"``: largest absolute violation of the optimality conditions.
    max_iter : int, default=100
        Maximum number of working-set iterations.
    max_epochs : int, default=10000
        Maximum number of epochs on one working set.
    warm_start : tuple (coef, intercept), optional
        Starting point (coef of shape (p,) or (p, T)); zero and the null
        intercept otherwise.

    Returns
    -------
    InnerSolution or BlockSolution
        What ``problem.solution`` makes.
    """
    if stop not in STOP_CRITERIA:
        raise ValueError(f"stop must be one of {STOP_CRITERIA}, got {stop!r}.")
    with single_threaded_blas():
        return _solve(problem, tol, stop, max_iter, max_epochs, warm_start)


def _solve(problem, tol, stop, max_iter, max_epochs, warm_start):
    W, b = problem.initial_point(warm_start)
    n_epochs, best_kkt, best_gap, n_stalls, ws_size, chunk = 0, np.inf, np.inf, 0, 0, 0
    per_check = getattr(problem, "epochs_per_check", None)
    for n_iter in range(1, max_iter + 1):
        S = problem.datafit_state(W, b)  # afresh: the kernel's updates drift
        opt = problem.optimality(W, b, S)
        if opt.achieved(stop) <= tol:
            return problem.solution(W, b, opt, SolverRun(n_iter, n_epochs, True))
        ws = select_working_set(opt.violations, problem.active_units(W))
        # A growing working set is progress even when the largest violation, held
        # by units it has not reached yet, stays put (the SVM's dual from zero:
        # 5000 samples stopped after 6 iterations, its set 100 -> 3200).
        # When the gap is checked every few epochs (``epochs_per_check``: the SVM's
        # dual), so is a lower gap: at a degenerate solution (more free variables
        # than X~ has columns) the largest violation stays while the gap goes down.
        progress = (opt.kkt < best_kkt or ws.shape[0] > ws_size
                    or (per_check is not None and opt.gap < GAP_PROGRESS * best_gap))
        n_stalls = 0 if progress else n_stalls + 1
        if n_stalls >= 5:
            break  # stalled: the tolerance is below what float64 can certify
        chunk = _epochs_before_check(per_check, max_epochs, chunk if ws.shape[0] ==
                                     ws_size else None)
        best_kkt, ws_size = min(best_kkt, opt.kkt), max(ws_size, ws.shape[0])
        best_gap = min(best_gap, opt.gap)
        tol_in = _subproblem_tolerance(opt, ws, stop, tol)
        n_epochs += _solve_working_set(problem, (W, S, b), ws, tol_in, chunk)
    opt = problem.optimality(W, b, problem.datafit_state(W, b))
    converged = opt.achieved(stop) <= tol
    if not converged:
        warn_not_converged(
            f"Inner solver stopped before its tolerance: {stop} = "
            f"{opt.achieved(stop):.3e} > tol = {tol:.1e} after {n_iter} iterations "
            f"(relative duality gap {opt.gap:.3e}, optimality violation "
            f"{opt.kkt:.3e}). Raise max_iter or loosen tol.", gap=opt.gap, kkt=opt.kkt,
        )
    return problem.solution(W, b, opt, SolverRun(n_iter, n_epochs, converged))


def _epochs_before_check(per_check, max_epochs: int, last: int | None) -> int:
    """Epochs of coordinate descent before the next look at the gap: all of them
    (``max_epochs``) unless the problem sets ``epochs_per_check``; then that many
    on a new working set, twice the last chunk on the same one (a slow, linear
    convergence still reaches its tolerance within ``max_iter`` looks, and the
    looks, a full gradient each, stay a small part of the work)."""
    if per_check is None:
        return max_epochs
    return min(max_epochs, per_check if last is None else 2 * last)


def _subproblem_tolerance(opt: Optimality, ws: np.ndarray, stop: str, tol: float):
    """Optimality violation at which to stop on the working set.

    0.3 times the current violation (skglm's rule; aiming lower wastes epochs on a
    working set that is about to change, measured 2.3x slower at alpha_max/100).
    When the working set is every unit, aim straight at the final tolerance,
    converted from the gap to a violation by their current ratio.
    """
    if ws.shape[0] < opt.violations.shape[0]:
        return 0.3 * opt.kkt
    return 0.3 * opt.kkt * min(1.0, tol / max(opt.achieved(stop), 1e-300))


#: A gap below this fraction of the best one so far is progress (chunked solves).
GAP_PROGRESS = 0.99


#: Smallest working set. skglm starts at 10; 100 saves the first doublings, each a
#: full gradient (measured on 500 x 20000 at alpha_max/10: 0.087 s -> 0.069 s).
MIN_WORKING_SET = 100


def select_working_set(violations: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The active units plus the most violating ones, twice the active count (and
    at least ``MIN_WORKING_SET``) in all, sorted."""
    size = max(MIN_WORKING_SET, 2 * int(np.count_nonzero(active)))
    if size >= violations.shape[0]:
        return np.arange(violations.shape[0])
    score = np.where(active, np.inf, violations)
    return np.sort(np.argpartition(-score, size - 1)[:size])


#: Epochs of coordinate descent between two looks at the active units when the
#: problem has a Newton finisher: when they have not changed over one such
#: chunk, Newton steps on them finish the subproblem. A problem may set its own
#: ``newton_every``; the kernel checks its tolerance every ``_cd.CHECK_EVERY``
#: (10) epochs, so a chunk that converged on its last epoch returns a full chunk
#: and is taken as not converged (one more chunk and a Newton attempt follow): a
#: chunk one longer than a multiple of ``CHECK_EVERY`` has no such case.
NEWTON_EVERY = 50


def _solve_working_set(problem, state, ws, tol_in, max_epochs) -> int:
    """Coordinate descent on the units ``ws`` to the violation ``tol_in``; with a
    Newton finisher, Newton steps on the active units once a chunk of epochs
    leaves them unchanged (once per active set). Returns the epochs."""
    X, datafit, penalty, units = problem.kernel_args()
    fit_intercept = problem.fit_intercept
    finisher = problem.newton_finisher
    kernel_state = problem.kernel_state(state)
    shuffle = bool(getattr(problem, "shuffle_units", False))
    if finisher is None:
        return _cd.solve_subproblem(X, datafit, penalty, units, kernel_state, ws,
                                    (fit_intercept, tol_in, max_epochs, shuffle))
    done, previous, tried = 0, None, None
    every = getattr(problem, "newton_every", NEWTON_EVERY)
    while done < max_epochs:
        chunk = min(every, max_epochs - done)
        epochs = _cd.solve_subproblem(X, datafit, penalty, units, kernel_state, ws,
                                      (fit_intercept, tol_in, chunk, shuffle))
        done += epochs
        if epochs < chunk:
            return done
        active = _newton_support(problem, state[0])
        stable = previous is not None and np.array_equal(active, previous)
        if stable and not (tried is not None and np.array_equal(active, tried)):
            finisher(problem, state)
            tried = active
        previous = active
    return done


def _newton_support(problem, W) -> np.ndarray:
    """What must stay the same over a chunk of epochs before Newton steps: the
    problem's ``newton_support(W)`` if it has one (the non-zero entries, for an
    l1 penalty on several tasks), else the indices of its active units."""
    own = getattr(problem, "newton_support", None)
    return own(W) if own is not None else np.flatnonzero(problem.active_units(W))
