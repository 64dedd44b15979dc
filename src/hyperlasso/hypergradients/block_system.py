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

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

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

    @classmethod
    def at(cls, problem: BlockProblem, coef: np.ndarray, intercept: np.ndarray):
        """Build the system at (coef (p, T), intercept (T,))."""
        active = np.flatnonzero(problem.groups.norms(coef) > 0)
        features = problem.groups.features_of(active)
        return cls._build(problem, coef, intercept, active, features,
                          problem.design.columns(features))

    @classmethod
    def _build(cls, problem, coef, intercept, active, features, X_F):
        b_int = problem.internal_intercept(coef, intercept)
        R = np.asarray(X_F @ coef[features]) + b_int - problem.Y
        return cls(problem, coef, intercept, active, features, X_F, R)

    def at_point(self, coef: np.ndarray, intercept: np.ndarray) -> ActiveGroupSystem:
        """The system at another point with the same active groups (X_F reused)."""
        return self._build(self.problem, coef, intercept, self.active, self.features,
                           self.X_F)

    @property
    def n_tasks(self) -> int:
        """T."""
        return self.problem.Y.shape[1]

    @property
    def size(self) -> int:
        """|F| T (+ T with an intercept)."""
        return (self.features.size + int(self.problem.fit_intercept)) * self.n_tasks

    @cached_property
    def _slices(self) -> list[slice]:
        """Rows of each active group within W_F."""
        sizes = self.problem.groups.sizes[self.active]
        ends = np.cumsum(sizes)
        return [slice(e - s, e) for s, e in zip(sizes, ends, strict=True)]

    @cached_property
    def _norms(self) -> np.ndarray:
        return self.problem.groups.norms(self.coef)[self.active]

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
        W_F = self.coef[self.features]
        out = np.empty_like(V)
        for k, rows in enumerate(self._slices):
            g, norm = self.active[k], self._norms[k]
            u = W_F[rows] / norm
            out[rows] = self.problem.lam[g] / norm * (V[rows] - u * np.sum(u * V[rows]))
        return out

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """H @ v without forming H."""
        V, c = self._split(v)
        Q = (np.asarray(self.X_F @ V) + c) / self.problem.n_samples
        out_W = np.asarray(self.X_F.T @ Q) + self.problem.l2 * V
        return self._join(out_W + self._penalty_curvature(V), Q.sum(axis=0))

    def dense(self) -> np.ndarray:
        """H as a dense (size, size) array."""
        n, m, T = self.problem.n_samples, self.features.size, self.n_tasks
        gram = self.X_F.T @ self.X_F
        gram = gram.toarray() if sp.issparse(gram) else np.asarray(gram)
        eye_T = np.eye(T)
        H = np.zeros((self.size, self.size))
        H[:m * T, :m * T] = np.kron(gram / n, eye_T)
        H[np.arange(m * T), np.arange(m * T)] += self.problem.l2
        W_F = self.coef[self.features]
        for k, rows in enumerate(self._slices):
            g, norm = self.active[k], self._norms[k]
            u = W_F[rows].ravel() / norm
            idx = slice(rows.start * T, rows.stop * T)
            H[idx, idx] += self.problem.lam[g] / norm * (np.eye(u.size) - np.outer(u, u))
        if self.problem.fit_intercept:
            sums = np.asarray(self.X_F.sum(axis=0)).ravel() / n
            H[:m * T, m * T:] = np.kron(sums[:, None], eye_T)
            H[m * T:, :m * T] = H[:m * T, m * T:].T
            H[m * T:, m * T:] = eye_T
        return H

    def optimality_map(self) -> np.ndarray:
        """The optimality conditions on the active groups, shape (size,)."""
        W_F = self.coef[self.features]
        grad = np.asarray(self.X_F.T @ self.R) / self.problem.n_samples
        grad += self.problem.l2 * W_F
        for k, rows in enumerate(self._slices):
            g = self.active[k]
            grad[rows] += self.problem.lam[g] * W_F[rows] / self._norms[k]
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
        W_F = self.coef[self.features]
        g_lam = np.zeros(self.problem.groups.n_groups)
        for k, rows in enumerate(self._slices):
            g_lam[self.active[k]] = -np.sum(W_F[rows] * V[rows]) / self._norms[k]
        return g_lam, -float(np.sum(W_F * V))

    def moved(self, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point (coef, intercept) minus ``step`` on the unknowns."""
        step_W, step_b = self._split(step)
        coef = self.coef.copy()
        coef[self.features] -= step_W
        b_int = self.problem.internal_intercept(self.coef, self.intercept) - step_b
        return coef, self.problem.external_intercept(coef, b_int)
