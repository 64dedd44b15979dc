"""The weighted graphical lasso and its block coordinate descent solver.

    minimize_{Theta > 0}  -logdet(Theta) + tr(S Theta) + sum_ij Lam_ij |Theta_ij|

with S an empirical covariance and Lam a symmetric non-negative matrix of
penalties (zero diagonal when the diagonal is not penalized). The solver is the
graphical lasso of Friedman, Hastie and Tibshirani (2008) on W = inv(Theta): one
weighted Lasso per column, solved by coordinate descent on the Gram matrix W11,
with every column's coefficients kept as a warm start. It stops on the largest
violation of the optimality conditions of Theta, measured with the exact inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from hyperlasso.inner.convergence import warn_not_converged
from hyperlasso.inner.graphical_newton import (
    NewtonSystem,
    inverse_spd,
    newton_finish,
    newton_pays,
)
from hyperlasso.inner.penalties import L1L2, soft_threshold
from hyperlasso.inner.threads import single_threaded_blas

#: Violation (relative to the mean of S's diagonal) below which Newton steps on a
#: support unchanged over two sweeps are tried; a failed attempt waits for ten
#: times less.
NEWTON_START = 1e-3


@dataclass(frozen=True)
class GraphicalSolution:
    """Result of the graphical lasso solver.

    Attributes
    ----------
    precision : ndarray of shape (p, p)
        Theta, symmetric positive definite.
    covariance : ndarray of shape (p, p)
        inv(Theta), computed exactly from Theta.
    support : ndarray of bool, shape (p, p)
        Non-zero entries of Theta (the diagonal always is).
    kkt : float
        Largest violation of the optimality conditions.
    n_iter : int
        Sweeps over the columns.
    converged : bool
    newton_system : NewtonSystem or None
        The factorization of the system on the support left by the Newton steps
        that finished the solve (``graphical_newton``), for the hypergradient.
    """

    precision: np.ndarray
    covariance: np.ndarray
    support: np.ndarray
    kkt: float
    n_iter: int
    converged: bool
    newton_system: NewtonSystem | None = None


@njit(cache=True, nogil=True)
def _column_pass(W, s, lam, beta, Wb, j, active_only):
    """One CD epoch on the column problem (non-zero coordinates only if asked);
    returns the largest coefficient change and the work done (p visits plus p
    per coefficient changed)."""
    p = W.shape[0]
    largest, work = 0.0, p
    for k in range(p):
        if k == j or (active_only and beta[k] == 0.0):
            continue
        old = beta[k]
        u = s[k] - (Wb[k] - W[k, k] * old)
        new = soft_threshold(u, lam[k])
        if new != 0.0:  # the division only where the coordinate is non-zero
            new /= W[k, k]
        if new != old:
            delta = new - old
            for i in range(p):
                Wb[i] += delta * W[i, k]
            beta[k] = new
            largest = max(largest, abs(delta))
            work += p
    return largest, work


@njit(cache=True, nogil=True)
def _column_lasso(W, s, lam, beta, Wb, j, tol, max_epochs):
    """CD on min 1/2 b'W11 b - s'b + sum lam|b| over k != j; Wb = W11 b kept.

    Active-set strategy (glmnet's): epochs over the non-zero coordinates until
    they settle, then one full epoch to let others in; done when a full epoch
    changes no coefficient by more than ``tol``. Returns the work done.
    """
    total = 0
    for _ in range(max_epochs):
        largest, work = _column_pass(W, s, lam, beta, Wb, j, False)
        total += work
        if largest <= tol:
            return total
        for _ in range(max_epochs):
            largest, work = _column_pass(W, s, lam, beta, Wb, j, True)
            total += work
            if largest <= tol:
                break
    return total


@njit(cache=True, nogil=True)
def _sweep(S, Lam, W, B, tol, max_epochs):
    """One pass of the graphical lasso over the columns; W, B updated in place.
    Returns the work done: multiply-adds and coordinate visits."""
    p = S.shape[0]
    total = 0
    for j in range(p):
        beta = B[:, j].copy()
        beta[j] = 0.0
        Wb = np.zeros(p)
        for k in range(p):
            if k != j and beta[k] != 0.0:
                for i in range(p):
                    Wb[i] += beta[k] * W[i, k]
        total += _column_lasso(W, S[:, j], Lam[:, j], beta, Wb, j, tol, max_epochs)
        B[:, j] = beta
        for i in range(p):
            if i != j:
                W[i, j] = Wb[i]
                W[j, i] = Wb[i]
    return total


@njit(cache=True, nogil=True)
def _precision_from(W: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Theta from W and the column coefficients: theta_jj = 1 / (w_jj - w12'b)."""
    p = W.shape[0]
    Theta = np.empty_like(W)
    for j in range(p):
        inner = 0.0
        for i in range(p):
            if i != j:
                inner += W[i, j] * B[i, j]
        theta_jj = 1.0 / (W[j, j] - inner)
        for i in range(p):
            Theta[i, j] = -B[i, j] * theta_jj
        Theta[j, j] = theta_jj
    for j in range(p):  # symmetrize
        for i in range(j):
            mean = 0.5 * (Theta[i, j] + Theta[j, i])
            Theta[i, j] = mean
            Theta[j, i] = mean
    return Theta


def optimality_violation(S, Lam, Theta, Sigma) -> float:
    """max_ij distance of -(S - Sigma)_ij to Lam_ij * subdifferential of |Theta_ij|."""
    return float(np.max(L1L2(Lam, 0.0).distances(Theta, S - Sigma)))


def solve_graphical(S: np.ndarray, Lam: np.ndarray, tol: float = 1e-8,
                    max_iter: int = 1000, warm_start: np.ndarray | None = None,
                    newton: bool = True) -> GraphicalSolution:
    """Solve the weighted graphical lasso to an optimality violation of ``tol``.

    Parameters
    ----------
    S : ndarray of shape (p, p)
        Empirical covariance (symmetric positive semi-definite).
    Lam : ndarray of shape (p, p)
        Symmetric non-negative penalties.
    tol : float, default=1e-8
        Largest optimality violation accepted.
    max_iter : int, default=1000
        Sweeps over the columns (twice as many at most if a warm start loses
        positive definiteness and the solver starts again cold).
    warm_start : ndarray of shape (p, p), optional
        A previous precision matrix.
    newton : bool, default=True
        Finish with Newton steps on the support (``graphical_newton``) once the
        sweeps have settled it; False: sweeps only.

    Returns
    -------
    GraphicalSolution
    """
    with single_threaded_blas():
        last, kkt, n_sweeps, why = _sweeps(S, Lam, tol, max_iter, warm_start, newton)
        if why and warm_start is not None:
            # A warm start far from the solution (an outer step to a much smaller
            # penalty) can lose definiteness where a cold start does not.
            cold_last, cold_kkt, cold_sweeps, cold_why = _sweeps(S, Lam, tol, max_iter,
                                                                  None, newton)
            n_sweeps += cold_sweeps
            if cold_kkt <= kkt:
                last, kkt, why = cold_last, cold_kkt, cold_why
        converged = kkt <= tol
        if not converged:
            warn_not_converged(f"Graphical lasso stopped before its tolerance{why}: "
                               f"optimality violation {kkt:.3e} > tol = {tol:.1e} after "
                               f"{n_sweeps} sweeps; the penalty may be too small.",
                               gap=float("nan"), kkt=kkt)
    Theta, Sigma, system = last
    return GraphicalSolution(Theta, Sigma, Theta != 0, kkt, n_sweeps, converged, system)


def _sweeps(S, Lam, tol, max_iter, warm_start, newton=True):
    """Sweeps from a start point until the violation is below ``tol``, finished by
    Newton steps on the support once it stays the same over two sweeps and the
    violation is below ``NEWTON_START`` (relative to S's diagonal).

    Returns the last positive definite point (Theta, Sigma, the Newton system
    that reached it or None), its violation, the number of sweeps and why they
    stopped early ("" unless definiteness was lost).
    """
    W, B, last = _starting_point(S, Lam, warm_start)
    n_sweeps, why = 0, ""
    kkt = optimality_violation(S, Lam, *last[:2])
    progress = kkt
    newton_below = NEWTON_START * float(np.mean(np.diag(S))) if newton else -np.inf
    support, checked = None, False
    while n_sweeps < max_iter and kkt > tol:
        work = _sweep(S, Lam, W, B, _column_tolerance(progress, tol), 10_000)
        n_sweeps += 1
        Theta = _precision_from(W, B)
        # W converges to inv(Theta): its violation is a cheap O(p^2) proxy,
        # and the O(p^3) exact check runs only once the proxy says done.
        previous, progress = progress, optimality_violation(S, Lam, Theta, W)
        nonzero = Theta != 0
        stable = support is not None and np.array_equal(nonzero, support)
        support = nonzero
        due = progress <= tol or n_sweeps >= max_iter or not np.isfinite(progress)
        attempt = stable and progress <= newton_below
        if not (due or attempt):
            checked = False
            continue
        try:
            Sigma = inverse_spd(Theta)
        except ValueError:
            if not due:  # the iterate is not yet definite: sweep on
                newton_below, checked = 0.1 * progress, False
                continue
            why = " (the precision matrix lost positive definiteness)"
            break
        # The contraction of the exact violation over the last sweep if it was
        # checked then too, else of the proxy (which can reach rounding level
        # while the exact violation lags, on correlated data).
        exact = optimality_violation(S, Lam, Theta, Sigma)
        rate = exact / max(kkt, 1e-300) if checked else progress / max(previous, 1e-300)
        kkt, checked = exact, True
        last = (Theta, Sigma, None)
        if attempt and kkt > tol and newton_pays(work, rate, kkt, tol, support):
            finished = newton_finish(S, Lam, Theta, Sigma, tol)
            if finished is None:  # the support is not the solution's yet
                newton_below = 0.1 * progress
            else:
                Theta, Sigma, kkt, system = finished
                last = (Theta, Sigma, system)
    return last, kkt, n_sweeps, why


def _column_tolerance(kkt: float, tol: float) -> float:
    """Coefficient-change tolerance of the column problems in the next sweep.

    Loose while the outer violation is large (the columns are re-solved at every
    sweep anyway), 1 % of it afterwards, never looser than 1e-4 nor tighter than
    what ``tol`` needs.
    """
    floor = min(tol, 1e-10)
    return float(np.clip(0.01 * kkt, floor, 1e-4)) if np.isfinite(kkt) else 1e-4


def _starting_point(S, Lam, warm_start):
    """W and B for the sweeps, and the start point (Theta, Sigma, None) itself: returned,
    with a warning, if the sweeps cannot improve on it (no positive definite
    iterate at a tiny penalty), so that the caller always gets a defined point."""
    p = S.shape[0]
    if warm_start is None:
        # Off-diagonal covariances shrunk by 5 % so that W starts positive definite
        # even when S is singular (p > n), as scikit-learn does.
        W = 0.95 * S + np.diag(0.05 * np.diag(S) + np.diag(Lam))
        start = (inverse_spd(W), W.copy(), None)
        return np.ascontiguousarray(W), np.zeros((p, p)), start
    Theta = np.asarray(warm_start, dtype=float)
    Sigma = inverse_spd(Theta)
    W = Sigma.copy()
    W[np.diag_indices(p)] = np.diag(S) + np.diag(Lam)
    B = -Theta / np.diag(Theta)[None, :]
    B[np.diag_indices(p)] = 0.0
    return np.ascontiguousarray(W), np.ascontiguousarray(B), (Theta, Sigma, None)


def empirical_covariance(X, name: str = "X", ddof: int = 0) -> np.ndarray:
    """Empirical covariance of the rows of X (samples), shape (p, p).

    ``ddof=0`` (default): the maximum-likelihood estimate, sum of squares / n, the
    S of the graphical lasso; ``ddof=1``: the unbiased estimate, / (n - 1).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {X.ndim}-D.")
    if X.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples to estimate a covariance, "
                         f"got {X.shape[0]}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf.")
    centered = X - X.mean(axis=0)
    return centered.T @ centered / (X.shape[0] - ddof)


def check_covariance(S, name: str = "S") -> np.ndarray:
    """A finite, symmetric, positive semi-definite matrix, or a ValueError."""
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {S.shape}.")
    if not np.all(np.isfinite(S)):
        raise ValueError(f"{name} contains NaN or inf.")
    if not np.allclose(S, S.T, rtol=1e-10, atol=1e-12 * max(np.abs(S).max(), 1e-300)):
        raise ValueError(f"{name} must be symmetric.")
    if np.linalg.eigvalsh(S)[0] < -1e-10 * max(np.abs(S).max(), 1e-300):
        raise ValueError(f"{name} must be positive semi-definite.")
    return 0.5 * (S + S.T)


@dataclass(frozen=True)
class GraphicalLasso:
    """The weighted graphical lasso as a model of hyperparameters.

    Parameters
    ----------
    penalty : {"scalar", "matrix"}, default="scalar"
        One penalty for every entry (alpha a positive float), or one per entry
        (alpha a symmetric non-negative (p, p) matrix).
    penalize_diagonal : bool, default=False
        Whether the diagonal of the precision matrix is penalized.
    """

    #: The stack of ``hypergradient`` that serves it.
    kind = "graphical"

    penalty: str = "scalar"
    penalize_diagonal: bool = False
    name = "graphical_lasso"

    def __post_init__(self):
        if self.penalty not in ("scalar", "matrix"):
            raise ValueError(f"penalty must be 'scalar' or 'matrix', got {self.penalty!r}.")

    def mask(self, p: int) -> np.ndarray:
        """Which entries are penalized: all, or all but the diagonal."""
        return np.ones((p, p)) if self.penalize_diagonal else 1.0 - np.eye(p)

    def check_alpha(self, alpha, p: int) -> np.ndarray:
        """Validate alpha: a positive float, or a symmetric non-negative (p, p)."""
        alpha = np.asarray(alpha, dtype=np.float64)
        if self.penalty == "scalar":
            if alpha.size != 1 or not np.isfinite(alpha) or alpha <= 0:
                raise ValueError(f"alpha must be a positive finite number, got {alpha}.")
            return alpha.reshape(())
        if alpha.shape != (p, p):
            raise ValueError(f"alpha must be a ({p}, {p}) penalty matrix, got shape "
                             f"{alpha.shape}.")
        if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
            raise ValueError("alpha must be finite and non-negative.")
        if not np.allclose(alpha, alpha.T, rtol=1e-12, atol=0):
            raise ValueError("alpha must be a symmetric matrix.")
        return alpha

    def penalty_matrix(self, alpha: np.ndarray, p: int) -> np.ndarray:
        """Lam (p, p) from alpha."""
        return self.mask(p) * (float(alpha) if alpha.ndim == 0 else alpha)

    def pullback(self, gradient: np.ndarray, alpha: np.ndarray):
        """dC/dalpha from dC/dLam (p, p): a float, or the masked matrix."""
        masked = gradient * self.mask(gradient.shape[0])
        return float(np.sum(masked)) if alpha.ndim == 0 else masked

    def alpha_max(self, S: np.ndarray) -> float:
        """Smallest scalar penalty giving a diagonal precision: max_{i != j} |S_ij|."""
        return float(np.max(np.abs(S - np.diag(np.diag(S)))))
