"""The block inner problem and its working-set solver.

    minimize_{W, b}  ||Y - XW - 1 b^T||_F^2 / (2n) + sum_g lam_g ||W_g||_F + l2/2 ||W||_F^2

with W of shape (p, T) and b of shape (T,). The multi-task Lasso is the case of
one-feature groups (rows of W), the group Lasso the case T = 1, and the Lasso
the case of both. The solver is the one of every inner problem (``solver.py``,
around the kernel ``_cd``), with the groups as units, finished by Newton steps on
the active groups (``block_newton``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from hyperlasso.inner._design import TASK_MAJOR_BELOW
from hyperlasso.inner.block_newton import newton_on_active_groups
from hyperlasso.inner.block_system import ActiveGroupSystem
from hyperlasso.inner.datafits import Quadratic
from hyperlasso.inner.groups import Groups
from hyperlasso.inner.penalties import GroupL2
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import Optimality, SolverRun


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

    def active_system(self, coef: np.ndarray, intercept: np.ndarray):
        """The optimality system on the active groups at (coef, intercept), which
        implicit differentiation and polish solve (``block_system``)."""
        return ActiveGroupSystem.at(self, coef, intercept)

    # ---------------------------------------------- what the solver asks (solver.py)
    newton_finisher = staticmethod(newton_on_active_groups)

    @cached_property
    def kernel_datafit(self) -> Quadratic:
        """The quadratic datafit on Y (a vector for one task), as ``_cd`` takes it."""
        Y = self.Y[:, 0] if self.Y.shape[1] == 1 else self.Y
        return Quadratic(np.ascontiguousarray(Y, dtype=np.float64), self.lipschitz)

    def kernel_args(self):
        """``(X, datafit, penalty, units)`` for ``_cd``: the groups are the units."""
        indices, indptr = self.groups.kernel_view()
        return (self.design.kernel_view, self.kernel_datafit, self.penalty,
                (indices, indptr, self.lipschitz))

    @staticmethod
    def kernel_state(state):
        """The state as ``_cd`` takes it: vectors W[:, 0] and R[:, 0] (views) for
        one task, which numba compiles into the loops of a scalar descent."""
        W, R, b = state
        if W.shape[1] == 1:
            return W[:, 0], R[:, 0], b
        return state

    def initial_point(self, warm_start) -> tuple[np.ndarray, np.ndarray]:
        """(W, internal intercepts): the warm start (validated, copied) or zero with
        the null intercept."""
        W, b = block_starting_point(self, warm_start)
        return W, self.internal_intercept(W, b)

    def datafit_state(self, W: np.ndarray, b_internal: np.ndarray) -> np.ndarray:
        """The quadratic datafit's state: the residual (``residual``)."""
        return self.residual(W, b_internal)

    def optimality(self, W, b_internal, R=None) -> Optimality:
        """Gradient X^T R / n, group violations, KKT violation and relative gap at
        (W, internal intercepts); R the residual if the caller has it."""
        R = self.residual(W, b_internal) if R is None else R
        grad = self.design.rmatmat(R) / self.n_samples
        viol = self.violations(W, grad)
        kkt = float(viol.max(initial=0.0))
        if self.fit_intercept:
            kkt = max(kkt, float(np.max(np.abs(R.mean(axis=0)))))
        gap = self.duality_gap(W, R, grad) / max(self.null_objective(), 1e-300)
        return Optimality(grad, viol, kkt, max(gap, 0.0))

    def active_units(self, W: np.ndarray) -> np.ndarray:
        """The groups whose block of W is not zero."""
        return self.groups.norms(W) > 0

    def solution(self, W, b_internal, opt: Optimality, run: SolverRun) -> BlockSolution:
        """The ``BlockSolution`` at (W, internal intercepts)."""
        return BlockSolution(
            coef=W, intercept=self.external_intercept(W, b_internal),
            support=np.flatnonzero(np.any(W != 0, axis=1)),
            active_groups=np.flatnonzero(self.active_units(W)), gap=opt.gap,
            kkt=opt.kkt, n_iter=run.n_iter, n_epochs=run.n_epochs,
            converged=run.converged)


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
