"""Newton steps on the support of the weighted graphical lasso.

On a fixed support E (the diagonal included) with fixed signs, the graphical
lasso is smooth: its optimality conditions read P_E(S - inv(Theta) + Lam *
sign(Theta)) = 0, and Newton's step D solves P_E(Sigma D Sigma) = P_E(R) with R
that residual and Sigma = inv(Theta). The column sweeps of the solver converge
linearly, slowly on strongly correlated data; once they have found the support,
a few Newton steps reach rounding level (the error squares at every step). The
step is accepted only while Theta stays positive definite and keeps its signs,
and the point is returned only if the full optimality conditions, zero entries
included, hold to the tolerance: a wrong support is never returned.

The unknowns of a system on E are the entries i <= j (``SupportUnknowns``); the
same system, factorized, gives the hypergradient (``hypergradients.graphical``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numba import njit

from hyperlasso.inner.penalties import L1L2

#: Largest number of unknowns of a Newton system (a dense Cholesky factorization,
#: size^3 / 3 flops: 2.7e9 at this size, about the cost of ten column sweeps at
#: p = 200); above it the sweeps finish alone.
MAX_NEWTON_SIZE = 2000
#: Steps per attempt (a factorization only when the support changes or the
#: decrease slows). From a point whose support is right, the violation reached
#: the solver's tolerance in two steps on every problem measured; each change of
#: the support costs two or three more.
MAX_NEWTON_STEPS = 12
#: Cost of one unit of the sweeps' work (a multiply-add or a coordinate visit in
#: numba's scalar loops) in flops of the Newton system's factorization (BLAS).
SWEEP_WORK_COST = 10.0


def newton_pays(work: float, rate: float, progress: float, tol: float,
                support: np.ndarray) -> bool:
    """Whether Newton steps on ``support`` should cost less than the sweeps left.

    The sweeps left are predicted from their last contraction ``rate`` of the
    violation ``progress`` (infinitely many if it did not contract), each costing
    ``work`` (``graphical._sweep``) times ``SWEEP_WORK_COST``; a Newton attempt
    costs about one Cholesky factorization of the system on the support, m^3 / 3
    for m unknowns. Both counts are deterministic, so the solver's path is too.
    """
    size = (np.count_nonzero(support) + support.shape[0]) / 2
    if size > MAX_NEWTON_SIZE:
        return False
    left = np.log(tol / progress) / np.log(rate) if 0.0 < rate < 1.0 else np.inf
    return left * work * SWEEP_WORK_COST > size ** 3 / 3


def inverse_spd(Theta: np.ndarray) -> np.ndarray:
    """inv(Theta) by Cholesky; ValueError if Theta is not positive definite."""
    try:
        factor = scipy.linalg.cho_factor(Theta)
    except np.linalg.LinAlgError:
        raise ValueError("the precision matrix lost positive definiteness: the "
                         "penalty is too small for this covariance.") from None
    return scipy.linalg.cho_solve(factor, np.eye(Theta.shape[0]))


@njit(cache=True, nogil=True)
def symmetric_system(Sigma, rows, cols):
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


class SupportUnknowns:
    """The unknowns w_ij, i <= j, of a symmetric matrix W supported on E.

    With d = 2 on the diagonal and 1 off it, P_E(Sigma W Sigma) = P_E(R) reads
    G u = r, w = d u, where r holds the symmetric part of R at the unknowns and G
    is ``symmetric_system`` (half the support's entries, so a factorization costs
    8 times less than on every entry).

    Parameters
    ----------
    mask : ndarray of bool, shape (p, p)
        The support E, symmetric, diagonal included.
    """

    def __init__(self, mask: np.ndarray):
        self.mask = mask
        self.rows, self.cols = np.nonzero(np.triu(mask))
        self.scale = np.where(self.rows == self.cols, 2.0, 1.0)

    @property
    def size(self) -> int:
        """Number of unknowns: the support's entries with i <= j."""
        return self.rows.size

    def gather(self, R: np.ndarray) -> np.ndarray:
        """r, shape (size,): the symmetric part of R (p, p) at the unknowns."""
        return (0.5 * (R + R.T))[self.rows, self.cols]

    def matrix(self, u: np.ndarray) -> np.ndarray:
        """W, shape (p, p), symmetric on E, from the solution u of G u = r."""
        W = np.zeros(self.mask.shape)
        W[self.rows, self.cols] = W[self.cols, self.rows] = u * self.scale
        return W

    def dense(self, Sigma: np.ndarray) -> np.ndarray:
        """G, shape (size, size), at Sigma (p, p)."""
        return symmetric_system(Sigma, self.rows, self.cols)


@dataclass(frozen=True)
class NewtonSystem:
    """A Cholesky factorization of the system on a support, at ``Sigma``: the
    hypergradient reuses it (refined against the solution's own Sigma)."""

    unknowns: SupportUnknowns
    factor: tuple
    Sigma: np.ndarray


def newton_finish(S, Lam, Theta, Sigma, tol: float):
    """Newton steps on the support of Theta, adjusted as they go, until the
    optimality violation is below ``tol``.

    After each step, entries of the support whose sign flipped leave it (they are
    set to zero) and, once the conditions on the support hold (to ``tol``, or 100
    times better than those off it), zero entries that violate theirs enter it
    with the sign their condition gives: the support of a few sweeps is often one
    or two entries short of the solution's.

    Parameters
    ----------
    S, Lam, Theta, Sigma : ndarray of shape (p, p)
        Covariance, penalties, a positive definite precision and its inverse.
    tol : float
        Largest optimality violation accepted (every entry, zeros included).

    Returns
    -------
    (Theta, Sigma, kkt, system) or None
        The point reached and the last factorization on its support (a
        ``NewtonSystem``, or None if the support changed at the last step); None
        if a step lost definiteness, the system is too large or singular, the
        violation on the support stopped decreasing quadratically from a fresh
        factorization, or ``MAX_NEWTON_STEPS`` did not reach ``tol``.

    Notes
    -----
    A factorization serves the steps that follow it while the support stays the
    same and the violation keeps dividing by 10 or more (a chord method: near
    the solution G changes little); it is redone when the support changes or the
    decrease slows.
    """
    mask, signs = Theta != 0, np.sign(Theta)
    off_diagonal = ~np.eye(Theta.shape[0], dtype=bool)
    penalty = L1L2(Lam, 0.0)
    previous, factor = np.inf, None
    for _ in range(MAX_NEWTON_STEPS):
        fresh = factor is None
        if fresh:  # refactorized only when the support changes or steps stall
            unknowns = SupportUnknowns(mask.copy())
            factor, factored_at = _factorized(unknowns, Sigma), Sigma
            if factor is None:
                return None
        residual = S - Sigma + Lam * signs
        Theta = Theta - unknowns.matrix(scipy.linalg.cho_solve(
            factor, unknowns.gather(residual), check_finite=False))
        leaving = mask & off_diagonal & (np.sign(Theta) != signs)
        if leaving.any():
            Theta[leaving], mask[leaving], signs[leaving] = 0.0, False, 0.0
            factor, previous = None, np.inf
        try:
            Sigma = inverse_spd(Theta)
        except ValueError:
            return None
        violations = penalty.distances(Theta, S - Sigma)
        on_support = float(np.max(violations[mask]))
        off_support = float(np.max(violations[~mask], initial=0.0))
        kkt = max(on_support, off_support)
        if kkt <= tol:
            system = None if factor is None else NewtonSystem(unknowns, factor, factored_at)
            return Theta, Sigma, kkt, system
        if on_support <= max(tol, 0.01 * off_support):  # entries missing: they enter
            entering = ~mask & (violations > tol)
            mask[entering] = True
            signs[entering] = np.sign(Sigma - S)[entering]
            factor, previous = None, np.inf
        elif on_support > 0.1 * previous and factor is not None:
            if fresh:
                return None  # no quadratic decrease from a fresh factorization
            factor, previous = None, np.inf
        else:
            previous = on_support
    return None


def _factorized(unknowns: SupportUnknowns, Sigma: np.ndarray):
    """Cholesky factor of the system on ``unknowns`` at Sigma, or None if it is too
    large (``MAX_NEWTON_SIZE``) or not positive definite numerically."""
    if unknowns.size > MAX_NEWTON_SIZE:
        return None
    try:
        return scipy.linalg.cho_factor(unknowns.dense(Sigma), overwrite_a=True,
                                       check_finite=False)
    except np.linalg.LinAlgError:
        return None
