"""The box penalty of the linear SVM's and SVR's dual problems.

With the dual variables scaled by C (beta = C u), the duals of the linear SVM
(hinge loss) and SVR (epsilon-insensitive loss) are one problem
(``hyperlasso.inner.dual``):

    minimize_u  1/2 ||X^T u||^2 + sum_i (lam_i |u_i| - l2 y_i u_i),
                lower_i <= u_i <= upper_i,

with l2 = 1 / C, lam_i = epsilon / C, and the box [-1, 1] for the SVR, [0, 1]
(y_i = 1) or [-1, 0] (y_i = -1) for the SVM (u_i = y_i a_i / C with the
classical dual a in [0, C]). The hyperparameters enter only through the weights
lam and l2 of the coordinate penalty, and a coordinate at a bound of the box
does not move with them: the generalized support is the free coordinates, as
the non-zero ones are the l1 penalty's, and every hypergradient method of the
separable models applies unchanged. ``l2`` keeps the field name of ``L1L2``:
the second weight of a coordinate penalty, here that of the linear term.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _box_prox(v, step, penalty, j):
    """argmin over [lower_j, upper_j] of (u - v)^2 / (2 step) + lam_j |u| - l2 y_j u:
    the unconstrained minimizer (soft-thresholding of the shifted v), clipped."""
    u = v + step * penalty.l2 * penalty.linear[j]
    t = step * penalty.lam[j]
    u = u - t if u > t else (u + t if u < -t else 0.0)
    return min(max(u, penalty.lower[j]), penalty.upper[j])


@njit(cache=True, nogil=True, inline="always")
def _box_distance(u, g, penalty, j):
    """Distance of -g to the subdifferential at u: [low, high] with the l1 part's
    interval, shifted by -l2 y_j, and opened towards infinity at a bound."""
    lam_j, shift = penalty.lam[j], -penalty.l2 * penalty.linear[j]
    low = (lam_j if u > 0 else -lam_j) + shift
    high = (-lam_j if u < 0 else lam_j) + shift
    if u >= penalty.upper[j]:
        high = np.inf
    if u <= penalty.lower[j]:
        low = -np.inf
    return max(low + g, -g - high, 0.0)


@njit(cache=True, nogil=True, inline="always")
def _box_value(u, penalty, j):
    """lam_j |u| - l2 y_j u inside the box, +inf outside: an extrapolated point
    (Anderson) that leaves the box is then never accepted (with the box's
    indicator left out it could be, and the gap, which assumes a feasible dual
    point, would no longer certify it)."""
    if u < penalty.lower[j] or u > penalty.upper[j]:
        return np.inf
    return penalty.lam[j] * abs(u) - penalty.l2 * penalty.linear[j] * u


@njit(cache=True, nogil=True, inline="always")
def _box_prox_derivatives(new, step, penalty, j):
    """Derivatives of new = prox(v) in v, lam_j and l2: those of the soft-
    thresholding where new is free (inside the box and not 0), zero elsewhere."""
    if new == 0.0 or new <= penalty.lower[j] or new >= penalty.upper[j]:
        return 0.0, 0.0, 0.0
    sign = 1.0 if new > 0 else -1.0
    return 1.0, -step * sign, step * penalty.linear[j]


@njit(cache=True, nogil=True, inline="always")
def _box_support_derivatives(u, penalty, j):
    """On the free coordinates the penalty's gradient lam_j sign(u) - l2 y_j has
    curvature 0 and derivatives sign(u) in lam_j and -y_j in l2."""
    return 0.0, (1.0 if u > 0 else -1.0), -penalty.linear[j]


class Box(NamedTuple):
    """sum_i lam_i |u_i| - l2 y_i u_i on the box lower <= u <= upper.

    Parameters
    ----------
    lam : ndarray of shape (n_samples,)
        Non-negative l1 weights (epsilon / C for the SVR, 0 for the SVM).
    l2 : float
        Positive weight of the linear term (1 / C).
    linear : ndarray of shape (n_samples,)
        The linear term's coefficients y.
    lower, upper : ndarray of shape (n_samples,)
        The box, lower <= 0 <= upper.
    """

    lam: np.ndarray
    l2: float
    linear: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    name = "box"
    separable = True
    units = "features"
    coordinate_prox = _box_prox
    coordinate_distance = _box_distance
    coordinate_value_of = _box_value
    coordinate_prox_derivatives = _box_prox_derivatives
    coordinate_support_derivatives = _box_support_derivatives

    def value(self, u: np.ndarray) -> float:
        """sum_i lam_i |u_i| - l2 y_i u_i inside the box, +inf outside."""
        if np.any(u < self.lower) or np.any(u > self.upper):
            return np.inf
        return float(self.lam @ np.abs(u) - self.l2 * (self.linear @ u))

    def generalized_support(self, u: np.ndarray) -> np.ndarray:
        """The free coordinates: non-zero and strictly inside the box."""
        return np.flatnonzero((u != 0) & (u > self.lower) & (u < self.upper))

    def support_gradient(self, u_S: np.ndarray, support: np.ndarray) -> np.ndarray:
        """lam_S sign(u_S) - l2 y_S on the free coordinates."""
        return self.lam[support] * np.sign(u_S) - self.l2 * self.linear[support]

    def support_curvature(self, u_S: np.ndarray) -> float:
        """The penalty is affine on the free coordinates."""
        return 0.0

    def pullback(self, u_S: np.ndarray, support: np.ndarray, v: np.ndarray):
        """(g_lam, g_l2): minus the cross terms d/dlam_S = diag(sign(u_S)) and
        d/dl2 = -y_S of the support gradient, applied to v."""
        g_lam = np.zeros(self.lam.shape[0])
        g_lam[support] = -np.sign(u_S) * v
        return g_lam, float(self.linear[support] @ v)
