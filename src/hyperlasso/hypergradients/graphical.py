"""Hypergradients of the weighted graphical lasso, matrix-free on the support.

On the support E of Theta (the diagonal included) the optimality conditions
read -Sigma + S + Lam * sign(Theta) = 0 with Sigma = inv(Theta). Differentiating,

    H[dTheta] = P_E(Sigma dTheta Sigma) = -P_E(dLam * sign(Theta)),

so with W = H^{-1}[P_E(grad C)] (one solve on the support: a Cholesky
factorization of the system on the entries i <= j of E, shared with the polish
step, or matrix-free conjugate gradient on large supports; no p^2 x p^2 matrix is
formed) the gradient in the penalties is dC/dLam_ij = -W_ij sign(Theta_ij) on E
and 0 elsewhere. Symmetric pairs are separate entries: moving Lam_ij and Lam_ji
together by h changes C by (G_ij + G_ji) h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numba import njit
from scipy.sparse.linalg import LinearOperator, cg

from hyperlasso.inner.convergence import warn_convergence
from hyperlasso.inner.graphical import (
    GraphicalSolution,
    inverse_spd,
    optimality_violation,
    solve_graphical,
)
from hyperlasso.inner.threads import single_threaded_blas

#: Relative residual of conjugate gradient (cond(H) = cond(Sigma)^2 multiplies it).
CG_RTOL = 1e-12
#: Largest number of unknowns (support entries with i <= j) solved by a dense
#: Cholesky factorization of the restricted system; CG above. At 2500 the
#: factorization is ~5 Gflop (0.1-0.3 s) and the matrix 50 MB.
MAX_DIRECT_SIZE = 2500
#: Relative residual at which iterative refinement of a direct solve stops, and
#: the largest one accepted when rounding stops it from decreasing further (the
#: products Sigma W Sigma carry ~1e-15 cond(Sigma)^2 of rounding).
REFINE_RTOL, REFINE_STALL = 1e-14, 1e-10
#: Relative change at which forward sweeps of the Jacobian stop.
FORWARD_RTOL = 1e-12


@dataclass(frozen=True)
class GraphicalHypergradient:
    """Value and gradient in the penalty matrix; see the module docstring."""

    value: float
    gradient: np.ndarray
    solution: GraphicalSolution
    method: str


def support_operator(Sigma: np.ndarray, mask: np.ndarray):
    """V -> P_E(Sigma V Sigma) on flattened p x p matrices (E = mask)."""
    p = Sigma.shape[0]

    def matvec(v):
        V = np.where(mask, v.reshape(p, p), 0.0)
        return np.where(mask, Sigma @ V @ Sigma, 0.0).ravel()

    return LinearOperator((p * p, p * p), matvec=matvec, dtype=float)


@njit(cache=True, nogil=True)
def _symmetric_system(Sigma, rows, cols):
    """G[a, b] = Sigma_{i k} Sigma_{j m} + Sigma_{i m} Sigma_{j k} for the unknowns
    a = (i, j), b = (k, m), i <= j, k <= m: symmetric positive definite."""
    size = rows.shape[0]
    G = np.empty((size, size))
    for a in range(size):
        i, j = rows[a], cols[a]
        for b in range(a + 1):
            k, m = rows[b], cols[b]
            value = Sigma[i, k] * Sigma[j, m] + Sigma[i, m] * Sigma[j, k]
            G[a, b] = value
            G[b, a] = value
    return G


class SupportSystem:
    """The restricted system P_E(Sigma W Sigma) = P_E(R), W symmetric on E.

    The unknowns are the entries w_ij, i <= j, of W on E (half the support, so a
    direct factorization costs 8 times less than on every entry). With
    d = 2 on the diagonal and 1 off it, the system reads G u = r, w = d u, where
    r holds R_ij at the unknowns and G (see ``_symmetric_system``) is symmetric
    positive definite: up to ``MAX_DIRECT_SIZE`` unknowns G is formed (never the
    p^2 x p^2 Kronecker matrix) and factorized once, and every right-hand side
    after that costs two triangular solves. A solve for a slightly different
    Sigma (after a polish step) reuses the factorization, refined iteratively
    with products Sigma W Sigma; above the size, or if Sigma is numerically
    singular, conjugate gradient runs matrix-free.

    Parameters
    ----------
    Sigma : ndarray of shape (p, p)
    mask : ndarray of bool, shape (p, p)
        The support E (symmetric, diagonal included).
    """

    def __init__(self, Sigma: np.ndarray, mask: np.ndarray):
        self.Sigma, self.mask = Sigma, mask
        self.rows, self.cols = np.nonzero(np.triu(mask))
        self.scale = np.where(self.rows == self.cols, 2.0, 1.0)
        self.factor = None
        if self.rows.size <= MAX_DIRECT_SIZE:
            G = _symmetric_system(Sigma, self.rows, self.cols)
            try:
                self.factor = scipy.linalg.cho_factor(G, overwrite_a=True)
            except np.linalg.LinAlgError:  # Sigma numerically singular: CG will say so
                self.factor = None

    def solve(self, rhs: np.ndarray, Sigma: np.ndarray | None = None) -> np.ndarray:
        """Symmetric W (p, p) on E with P_E(Sigma W Sigma) = P_E(rhs); ``Sigma``
        defaults to the one factorized."""
        Sigma = self.Sigma if Sigma is None else Sigma
        if self.factor is None:
            return _conjugate_gradient(Sigma, self.mask, rhs)
        # The symmetric part of rhs: what the full system P_E(Sigma W Sigma) =
        # P_E(rhs) solves for a symmetric W.
        target = (0.5 * (rhs + rhs.T))[self.rows, self.cols]
        u = scipy.linalg.cho_solve(self.factor, target)
        if Sigma is not self.Sigma:
            u = self._refine(u, target, Sigma)
            if u is None:  # Sigma too far from the factorized one
                return SupportSystem(Sigma, self.mask).solve(rhs)
        return self._matrix(u)

    def _refine(self, u, target, Sigma) -> np.ndarray | None:
        """Iterative refinement against the system of ``Sigma``: each step divides
        the error by about ||G^{-1}|| ||G - G(Sigma)||. Stops at a residual of
        ``REFINE_RTOL`` or when rounding stops it from decreasing; None if it
        stalls above ``REFINE_STALL`` (no contraction: refactorize)."""
        norm = max(float(np.max(np.abs(target))), 1e-300)
        previous = np.inf
        for _ in range(20):
            W = self._matrix(u)
            residual = target - (Sigma @ W @ Sigma)[self.rows, self.cols]
            size = float(np.max(np.abs(residual)))
            if size <= REFINE_RTOL * norm:
                return u
            if size > 0.5 * previous:
                return u if size <= REFINE_STALL * norm else None
            previous = size
            u = u + scipy.linalg.cho_solve(self.factor, residual)
        return None

    def _matrix(self, u) -> np.ndarray:
        W = np.zeros_like(self.Sigma)
        W[self.rows, self.cols] = W[self.cols, self.rows] = u * self.scale
        return W


def _conjugate_gradient(Sigma, mask, rhs) -> np.ndarray:
    """Matrix-free CG on P_E(Sigma W Sigma) = P_E(rhs); W symmetrized. It needs
    about cond(Sigma) log(1 / CG_RTOL) products of two p x p multiplications."""
    operator = support_operator(Sigma, mask)
    solution, info = cg(operator, np.where(mask, rhs, 0.0).ravel(), rtol=CG_RTOL,
                        atol=0.0, maxiter=10 * mask.sum())
    if info != 0:
        warn_convergence("conjugate gradient on the graphical lasso support did not reach "
                         f"its tolerance {CG_RTOL:.0e}; the hypergradient may be "
                         "inaccurate.")
    W = np.where(mask, solution.reshape(Sigma.shape), 0.0)
    return 0.5 * (W + W.T)


def implicit_gradient(solution: GraphicalSolution, grad_theta: np.ndarray,
                      system: SupportSystem) -> np.ndarray:
    """dC/dLam (p, p) from dC/dTheta by one adjoint solve on the support, with the
    factorization of ``system`` (same support, Sigma equal or nearby)."""
    with single_threaded_blas():
        W = system.solve(grad_theta, solution.covariance)
    return -W * np.sign(solution.precision)


def polish(S, Lam, solution: GraphicalSolution,
           system: SupportSystem) -> GraphicalSolution:
    """One Newton step on the support (the error becomes quadratic), solved with
    ``system`` (factorized at the solution); refused, and the solution returned
    unchanged, if it loses definiteness, a sign or optimality."""
    mask, Theta = solution.support, solution.precision
    residual = S - solution.covariance + Lam * np.sign(Theta)
    with single_threaded_blas():
        step = system.solve(residual)
        candidate = Theta - step
        try:
            Sigma = inverse_spd(candidate)
        except ValueError:
            return solution
    if np.any(np.sign(candidate[mask]) != np.sign(Theta[mask])):
        return solution
    kkt = optimality_violation(S, Lam, candidate, Sigma)
    if kkt > solution.kkt:
        return solution
    return GraphicalSolution(candidate, Sigma, mask, kkt, solution.n_iter, True)


def forward_directional(solution: GraphicalSolution, direction: np.ndarray,
                        max_iter: int = 100_000) -> np.ndarray:
    """dTheta along dLam = ``direction``, by forward differentiation of proximal
    gradient Theta <- ST(Theta - t (S - inv(Theta)), t Lam) at its fixed point.

    The iterates stay at the solution; the Jacobian iterates
    J <- P_E(J - t Sigma J Sigma) - t P_E(direction * sign(Theta)) converge to the
    implicit derivative for t < 2 / lambda_max(Sigma)^2 (t = 1 / lambda_max^2 here).
    """
    Sigma, mask, signs = solution.covariance, solution.support, np.sign(solution.precision)
    step = 1.0 / np.linalg.eigvalsh(Sigma)[-1] ** 2
    forcing = np.where(mask, direction * signs, 0.0)
    J = np.zeros_like(Sigma)
    with single_threaded_blas():
        for _ in range(max_iter):
            new = np.where(mask, J - step * (Sigma @ J @ Sigma) - step * forcing, 0.0)
            change = np.max(np.abs(new - J))
            J = new
            if change <= FORWARD_RTOL * max(np.max(np.abs(J)), 1e-300):
                return J
    warn_convergence("forward differentiation of the graphical lasso did not settle.")
    return J


def graphical_hypergradient(S, Lam, criterion, method: str = "auto", tol: float = 1e-8,
                            warm_start=None) -> GraphicalHypergradient:
    """Criterion value and gradient in the penalty matrix Lam (p, p).

    Parameters
    ----------
    S : ndarray of shape (p, p)
        Training covariance.
    Lam : ndarray of shape (p, p)
        Symmetric non-negative penalties.
    criterion : object
        ``value_and_grad(precision) -> (value, gradient (p, p))``.
    method : {"auto", "polish", "implicit"}
        "auto" is "polish": a Newton step on the support before the adjoint solve.
    tol : float, default=1e-8
        Optimality violation of the inner solver.
    warm_start : ndarray of shape (p, p), optional
        A previous precision matrix.
    """
    if method not in ("auto", "polish", "implicit"):
        raise ValueError("method must be 'auto', 'polish' or 'implicit' for the graphical "
                         f"lasso, got {method!r}.")
    solution = solve_graphical(S, Lam, tol=tol, warm_start=warm_start)
    with single_threaded_blas():
        system = SupportSystem(solution.covariance, solution.support)
    if method in ("auto", "polish"):
        solution = polish(S, Lam, solution, system)
    value, grad_theta = criterion.value_and_grad(solution.precision)
    gradient = implicit_gradient(solution, grad_theta, system)
    return GraphicalHypergradient(float(value), gradient, solution,
                                  "polish" if method == "auto" else method)
