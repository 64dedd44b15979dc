"""Hypergradients of the weighted graphical lasso, matrix-free on the support.

On the support E of Theta (the diagonal included) the optimality conditions
read -Sigma + S + Lam * sign(Theta) = 0 with Sigma = inv(Theta). Differentiating,

    H[dTheta] = P_E(Sigma dTheta Sigma) = -P_E(dLam * sign(Theta)),

so with W = H^{-1}[P_E(grad C)] (one conjugate-gradient solve, each product two
p x p matrix products; no p^2 x p^2 matrix is formed) the gradient in the
penalties is dC/dLam_ij = -W_ij sign(Theta_ij) on E and 0 elsewhere. Symmetric
pairs are separate entries: moving Lam_ij and Lam_ji together by h changes C by
(G_ij + G_ji) h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
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
#: Largest support (entries of Theta, diagonal and both triangles) solved by a
#: dense Cholesky factorization of the restricted system; CG above. At 2000 the
#: factorization is ~3 Gflop (0.1-0.2 s) and the matrix 32 MB.
MAX_DIRECT_SIZE = 2000
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


def _solve_on_support(Sigma, mask, rhs) -> np.ndarray:
    """Solve P_E(Sigma W Sigma) = P_E(rhs) for W supported on E; W symmetrized.

    Up to ``MAX_DIRECT_SIZE`` support entries the restricted system is formed
    (|E| x |E|, entries Sigma_ik Sigma_lj: never p^2 x p^2) and factorized by
    Cholesky; above, conjugate gradient runs matrix-free. CG needs about
    cond(Sigma) log(1 / CG_RTOL) products of two p x p matrix multiplications:
    at p = 100 that was 0.1-0.3 s per solve, against milliseconds direct.
    """
    if mask.sum() <= MAX_DIRECT_SIZE:
        direct = _direct_on_support(Sigma, mask, rhs)
        if direct is not None:
            return direct
    operator = support_operator(Sigma, mask)
    solution, info = cg(operator, np.where(mask, rhs, 0.0).ravel(), rtol=CG_RTOL,
                        atol=0.0, maxiter=10 * mask.sum())
    if info != 0:
        warn_convergence("conjugate gradient on the graphical lasso support did not reach "
                         f"its tolerance {CG_RTOL:.0e}; the hypergradient may be "
                         "inaccurate.")
    W = np.where(mask, solution.reshape(Sigma.shape), 0.0)
    return 0.5 * (W + W.T)


def _direct_on_support(Sigma, mask, rhs) -> np.ndarray | None:
    rows, cols = np.nonzero(mask)
    # H[a, b] = d (Sigma V Sigma)_{rows[a], cols[a]} / d V_{rows[b], cols[b]}
    H = Sigma[np.ix_(rows, rows)] * Sigma[np.ix_(cols, cols)]
    try:
        factor = scipy.linalg.cho_factor(H)
    except np.linalg.LinAlgError:  # Sigma numerically singular: CG will say so
        return None
    W = np.zeros_like(Sigma)
    W[rows, cols] = scipy.linalg.cho_solve(factor, rhs[rows, cols])
    return 0.5 * (W + W.T)


def implicit_gradient(solution: GraphicalSolution, grad_theta: np.ndarray) -> np.ndarray:
    """dC/dLam (p, p) from dC/dTheta by one adjoint solve on the support."""
    with single_threaded_blas():
        W = _solve_on_support(solution.covariance, solution.support, grad_theta)
    return -W * np.sign(solution.precision)


def polish(S, Lam, solution: GraphicalSolution) -> GraphicalSolution:
    """One Newton step on the support (the error becomes quadratic); refused, and the
    solution returned unchanged, if it loses definiteness, a sign or optimality."""
    mask, Theta = solution.support, solution.precision
    residual = S - solution.covariance + Lam * np.sign(Theta)
    with single_threaded_blas():
        step = _solve_on_support(solution.covariance, mask, residual)
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
    if method in ("auto", "polish"):
        solution = polish(S, Lam, solution)
    value, grad_theta = criterion.value_and_grad(solution.precision)
    gradient = implicit_gradient(solution, grad_theta)
    return GraphicalHypergradient(float(value), gradient, solution,
                                  "polish" if method == "auto" else method)
