"""The optimality system of the multinomial problem restricted to its support.

With F the features whose row of W is not zero, A = [X_F, 1] (the ones only with
an intercept), P = softmax(Z) row by row and Y the one-hot classes, the
optimality conditions on the unknowns read

    X_F^T (P - Y) / n + (lam_j s_j)_j = 0,   (P - Y)^T 1 / n = 0,

s_j = W_j / ||W_j|| (group penalty) or sign(W_j) (l1, on the non-zero entries
only: the unknowns are those entries). The Jacobian is the datafit's Hessian
sum_i (a_i a_i^T) (x) (diag(p_i) - p_i p_i^T) / n plus, for the group penalty,
blockdiag_j(lam_j (I - u_j u_j^T) / ||W_j||). The softmax does not see a common
shift of the intercepts, so the last class's intercept is held fixed (not an
unknown): the criteria do not see that shift either. The system is then regular
unless a row's K entries are all unknowns under the l1 penalty (possible for an
even K: its median interval may hold no shift): the row's shift is then a null
direction, orthogonal to the signs, so the least-squares solve (with a warning)
still gives the exact hypergradient. The derivatives in lam_j are s_j.

Unknowns are ordered row after row of [W_F; b] (classes inside), the masked
entries only. It implements the protocol of ``restricted.py`` (``size``,
``matvec``, ``dense``, ``optimality_map``, ``restrict``, ``pullback``,
``moved``, ``at_point``), as ``block_system.ActiveGroupSystem`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from hyperlasso.inner import softmax

if TYPE_CHECKING:
    from hyperlasso.inner.multinomial import MultinomialProblem


@dataclass(frozen=True, eq=False)
class MultinomialSystem:
    """H, the optimality map and the cross derivatives on the support."""

    problem: MultinomialProblem
    coef: np.ndarray
    intercept: np.ndarray
    features: np.ndarray
    mask: np.ndarray  # (|F| (+1), K): which entries of [W_F; b] are unknowns
    A: np.ndarray  # [X_F, 1] (dense), (n, |F| (+1))

    @classmethod
    def at(cls, problem: MultinomialProblem, coef: np.ndarray, intercept: np.ndarray):
        """Build the system at (coef (p, K), intercept (K,))."""
        features = np.flatnonzero(np.any(coef != 0, axis=1))
        X_F = problem.design.columns(features)
        X_F = X_F.toarray() if sp.issparse(X_F) else np.asarray(X_F, dtype=np.float64)
        rows = (np.ones(coef[features].shape, dtype=bool) if problem.penalty_kind ==
                "group" else coef[features] != 0)
        K = coef.shape[1]
        if problem.fit_intercept:
            X_F = np.hstack([X_F, np.ones((X_F.shape[0], 1))])
            rows = np.vstack([rows, np.arange(K)[None, :] < K - 1])
        return cls(problem, coef, intercept, features, rows, X_F)

    def at_point(self, coef: np.ndarray, intercept: np.ndarray) -> MultinomialSystem:
        """The system at another point with the same unknowns (A reused)."""
        return MultinomialSystem(self.problem, coef, intercept, self.features,
                                 self.mask, self.A)

    @property
    def active(self) -> np.ndarray:
        """The active groups: the support's features (one group per feature)."""
        return self.features

    @property
    def size(self) -> int:
        """Number of unknowns."""
        return int(np.count_nonzero(self.mask))

    @property
    def direct_size(self) -> int:
        """Order of the matrix a direct solve factorizes (H's)."""
        return self.size

    @cached_property
    def _internal_intercept(self) -> np.ndarray:
        return self.problem.internal_intercept(self.coef, self.intercept)

    @cached_property
    def R(self) -> np.ndarray:
        """The datafit's state Z = X_F W_F + 1 b^T (the solver's name for it)."""
        m = self.features.size
        return np.ascontiguousarray(self.A[:, :m] @ self.coef[self.features]
                                    + self._internal_intercept)

    @cached_property
    def _probabilities(self) -> np.ndarray:
        return softmax.probabilities(self.R)

    @cached_property
    def _signs(self) -> np.ndarray:
        """s_j on the rows of W_F: u_j (group) or sign(W_j) (l1), shape (|F|, K)."""
        W_F = self.coef[self.features]
        if self.problem.penalty_kind == "l1":
            return np.sign(W_F)
        return W_F / np.linalg.norm(W_F, axis=1)[:, None]

    @cached_property
    def _lam_over_norm(self) -> np.ndarray:
        """lam_j / ||W_j|| on the rows of W_F (group penalty), shape (|F|,)."""
        return self.problem.lam[self.features] / np.linalg.norm(
            self.coef[self.features], axis=1)

    def objective(self) -> float:
        """The problem's objective at this point, from the support alone."""
        W_F = self.coef[self.features]
        if self.problem.penalty_kind == "group":
            size = np.linalg.norm(W_F, axis=1)
        else:
            size = np.abs(W_F).sum(axis=1)
        return softmax.loss(self.R, self.problem.Y) + float(
            self.problem.lam[self.features] @ size)

    def keeps_support(self, other: MultinomialSystem) -> bool:
        """Whether ``other`` (a moved point) has the same support and, for the l1
        penalty, the same signs (where the objective is the smooth one H models)."""
        m = self.features.size
        old, new = self.coef[self.features], other.coef[other.features]
        if self.problem.penalty_kind == "group":
            return bool(np.all(np.linalg.norm(new, axis=1) > 0.0))
        rows = self.mask[:m]
        return bool(np.all(np.sign(new[rows]) == np.sign(old[rows])))

    def zero_entries_violation(self, grad: np.ndarray) -> float:
        """Largest relative violation, max(|grad_jk| / lam_j - 1, 0), of the l1
        optimality at the zero entries of the support's rows (not unknowns, so
        Newton steps do not keep them optimal); 0 for the group penalty."""
        m = self.features.size
        if self.problem.penalty_kind == "group" or m == 0:
            return 0.0
        zeros = ~self.mask[:m]
        lam = self.problem.lam[self.features][:, None]
        excess = np.abs(grad[self.features]) / lam - 1.0
        return float(np.max(excess[zeros], initial=0.0)) if zeros.any() else 0.0

    def _full(self, v: np.ndarray) -> np.ndarray:
        """The unknowns as [W_F; b] entries, zero off the mask, shape of mask."""
        M = np.zeros(self.mask.shape)
        M[self.mask] = v
        return M

    def _curvature(self, V: np.ndarray) -> np.ndarray:
        """The group penalty's Hessian applied to V on the rows of W_F."""
        m = self.features.size
        out = np.zeros_like(V)
        if self.problem.penalty_kind == "group" and m:
            u, Vf = self._signs, V[:m]
            out[:m] = self._lam_over_norm[:, None] * (
                Vf - u * np.sum(u * Vf, axis=1)[:, None])
        return out

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """H @ v without forming H."""
        V = self._full(v)
        P = self._probabilities
        dZ = self.A @ V
        dG = P * dZ - P * np.sum(P * dZ, axis=1)[:, None]
        out = self.A.T @ dG / self.problem.n_samples + self._curvature(V)
        return out[self.mask]

    def dense(self) -> np.ndarray:
        """H as a dense (size, size) array: B^T B terms of the softmax Hessian."""
        n, (q, K) = self.problem.n_samples, self.mask.shape
        P = self._probabilities
        B = (self.A[:, :, None] * P[:, None, :]).reshape(n, q * K)
        H = -(B.T @ B)  # the p_i p_i^T terms, entry (j K + t, l K + s)
        for t in range(K):  # the diag(p_i) terms
            H[t::K, t::K] += (self.A * P[:, t:t + 1]).T @ self.A
        H /= n
        m = self.features.size
        if self.problem.penalty_kind == "group" and m:
            u = self._signs
            for j in range(m):
                block = slice(j * K, (j + 1) * K)
                H[block, block] += self._lam_over_norm[j] * (np.eye(K)
                                                             - np.outer(u[j], u[j]))
        unknowns = np.flatnonzero(self.mask.ravel())
        return H[np.ix_(unknowns, unknowns)]

    def optimality_map(self) -> np.ndarray:
        """The optimality conditions on the unknowns, shape (size,)."""
        G = self.A.T @ (self._probabilities - self.problem.Y) / self.problem.n_samples
        m = self.features.size
        G[:m] += self.problem.lam[self.features][:, None] * self._signs
        return G[self.mask]

    def restrict(self, grad_coef: np.ndarray, grad_intercept: np.ndarray) -> np.ndarray:
        """The outer gradient (p, K) and (K,) on the unknowns (W_F, internal b)."""
        offset = self.problem.design.offset
        if offset is not None:
            grad_coef = grad_coef - np.outer(offset, grad_intercept)
        rows = grad_coef[self.features]
        if self.problem.fit_intercept:
            rows = np.vstack([rows, np.asarray(grad_intercept)[None, :]])
        return rows[self.mask]

    def pullback(self, v: np.ndarray) -> tuple[np.ndarray, float]:
        """Gradients in (lam (n_features,), l2) from the adjoint v = H^{-1} r."""
        V = self._full(v)[:self.features.size]
        g_lam = np.zeros(self.problem.groups.n_groups)
        g_lam[self.features] = -np.sum(self._signs * V, axis=1)
        return g_lam, -float(np.sum(self.coef[self.features] * V))

    def moved(self, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point (coef, intercept) minus ``step`` on the unknowns."""
        S = self._full(step)
        m = self.features.size
        coef = self.coef.copy()
        coef[self.features] -= S[:m]
        b_int = self._internal_intercept - (S[m] if self.problem.fit_intercept else 0.0)
        return coef, self.problem.external_intercept(coef, b_int)
