"""The l1 penalty of the multinomial model, on one feature's row of classes.

    Omega(W) = sum_j lam_j sum_k |W_jk|,   W of shape (p, K).

The multinomial loss does not see a common shift of a row (W_j + c 1 moves every
class's score of a sample by the same amount: ``softmax``), so along that
direction the objective is lam_j sum_k |W_jk + c|, piecewise linear. A plain
proximal step leaves the row anywhere along it, and coordinate descent then
crawls (24510 epochs to a gap of 1e-8 on a 3-class problem at 1 % of
alpha_max, none at 0.1 %). The row's prox here is the soft-thresholding
followed by the exact minimization along that direction: the shift by the
median of the row (the point of the median interval closest to no shift for an
even number of classes), which lowers the penalty and leaves the loss as it is.
At a solution every row with an odd number of classes then has a zero entry,
and the restricted system of implicit differentiation is regular.

It is a block penalty (``units = "groups"``, one group per feature) for the
kernels (``_units``), valid only with a datafit that ignores row shifts; l2
must be 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from hyperlasso.inner._tasks import entry, n_tasks


@njit(cache=True, nogil=True)
def _class_l1_unit_prox(U, step, lam_g, l2):
    """Soft-threshold the rows U (size, K) at step lam_g, then shift each row by
    its median (in place)."""
    threshold = step * lam_g
    for k in range(U.shape[0]):
        for t in range(U.shape[1]):
            u = U[k, t]
            U[k, t] = u - threshold if u > threshold else (
                u + threshold if u < -threshold else 0.0)
        shift = _median_shift(U[k])
        if shift != 0.0:
            for t in range(U.shape[1]):
                U[k, t] -= shift


@njit(cache=True, nogil=True)
def _median_shift(row):
    """argmin_c sum_k |row_k - c|, the point of the median interval nearest 0."""
    ordered = np.sort(row)
    K = ordered.shape[0]
    if K % 2 == 1:
        return ordered[K // 2]
    return min(max(0.0, ordered[K // 2 - 1]), ordered[K // 2])


@njit(cache=True, nogil=True)
def _class_l1_unit_distance(G, W, rows, lam_g, l2):
    """Distance of -G to lam_g d||.||_1 at W[rows] (entry by entry, Euclidean)."""
    total = 0.0
    for k in range(rows.shape[0]):
        for t in range(G.shape[1]):
            w, g = entry(W, rows[k], t), G[k, t]
            if w > 0:
                d = abs(g + lam_g)
            elif w < 0:
                d = abs(g - lam_g)
            else:
                d = max(abs(g) - lam_g, 0.0)
            total += d * d
    return np.sqrt(total)


@njit(cache=True, nogil=True)
def _class_l1_unit_value(W, rows, lam_g, l2):
    total = 0.0
    for k in range(rows.shape[0]):
        for t in range(n_tasks(W)):
            total += abs(entry(W, rows[k], t))
    return lam_g * total


class ClassL1(NamedTuple):
    """sum_j lam_j ||W_j||_1 on the rows of W (p, K) (module docstring).

    Parameters
    ----------
    lam : ndarray of shape (n_features,)
        Positive weights.
    l2 : float
        0 (the field the kernels read of every block penalty).
    """

    lam: np.ndarray
    l2: float

    name = "class_l1"
    separable = False
    units = "groups"
    unit_prox_of = _class_l1_unit_prox
    unit_distance_of = _class_l1_unit_distance
    unit_value_of = _class_l1_unit_value

    def value(self, W: np.ndarray) -> float:
        """sum_j lam_j sum_k |W_jk|."""
        return float(self.lam @ np.abs(W).sum(axis=1))
