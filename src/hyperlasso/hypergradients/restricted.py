"""The optimality system restricted to the support, and its linear solvers.

On the support S with signs s, the optimality conditions of the inner problem read

    F(w_S, b) = [X_S^T grad F(z) + lam_S s + l2 w_S ; 1^T grad F(z)] = 0,

whose Jacobian in (w_S, b) is H = A^T diag(c) A / n + l2 I_S, A = [X_S, 1], and
whose derivatives in lam_S and l2 are ``diag(s)`` and ``w_S``. The penalty's
terms (its gradient and curvature on the support, the cross terms) come from
the problem's penalty (``penalties.L1L2``). Only an |S| (+1) system is ever
solved, never a p x p one; the linear solvers are those of every model
(``linear``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hyperlasso.inner import datafits
from hyperlasso.inner.problem import InnerProblem


@dataclass(frozen=True, eq=False)
class RestrictedSystem:
    """H, the optimality map and the cross derivatives on the support of (w, b)."""

    problem: InnerProblem
    coef: np.ndarray
    intercept: float
    support: np.ndarray
    signs: np.ndarray
    X_S: object
    state: np.ndarray
    curvature: np.ndarray

    @classmethod
    def at(cls, problem: InnerProblem, coef: np.ndarray, intercept: float):
        """Build the system at the point (coef, intercept)."""
        support = problem.penalty.generalized_support(coef)
        return cls._build(problem, coef, intercept, support,
                          problem.design.columns(support))

    @classmethod
    def _build(cls, problem, coef, intercept, support, X_S):
        z = np.asarray(X_S @ coef[support]).ravel() + problem.internal_intercept(
            coef, intercept)
        if np.count_nonzero(coef) > support.size:  # non-zero coordinates off the
            held = coef.copy()  # support: the SVM's dual variables held at a bound
            held[support] = 0.0
            z += problem.design.matvec(held)
        state = problem.datafit.state(z, problem.y)  # the datafit's (``datafits``)
        return cls(problem, coef, intercept, support, np.sign(coef[support]), X_S,
                   state, datafits.curvature(problem.kernel_datafit, state))

    def at_point(self, coef: np.ndarray, intercept: float) -> RestrictedSystem:
        """The system at another point with the same support (X_S is reused)."""
        return self._build(self.problem, coef, intercept, self.support, self.X_S)

    @property
    def size(self) -> int:
        """|S| + 1 with an intercept, |S| without."""
        return self.support.size + int(self.problem.fit_intercept)

    @property
    def _penalty_curvature(self):
        """The penalty's Hessian on the support: a diagonal (scalar or (|S|,))."""
        return self.problem.penalty.support_curvature(self.coef[self.support])

    def _split(self, v):
        return v[: self.support.size], (v[-1] if self.problem.fit_intercept else 0.0)

    def _join(self, part_w, part_b):
        if self.problem.fit_intercept:
            return np.append(part_w, part_b)
        return np.asarray(part_w, dtype=np.float64)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """H @ v without forming H."""
        v_w, v_b = self._split(v)
        weighted = self.curvature * (np.asarray(self.X_S @ v_w).ravel() + v_b)
        weighted /= self.problem.n_samples
        return self._join(
            np.asarray(self.X_S.T @ weighted).ravel() + self._penalty_curvature * v_w,
            np.sum(weighted),
        )

    def diagonal(self) -> np.ndarray:
        """The diagonal of H, shape (size,): conjugate gradient's preconditioner."""
        squares = self.X_S.power(2) if sp.issparse(self.X_S) else self.X_S**2
        diag_w = np.asarray(squares.T @ self.curvature).ravel() / self.problem.n_samples
        return self._join(diag_w + self._penalty_curvature,
                          np.sum(self.curvature) / self.problem.n_samples)

    def dense(self) -> np.ndarray:
        """H as a dense (size, size) array (Gram products stay sparse for sparse X)."""
        n, k = self.problem.n_samples, self.support.size
        weighted = (self.X_S if self.problem.datafit.constant_hessian  # curvature 1
                    else _scale_rows(self.X_S, self.curvature))
        H = np.zeros((self.size, self.size))
        H[:k, :k] = _to_dense(self.X_S.T @ weighted) / n
        H[np.arange(k), np.arange(k)] += self._penalty_curvature
        if self.problem.fit_intercept:
            H[:k, k] = H[k, :k] = np.asarray(weighted.sum(axis=0)).ravel() / n
            H[k, k] = np.sum(self.curvature) / n
        return H

    def optimality_map(self) -> np.ndarray:
        """F(w_S, b): the gradient of the restricted smooth objective, shape (size,)."""
        raw = datafits.raw_grad(self.problem.kernel_datafit, self.state)
        w_S = self.coef[self.support]
        grad_w = np.asarray(self.X_S.T @ raw).ravel()
        grad_w += self.problem.penalty.support_gradient(w_S, self.support)
        return self._join(grad_w, np.sum(raw))

    def restrict(self, grad_coef: np.ndarray, grad_intercept: float) -> np.ndarray:
        """The outer gradient on the system's unknowns (w_S, internal intercept)."""
        grad_coef = self.problem.internal_gradient(grad_coef, grad_intercept)
        return self._join(grad_coef[self.support], grad_intercept)

    def pullback(self, v: np.ndarray) -> tuple[np.ndarray, float]:
        """Gradients in (lam, l2) of the criterion from the adjoint v = H^{-1} r."""
        v_w, _ = self._split(v)
        return self.problem.penalty.pullback(self.coef[self.support], self.support, v_w)

    def moved(self, step: np.ndarray) -> tuple[np.ndarray, float]:
        """The point (coef, intercept) minus ``step`` on the system's unknowns."""
        step_w, step_b = self._split(step)
        coef = self.coef.copy()
        coef[self.support] -= step_w
        b_internal = self.problem.internal_intercept(self.coef, self.intercept) - step_b
        return coef, self.problem.external_intercept(coef, b_internal)


def _scale_rows(matrix, weights: np.ndarray):
    """diag(weights) @ matrix, for a dense or a sparse matrix."""
    if sp.issparse(matrix):
        return sp.csc_matrix(matrix.multiply(weights[:, None]))
    return weights[:, None] * matrix


def _to_dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
