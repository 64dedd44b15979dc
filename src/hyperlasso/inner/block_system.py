"""The optimality system of the block problem restricted to its active groups.

On the active groups A (W_g != 0), with F their features (group after group),
u_g = W_g / ||W_g|| and the residual R = X_F W_F + 1 b^T - Y, the optimality
conditions read

    [X_F^T R / n + l2 W_F + (lam_g u_g)_g ;  R^T 1 / n] = 0.

Unknowns are vec(W_F) (row-major: feature after feature, tasks inside) and b.
The Jacobian is H = (A^T A / n) (x) I_T + l2 I + blockdiag_g(lam_g (I - u_g u_g^T)
/ ||W_g||) with A = [X_F, 1]; the derivatives in lam_g and l2 are u_g and W_F.
It implements the protocol of ``restricted.py`` (``size``, ``matvec``, ``dense``,
``optimality_map``, ``restrict``, ``pullback``, ``moved``), so ``factorize``
and the implicit methods serve it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse as sp

if TYPE_CHECKING:  # block.py's solver takes Newton steps on this system
    from hyperlasso.inner.block import BlockProblem


@dataclass(frozen=True, eq=False)
class ActiveGroupSystem:
    """H, the optimality map and the cross derivatives on the active groups."""

    problem: BlockProblem
    coef: np.ndarray
    intercept: np.ndarray
    active: np.ndarray
    features: np.ndarray
    X_F: object
    R: np.ndarray
    shared: dict = field(default_factory=dict)  # products of X_F, for every point

    @classmethod
    def at(cls, problem: BlockProblem, coef: np.ndarray, intercept: np.ndarray):
        """Build the system at (coef (p, T), intercept (T,))."""
        active = np.flatnonzero(problem.groups.norms(coef) > 0)
        features = problem.groups.features_of(active)
        return cls._build(problem, coef, intercept, active, features,
                          problem.design.columns(features))

    @classmethod
    def _build(cls, problem, coef, intercept, active, features, X_F, shared=None):
        b_int = problem.internal_intercept(coef, intercept)
        R = np.asarray(X_F @ coef[features]) + b_int - problem.Y
        return cls(problem, coef, intercept, active, features, X_F, R,
                   {} if shared is None else shared)

    def at_point(self, coef: np.ndarray, intercept: np.ndarray) -> ActiveGroupSystem:
        """The system at another point with the same active groups (X_F and its
        Gram matrix reused)."""
        return self._build(self.problem, coef, intercept, self.active, self.features,
                           self.X_F, self.shared)

    def _gram(self) -> np.ndarray:
        """X_F^T X_F / n, dense, computed once for all points."""
        if "gram" not in self.shared:
            gram = self.X_F.T @ self.X_F
            gram = gram.toarray() if sp.issparse(gram) else np.asarray(gram)
            self.shared["gram"] = gram / self.problem.n_samples
        return self.shared["gram"]

    @property
    def n_tasks(self) -> int:
        """T."""
        return self.problem.Y.shape[1]

    @property
    def size(self) -> int:
        """|F| T (+ T with an intercept)."""
        return (self.features.size + int(self.problem.fit_intercept)) * self.n_tasks

    @cached_property
    def _row_group(self) -> np.ndarray:
        """Index into ``active`` of the group of each row of W_F."""
        return np.repeat(np.arange(self.active.size),
                         self.problem.groups.sizes[self.active])

    @cached_property
    def _group_starts(self) -> np.ndarray:
        """First row of each active group in W_F."""
        return np.concatenate([[0], np.cumsum(self.problem.groups.sizes[self.active])[:-1]])

    def _group_rows(self, M: np.ndarray) -> np.ndarray:
        """Sums of the rows of M (|F|, ...) over each active group, shape (|A|, ...)."""
        if self.problem.groups.are_singletons or M.shape[0] == 0:
            return M
        return np.add.reduceat(M, self._group_starts, axis=0)

    def _group_sums(self, M: np.ndarray) -> np.ndarray:
        """Sum of the entries of M (|F|, T) over each active group's rows."""
        return self._group_rows(M.sum(axis=1))

    def _group_sums_2d(self, M: np.ndarray) -> np.ndarray:
        """Sums of the blocks of M (|F|, |F|) over pairs of active groups."""
        if self.problem.groups.are_singletons or M.size == 0:
            return M
        return np.add.reduceat(self._group_rows(M), self._group_starts, axis=1)

    @property
    def direct_size(self) -> int:
        """Order of the matrices the direct solve factorizes (|F| + 1 at most)."""
        return self.features.size + int(self.problem.fit_intercept)

    @cached_property
    def active_norms(self) -> np.ndarray:
        """||W_g|| of the active groups, from the rows of W_F alone."""
        W_F = self.coef[self.features]
        return np.sqrt(self._group_rows(np.einsum("jt,jt->j", W_F, W_F)))

    def keeps_support(self, other: ActiveGroupSystem) -> bool:
        """Whether no active group of ``other`` (a moved point) is zero."""
        return bool(np.all(other.active_norms > 0.0))

    def objective(self) -> float:
        """The problem's objective at this point (``BlockProblem.objective``),
        from the active groups alone: the others are zero at every point of the
        system, so this costs O(|F| T), not O(p T)."""
        problem = self.problem
        penalty = float(problem.lam[self.active] @ self.active_norms)
        if problem.l2:
            penalty += 0.5 * problem.l2 * float(np.sum(self.coef[self.features] ** 2))
        return 0.5 * float(np.sum(self.R**2)) / problem.n_samples + penalty

    @cached_property
    def _directions(self) -> np.ndarray:
        """u_g = W_g / ||W_g|| on the rows of W_F, shape (|F|, T)."""
        return self.coef[self.features] / self.active_norms[self._row_group][:, None]

    @cached_property
    def _lam_over_norm(self) -> np.ndarray:
        """lam_g / ||W_g|| on the rows of W_F, shape (|F|,)."""
        return (self.problem.lam[self.active] / self.active_norms)[self._row_group]

    def _split(self, v):
        m = self.features.size * self.n_tasks
        V = v[:m].reshape(self.features.size, self.n_tasks)
        c = v[m:] if self.problem.fit_intercept else np.zeros(self.n_tasks)
        return V, c

    def _join(self, V, c):
        if self.problem.fit_intercept:
            return np.concatenate([np.ravel(V), np.ravel(c)])
        return np.ravel(V).astype(np.float64)

    def _penalty_curvature(self, V: np.ndarray) -> np.ndarray:
        """blockdiag(lam_g (I - u_g u_g^T) / ||W_g||) applied to V (|F|, T)."""
        u = self._directions
        along = self._group_sums(u * V)[self._row_group]
        return self.problem.penalty.support_curvature(u, self._lam_over_norm, along, V)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """H @ v without forming H."""
        V, c = self._split(v)
        Q = (np.asarray(self.X_F @ V) + c) / self.problem.n_samples
        out_W = np.asarray(self.X_F.T @ Q) + self.problem.l2 * V
        return self._join(out_W + self._penalty_curvature(V), Q.sum(axis=0))

    def dense(self) -> np.ndarray:
        """H as a dense (size, size) array."""
        m, T = self.features.size, self.n_tasks
        H = np.zeros((self.size, self.size))
        H_W = H[:m * T, :m * T]  # a view
        for t in range(T):  # (gram (x) I_T) without the Kronecker product
            H_W[t::T, t::T] = self._gram()
        # blockdiag_g(lam_g (I - u_g u_g^T) / ||W_g||) on the entries of vec(W_F),
        # the rank-one terms of all groups at once: entries of one group only.
        weight = np.repeat(self._lam_over_norm, T)
        u = self._directions.ravel()
        group = np.repeat(self._row_group, T)
        H_W -= np.where(group[:, None] == group[None, :],
                        np.outer(weight * u, u), 0.0)
        diagonal = np.arange(m * T)
        H_W[diagonal, diagonal] += self.problem.l2 + weight
        if self.problem.fit_intercept:
            sums = np.asarray(self.X_F.sum(axis=0)).ravel() / self.problem.n_samples
            H[:m * T, m * T:] = np.kron(sums[:, None], np.eye(T))
            H[m * T:, :m * T] = H[:m * T, m * T:].T
            H[m * T:, m * T:] = np.eye(T)
        return H

    def optimality_map(self) -> np.ndarray:
        """The optimality conditions on the active groups, shape (size,)."""
        W_F = self.coef[self.features]
        grad = np.asarray(self.X_F.T @ self.R) / self.problem.n_samples
        grad += self.problem.l2 * W_F
        grad += self.problem.lam[self.active][self._row_group][:, None] * self._directions
        return self._join(grad, self.R.sum(axis=0) / self.problem.n_samples)

    def restrict(self, grad_coef: np.ndarray, grad_intercept: np.ndarray) -> np.ndarray:
        """The outer gradient (p, T) and (T,) on the unknowns (W_F, internal b)."""
        offset = self.problem.design.offset
        if offset is not None:
            grad_coef = grad_coef - np.outer(offset, grad_intercept)
        return self._join(grad_coef[self.features], grad_intercept)

    def pullback(self, v: np.ndarray) -> tuple[np.ndarray, float]:
        """Gradients in (lam (n_groups,), l2) from the adjoint v = H^{-1} r."""
        V, _ = self._split(v)
        g_lam = np.zeros(self.problem.groups.n_groups)
        g_lam[self.active] = -self._group_sums(self._directions * V)
        return g_lam, -float(np.sum(self.coef[self.features] * V))

    def moved(self, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point (coef, intercept) minus ``step`` on the unknowns."""
        step_W, step_b = self._split(step)
        coef = self.coef.copy()
        coef[self.features] -= step_W
        b_int = self.problem.internal_intercept(self.coef, self.intercept) - step_b
        return coef, self.problem.external_intercept(coef, b_int)


def structured_solver(system: ActiveGroupSystem):
    """Exact solve(r) = H^{-1} r in O(m^3 + |A|^3), m = |F| (+1), not O((m T)^3).

    H = kron(A, I_T) - U C U^T, where A = X_F^T X_F / n + l2 I + diag(lam_g /
    ||W_g||) (bordered by the intercept's row and column), C = diag(lam_g /
    ||W_g||) and U has one column per active group, u_g on the group's rows. By
    Woodbury, H^{-1} = P^{-1} + P^{-1} U S^{-1} U^T P^{-1} with P = kron(A, I_T)
    (T right-hand sides of one m x m Cholesky) and the capacitance
    S = C^{-1} - U^T P^{-1} U, positive definite when H is. Raises
    ``np.linalg.LinAlgError`` if A or S is not positive definite.
    """
    m, T = system.features.size, system.n_tasks
    A = system._gram() + np.diag(system.problem.l2 + system._lam_over_norm)
    if system.problem.fit_intercept:
        sums = np.asarray(system.X_F.sum(axis=0)).ravel() / system.problem.n_samples
        A = np.block([[A, sums[:, None]], [sums[None, :], np.ones((1, 1))]])
    factor_A = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
    u = system._directions
    inner = system._group_sums_2d(_inverse_block(factor_A, m) * (u @ u.T))
    capacitance = np.diag(system.active_norms / system.problem.lam[system.active]) - inner
    factor_S = scipy.linalg.cho_factor(capacitance, check_finite=False)
    row_group = system._row_group

    def solve(r: np.ndarray) -> np.ndarray:
        first = scipy.linalg.cho_solve(factor_A, r.reshape(-1, T), check_finite=False)
        coupled = system._group_sums(u * first[:m])
        weights = scipy.linalg.cho_solve(factor_S, coupled, check_finite=False)
        back = np.zeros_like(first)
        back[:m] = u * weights[row_group][:, None]
        return (first + scipy.linalg.cho_solve(factor_A, back, check_finite=False)).ravel()
    return solve


#: The low-rank solve replaces H's Cholesky when n + |A| is below this times |F|
#: (one task): an LU of order n + |A| instead of a Cholesky of order |F| + 1, and
#: no |F| x |F| Gram matrix (GroupLassoCV on 300 x 10000: |F| ~ 950, n + |A| ~ 340).
LOW_RANK_RATIO = 0.5


def low_rank_applies(system: ActiveGroupSystem) -> bool:
    """One task and more active features than samples plus active groups."""
    return system.n_tasks == 1 and (
        system.problem.n_samples + system.active.size
        < LOW_RANK_RATIO * system.features.size)


def has_structured_solve(system) -> bool:
    """Whether H has a solve cheaper than its own factorization: several tasks
    (``structured_solver``) or the low-rank case of one task (``low_rank_solver``);
    never for another system (the multinomial one: its tasks are coupled)."""
    if not isinstance(system, ActiveGroupSystem):
        return False
    return system.n_tasks > 1 or low_rank_applies(system)


def structured_direct_solver(system: ActiveGroupSystem):
    """``low_rank_solver`` with one task, ``structured_solver`` with several; only
    where ``has_structured_solve``. Raises ``np.linalg.LinAlgError`` as they do."""
    return (low_rank_solver if system.n_tasks == 1 else structured_solver)(system)


def low_rank_solver(system: ActiveGroupSystem):
    """Exact solve(r) = H^{-1} r for one task through H's low-rank structure.

    With the intercept eliminated (its row reads s^T v + c = r_b, s the column
    means of X_F), H reduces to D + Xc^T Xc / n - U C U^T on W_F: D = diag(l2 +
    lam_g / ||w_g||), Xc the centered X_F (X_F without an intercept), U the
    directions u_g (one column per active group), C = diag(lam_g / ||w_g||). By
    Woodbury with V = [Xc^T / sqrt(n), U] and E = diag(I, -C), its inverse is
    D^{-1} - D^{-1} V K^{-1} V^T D^{-1}, K = E^{-1} + V^T D^{-1} V symmetric
    indefinite of order n + |A| (LU). K's group block, sum_g u^2 / d - 1 / c_g,
    is written -l2 / (c_g (c_g + l2)) to avoid its cancellation. One step of
    iterative refinement on H's matvec brings the result to rounding level.
    Raises ``np.linalg.LinAlgError`` if K is singular.
    """
    problem = system.problem
    n, m = problem.n_samples, system.features.size
    X_F = system.X_F.toarray() if sp.issparse(system.X_F) else np.asarray(system.X_F)
    means = X_F.mean(axis=0) if problem.fit_intercept else np.zeros(m)
    Xc = (X_F - means) / np.sqrt(n)
    u = system._directions[:, 0]
    c = problem.lam[system.active] / system.active_norms
    d = problem.l2 + system._lam_over_norm
    row_group = system._row_group
    Xc_scaled = Xc / d
    K = np.empty((n + c.size, n + c.size))
    K[:n, :n] = Xc_scaled @ Xc.T
    K[:n, :n][np.diag_indices(n)] += 1.0
    K[:n, n:] = system._group_rows((Xc_scaled * u).T).T
    K[n:, :n] = K[:n, n:].T
    K[n:, n:] = np.diag(-problem.l2 / (c * (c + problem.l2)))
    lu = scipy.linalg.lu_factor(K, check_finite=False)
    if not np.all(np.isfinite(lu[0])) or np.any(np.diag(lu[0]) == 0.0):
        raise np.linalg.LinAlgError("The low-rank capacitance matrix is singular.")

    def reduced(r_w: np.ndarray) -> np.ndarray:
        v = r_w / d
        t = np.concatenate([Xc @ v, system._group_rows(u * v)])
        y = scipy.linalg.lu_solve(lu, t, check_finite=False)
        return v - (Xc.T @ y[:n] + u * y[n:][row_group]) / d

    def once(r: np.ndarray) -> np.ndarray:
        if not problem.fit_intercept:
            return reduced(r)
        v = reduced(r[:m] - means * r[m])
        return np.append(v, r[m] - means @ v)

    def solve(r: np.ndarray) -> np.ndarray:
        x = once(r)
        return x + once(r - system.matvec(x))
    return solve


def _inverse_block(factor, m: int) -> np.ndarray:
    """The leading m x m block of A^{-1} from A's lower Cholesky factor (LAPACK potri)."""
    inverse, info = scipy.linalg.lapack.dpotri(factor[0], lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info={info}).")
    inverse = np.tril(inverse)
    inverse += np.tril(inverse, -1).T
    return inverse[:m, :m]
