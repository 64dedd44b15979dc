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

from hyperlasso.hypergradients.linear import choose_linear_solver, factorize
from hyperlasso.inner.convergence import warn_convergence
from hyperlasso.inner.graphical import (
    GraphicalSolution,
    inverse_spd,
    optimality_violation,
    solve_graphical,
)
from hyperlasso.inner.graphical_newton import NewtonSystem, SupportUnknowns
from hyperlasso.inner.threads import single_threaded_blas

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


class SupportSystem:
    """The restricted system P_E(Sigma W Sigma) = P_E(R), W symmetric on E.

    The unknowns are the entries w_ij, i <= j, of W on E
    (``inner.graphical_newton.SupportUnknowns``: G u = r, G symmetric positive
    definite, half the support's entries). It is the optimality system of every
    model to the linear solvers (``linear``: ``size``, ``matvec`` without forming
    G, ``dense``), so that G is factorized once up to ``linear.MAX_DIRECT_SIZE``
    unknowns (never the p^2 x p^2 Kronecker matrix; every right-hand side after
    that costs two triangular solves) and conjugate gradient runs matrix-free
    above. A solve for a slightly different Sigma (after a polish step, or with
    the solver's last Newton factorization) reuses the factorization, refined
    iteratively with products Sigma W Sigma.

    Parameters
    ----------
    Sigma : ndarray of shape (p, p)
    mask : ndarray of bool, shape (p, p)
        The support E (symmetric, diagonal included).
    linear_solver : {"auto", "cholesky", "cg"}, default="auto"
    newton : NewtonSystem, optional
        The inner solver's last factorization on the same support (at a nearby
        Sigma): used instead of a new one.
    """

    def __init__(self, Sigma: np.ndarray, mask: np.ndarray, linear_solver: str = "auto",
                 newton: NewtonSystem | None = None):
        self.Sigma, self.mask = Sigma, mask
        self.unknowns = SupportUnknowns(mask)
        self.rows, self.cols = self.unknowns.rows, self.unknowns.cols
        self.linear_solver = choose_linear_solver(linear_solver, self.size)
        self.factor = None
        if newton is not None and np.array_equal(newton.unknowns.mask, mask):
            # The solver's last Newton factorization, at a nearby Sigma: solves
            # refine against this Sigma (``_refine``).
            self.Sigma, self.factor = newton.Sigma, newton.factor
            self.linear_solver = "cholesky"
        elif self.linear_solver == "cholesky":
            try:
                self.factor = scipy.linalg.cho_factor(self.dense(), overwrite_a=True,
                                                     check_finite=False)
            except np.linalg.LinAlgError:  # Sigma numerically singular: CG will say so
                self.linear_solver = "cg"

    @property
    def size(self) -> int:
        """Number of unknowns: the support's entries with i <= j."""
        return self.rows.size

    def matvec(self, u: np.ndarray) -> np.ndarray:
        """G u, as (Sigma W Sigma) at the unknowns for W the matrix of u."""
        return (self.Sigma @ self._matrix(u) @ self.Sigma)[self.rows, self.cols]

    def diagonal(self) -> np.ndarray:
        """G's diagonal, Sigma_ii Sigma_jj + Sigma_ij^2 (CG's preconditioner)."""
        Sigma, i, j = self.Sigma, self.rows, self.cols
        return Sigma[i, i] * Sigma[j, j] + Sigma[i, j] ** 2

    def dense(self) -> np.ndarray:
        """G, shape (size, size)."""
        return self.unknowns.dense(self.Sigma)

    def solve(self, rhs: np.ndarray, Sigma: np.ndarray | None = None) -> np.ndarray:
        """Symmetric W (p, p) on E with P_E(Sigma W Sigma) = P_E(rhs); ``Sigma``
        defaults to the system's."""
        # The symmetric part of rhs: what the full system P_E(Sigma W Sigma) =
        # P_E(rhs) solves for a symmetric W.
        target = self.unknowns.gather(rhs)
        if Sigma is not None and Sigma is not self.Sigma:
            u = self._refine(target, Sigma) if self.factor is not None else None
            if u is None:  # no factorization, or Sigma too far from its own
                return SupportSystem(Sigma, self.mask, self.linear_solver).solve(rhs)
            return self._matrix(u)
        if self.factor is None:
            return self._matrix(factorize(self, "cg")(target))
        return self._matrix(scipy.linalg.cho_solve(self.factor, target, check_finite=False))

    def _refine(self, target, Sigma) -> np.ndarray | None:
        """Iterative refinement against the system of ``Sigma``: each step divides
        the error by about ||G^{-1}|| ||G - G(Sigma)||. Stops at a residual of
        ``REFINE_RTOL`` or when rounding stops it from decreasing; None if it
        stalls above ``REFINE_STALL`` (no contraction: refactorize)."""
        u = scipy.linalg.cho_solve(self.factor, target, check_finite=False)
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
            u = u + scipy.linalg.cho_solve(self.factor, residual, check_finite=False)
        return None

    def _matrix(self, u) -> np.ndarray:
        return self.unknowns.matrix(u)


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
        step = system.solve(residual, solution.covariance)
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
                            warm_start=None,
                            linear_solver: str = "auto") -> GraphicalHypergradient:
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
    linear_solver : {"auto", "cholesky", "cg"}, default="auto"
        Solver of the system on the support (``linear``).
    """
    if method not in ("auto", "polish", "implicit"):
        raise ValueError("method must be 'auto', 'polish' or 'implicit' for the graphical "
                         f"lasso, got {method!r}.")
    solution = solve_graphical(S, Lam, tol=tol, warm_start=warm_start)
    with single_threaded_blas():
        system = SupportSystem(solution.covariance, solution.support, linear_solver,
                               newton=solution.newton_system)
    if method in ("auto", "polish"):
        solution = polish(S, Lam, solution, system)
    value, grad_theta = criterion.value_and_grad(solution.precision)
    gradient = implicit_gradient(solution, grad_theta, system)
    return GraphicalHypergradient(float(value), gradient, solution,
                                  "polish" if method == "auto" else method)
