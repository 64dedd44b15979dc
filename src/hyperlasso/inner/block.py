"""The block inner problem and its working-set solver.

    minimize_{W, b}  ||Y - XW - 1 b^T||_F^2 / (2n) + sum_g lam_g ||W_g||_F + l2/2 ||W||_F^2

with W of shape (p, T) and b of shape (T,). The multi-task Lasso is the case of
one-feature groups (rows of W), the group Lasso the case T = 1, and the Lasso
the case of both. The solver is the one of ``solver.py`` with groups in place of
features: a Python loop of working-set iterations (full gradient by BLAS,
violations, duality gap) around a numba block coordinate descent with Anderson
extrapolation (``_bcd``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from hyperlasso.inner import _bcd
from hyperlasso.inner._design import TASK_MAJOR_BELOW
from hyperlasso.inner.block_newton import newton_on_active_groups
from hyperlasso.inner.convergence import warn_not_converged
from hyperlasso.inner.groups import Groups
from hyperlasso.inner.penalties import GroupL2
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import MIN_WORKING_SET, STOP_CRITERIA
from hyperlasso.inner.threads import single_threaded_blas


@dataclass(frozen=True, eq=False)
class BlockProblem:
    """The block problem (module docstring) on a design, a target and groups.

    Parameters
    ----------
    design : Design
    Y : ndarray of shape (n_samples, n_tasks)
    groups : Groups
    lam : ndarray of shape (n_groups,)
        Positive group weights.
    l2 : float
        Non-negative l2 weight.
    fit_intercept : bool
    """

    design: Design
    Y: np.ndarray
    groups: Groups
    lam: np.ndarray
    l2: float = 0.0
    fit_intercept: bool = True

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.Y.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """Shape (n_features, n_tasks) of W."""
        return self.design.shape[1], self.Y.shape[1]

    @cached_property
    def lipschitz(self) -> np.ndarray:
        """Lipschitz constants ||X_g||_2^2 / n of the group gradients, (n_groups,)."""
        return group_lipschitz(self.design, self.groups)

    def null_intercept(self) -> np.ndarray:
        """Optimal intercept at W = 0, shape (T,)."""
        if not self.fit_intercept:
            return np.zeros(self.Y.shape[1])
        return self.Y.mean(axis=0)

    def null_objective(self) -> float:
        """Objective at W = 0 with the optimal intercept: the scale of the gap."""
        centered = self.Y - self.null_intercept()
        return 0.5 * float(np.sum(centered**2)) / self.n_samples

    def residual(self, W: np.ndarray, b_internal: np.ndarray) -> np.ndarray:
        """R = XW + 1 b^T - Y (internal intercept), shape (n, T); Fortran order
        below ``TASK_MAJOR_BELOW`` tasks, C order from it on."""
        R = self.design.matmat(W) + b_internal - self.Y
        if R.shape[1] < TASK_MAJOR_BELOW:  # the layout the kernels read fastest
            return np.asfortranarray(R)
        return np.ascontiguousarray(R)

    def internal_intercept(self, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The intercept of the centered design: b + mean(X) W."""
        offset = self.design.offset
        return np.array(b, dtype=np.float64) if offset is None else b + offset @ W

    def external_intercept(self, W: np.ndarray, b_internal: np.ndarray) -> np.ndarray:
        """The user's intercept from the centered design's one."""
        offset = self.design.offset
        return b_internal.copy() if offset is None else b_internal - offset @ W

    def gradient_at_zero(self) -> np.ndarray:
        """X^T grad F at W = 0 with the optimal intercept, shape (p, T)."""
        return self.design.rmatmat(self.null_intercept() - self.Y) / self.n_samples

    @cached_property
    def penalty(self) -> GroupL2:
        """The penalty ``GroupL2(lam, l2)``, as the kernels take it."""
        return GroupL2(np.ascontiguousarray(self.lam, dtype=np.float64), float(self.l2))

    def penalty_value(self, W: np.ndarray) -> float:
        """sum_g lam_g ||W_g|| + l2/2 ||W||^2."""
        return self.penalty.value(W, self.groups)

    def objective(self, W: np.ndarray, R: np.ndarray) -> float:
        """||R||^2 / (2n) + the penalty at W, R the residual of W."""
        return 0.5 * float(np.sum(R**2)) / self.n_samples + self.penalty_value(W)

    def violations(self, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Distance of -grad_g to the subdifferential at W_g, shape (n_groups,)."""
        return self.penalty.distances(W, grad, self.groups)

    def duality_gap(self, W: np.ndarray, R: np.ndarray, grad: np.ndarray) -> float:
        """Primal minus dual objective, dual point -R / n (centered, rescaled)."""
        n = self.n_samples
        theta, xt_theta = -R / n, -grad
        if self.fit_intercept:
            shift = theta.mean(axis=0)
            theta = theta - shift
            xt_theta = xt_theta - np.outer(self.design.col_sums, shift)
        scale, conj = self.penalty.dual_terms(xt_theta, self.groups)
        theta = theta * scale
        dual = float(np.sum(theta * self.Y) - 0.5 * n * np.sum(theta**2)) - conj
        return self.objective(W, R) - dual

    def kernel_args(self):
        """``(X, groups, penalty)`` packed for ``_bcd``."""
        indices, indptr = self.groups.kernel_view()
        return (self.design.kernel_view, (indices, indptr, self.lipschitz),
                self.penalty)


def group_lipschitz(design: Design, groups: Groups) -> np.ndarray:
    """||X_g||_2^2 / n for every group (column norms for one-feature groups).

    Computed once per design and partition (cached on the design: an outer loop
    builds a problem per evaluation).
    """
    n = design.shape[0]
    if groups.are_singletons:
        return design.col_sq_norms / n
    cache = design.__dict__.setdefault("_group_lipschitz", {})
    key = (groups.indices.tobytes(), groups.indptr.tobytes())
    if key not in cache:
        cache[key] = _spectral_lipschitz(design, groups) / n
    return cache[key]


def _spectral_lipschitz(design: Design, groups: Groups) -> np.ndarray:
    """||X_g||_2^2 for every group: one batched eigvalsh per group size."""
    out = np.empty(groups.n_groups)
    sizes = groups.sizes
    for size in np.unique(sizes):
        same = np.flatnonzero(sizes == size)
        if size == 1:
            out[same] = design.col_sq_norms[groups.indices[groups.indptr[same]]]
            continue
        batch = max(1, LIPSCHITZ_BATCH_ENTRIES // (design.shape[0] * size))
        for start in range(0, same.size, batch):  # bounded dense copies of X_g
            chunk = same[start:start + batch]
            members = groups.indices[groups.indptr[chunk][:, None] + np.arange(size)]
            X_g = design.columns(members.ravel())
            X_g = X_g.toarray() if sp.issparse(X_g) else np.asarray(X_g)
            X_g = X_g.reshape(X_g.shape[0], chunk.size, size).transpose(1, 0, 2)
            grams = np.matmul(X_g.transpose(0, 2, 1), X_g)  # batched BLAS
            out[chunk] = np.linalg.eigvalsh(grams)[:, -1]
    return out


#: Entries of the dense copies of group columns made at once (80 MB).
LIPSCHITZ_BATCH_ENTRIES = 10_000_000


@dataclass(frozen=True)
class BlockSolution:
    """Result of the block solver.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_tasks)
    intercept : ndarray of shape (n_tasks,)
    support : ndarray of int
        Indices of the features with a non-zero row, sorted.
    active_groups : ndarray of int
        Groups with a non-zero block, sorted.
    gap, kkt : float
        Relative duality gap and largest optimality violation.
    n_iter, n_epochs : int
    converged : bool
    """

    coef: np.ndarray
    intercept: np.ndarray
    support: np.ndarray
    active_groups: np.ndarray
    gap: float
    kkt: float
    n_iter: int
    n_epochs: int
    converged: bool


@dataclass(frozen=True)
class BlockOptimality:
    """Gradient X^T R / n, group violations, KKT violation and relative gap."""

    grad: np.ndarray
    violations: np.ndarray
    kkt: float
    gap: float


def measure_block_optimality(problem: BlockProblem, W, b_internal, R=None):
    """Optimality measures at (W, internal intercept); R if the caller has it."""
    R = problem.residual(W, b_internal) if R is None else R
    grad = problem.design.rmatmat(R) / problem.n_samples
    viol = problem.violations(W, grad)
    kkt = float(viol.max(initial=0.0))
    if problem.fit_intercept:
        kkt = max(kkt, float(np.max(np.abs(R.mean(axis=0)))))
    gap = problem.duality_gap(W, R, grad) / max(problem.null_objective(), 1e-300)
    return BlockOptimality(grad, viol, kkt, max(gap, 0.0))


def solve_block(problem: BlockProblem, tol: float = 1e-8, stop: str = "gap",
                max_iter: int = 100, max_epochs: int = 10_000,
                warm_start=None) -> BlockSolution:
    """Solve the block problem by working-set block coordinate descent.

    Parameters as :func:`hyperlasso.inner.solver.solve`; ``warm_start`` is a pair
    (coef of shape (p, T), intercept of shape (T,)).
    """
    if stop not in STOP_CRITERIA:
        raise ValueError(f"stop must be one of {STOP_CRITERIA}, got {stop!r}.")
    with single_threaded_blas():
        return _solve(problem, tol, stop, max_iter, max_epochs, warm_start)


def _solve(problem, tol, stop, max_iter, max_epochs, warm_start) -> BlockSolution:
    W, b = block_starting_point(problem, warm_start)
    b_int = problem.internal_intercept(W, b)
    R = problem.residual(W, b_int)
    n_epochs, best_kkt, n_stalls = 0, np.inf, 0
    for n_iter in range(1, max_iter + 1):
        opt = measure_block_optimality(problem, W, b_int, R)
        if (opt.gap if stop == "gap" else opt.kkt) <= tol:
            return _solution(problem, W, b_int, opt, n_iter, n_epochs, True)
        n_stalls = n_stalls + 1 if opt.kkt >= best_kkt else 0
        if n_stalls >= 5:
            break  # stalled: the tolerance is below what float64 can certify
        best_kkt = min(best_kkt, opt.kkt)
        ws = _working_set(problem, opt.violations, W)
        tol_in = 0.3 * opt.kkt
        if ws.shape[0] == problem.groups.n_groups:
            current = opt.gap if stop == "gap" else opt.kkt
            tol_in *= min(1.0, tol / max(current, 1e-300))
        n_epochs += _solve_working_set(problem, (W, R, b_int), ws, tol_in, max_epochs)
    opt = measure_block_optimality(problem, W, b_int, R)
    converged = (opt.gap if stop == "gap" else opt.kkt) <= tol
    if not converged:
        warn_not_converged(
            f"Block solver stopped before its tolerance: {stop} = "
            f"{opt.gap if stop == 'gap' else opt.kkt:.3e} > tol = {tol:.1e} after "
            f"{n_iter} iterations. Raise max_iter or loosen tol.", gap=opt.gap, kkt=opt.kkt)
    return _solution(problem, W, b_int, opt, n_iter, n_epochs, converged)


#: Epochs of block coordinate descent between two looks at the active groups:
#: when they have not changed over one such chunk, Newton steps on them
#: (``block_newton``) finish the subproblem.
NEWTON_EVERY = 50


def _solve_working_set(problem: BlockProblem, state, ws, tol_in, max_epochs) -> int:
    """Block CD on the groups ``ws`` to the violation ``tol_in``, with Newton
    steps on the active groups once a chunk of epochs leaves them unchanged (once
    per active set); returns the epochs."""
    X, groups, penalty = problem.kernel_args()
    done, previous, tried = 0, None, None
    while done < max_epochs:
        chunk = min(NEWTON_EVERY, max_epochs - done)
        epochs = _bcd.solve_subproblem(X, groups, penalty, state, ws,
                                       problem.fit_intercept, tol_in, chunk)
        done += epochs
        if epochs < chunk:
            return done
        active = np.flatnonzero(problem.groups.norms(state[0]) > 0)
        stable = previous is not None and np.array_equal(active, previous)
        if stable and not (tried is not None and np.array_equal(active, tried)):
            newton_on_active_groups(problem, state)
            tried = active
        previous = active
    return done


def _working_set(problem: BlockProblem, violations, W) -> np.ndarray:
    """Active groups plus the most violating ones, twice the active count in all."""
    active = problem.groups.norms(W) > 0
    size = max(MIN_WORKING_SET, 2 * int(np.count_nonzero(active)))
    if size >= violations.shape[0]:
        return np.arange(violations.shape[0])
    score = np.where(active, np.inf, violations)
    return np.sort(np.argpartition(-score, size - 1)[:size])


def block_starting_point(problem: BlockProblem, warm_start):
    """The warm start (validated, copied) or zero with the null intercept."""
    if warm_start is None:
        return np.zeros(problem.shape), problem.null_intercept()
    coef, intercept = warm_start
    coef = np.array(coef, dtype=np.float64).reshape(-1, problem.shape[1])
    if coef.shape != problem.shape:
        raise ValueError(f"warm_start coef must have shape {problem.shape}, got "
                         f"{np.shape(warm_start[0])}.")
    intercept = np.broadcast_to(np.asarray(intercept, dtype=np.float64),
                                (problem.shape[1],)).copy()
    return coef, intercept if problem.fit_intercept else np.zeros(problem.shape[1])


def _solution(problem, W, b_int, opt, n_iter, n_epochs, converged) -> BlockSolution:
    active = np.flatnonzero(problem.groups.norms(W) > 0)
    return BlockSolution(
        coef=W, intercept=problem.external_intercept(W, b_int),
        support=np.flatnonzero(np.any(W != 0, axis=1)), active_groups=active,
        gap=opt.gap, kkt=opt.kkt, n_iter=n_iter, n_epochs=n_epochs, converged=converged)
