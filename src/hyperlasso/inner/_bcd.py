"""Numba kernels of block coordinate descent for the quadratic block problem

    ||XW + 1 b^T - Y||_F^2 / (2n) + sum_g lam_g ||W_g||_F + l2 / 2 ||W||_F^2,

W of shape (p, T), W_g its rows in group g. Written once for dense and sparse X
(``_design.column``). The kernels carry the residual R = XW + 1 b^T - Y of shape
(n, T), C order, so that a group's gradient is X_g^T R / n.

Arguments are packed: ``groups = (indices, indptr, lipschitz)`` (see
``groups.Groups``; lipschitz of shape (n_groups,)), ``penalty``
(``penalties.GroupL2``: lam of shape (n_groups,), l2) and
``state = (W, R, b)``, all updated in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hyperlasso.inner._cd import anderson_extrapolate
from hyperlasso.inner._design import col_add_tasks, col_dot_tasks
from hyperlasso.inner._penalty_calls import block_distance, block_prox_scale, block_value


@njit(cache=True, nogil=True)
def group_gradient(X, R, indices, start, size, out):
    """out[k, t] = X_j^T R[:, t] / n for the k-th feature j of the group."""
    n = R.shape[0]
    for k in range(size):
        col_dot_tasks(X, indices[start + k], R, out[k])
        out[k] /= n


@njit(cache=True, nogil=True)
def _move_group(X, state, indices, start, size, new, delta):
    """Set W_g to ``new`` (size, T) and update R accordingly (``delta``: (T,))."""
    W, R, _ = state
    T = R.shape[1]
    for k in range(size):
        j = indices[start + k]
        moved = False
        for t in range(T):
            delta[t] = new[k, t] - W[j, t]
            moved = moved or delta[t] != 0.0
            W[j, t] = new[k, t]
        if moved:
            col_add_tasks(X, j, delta, R)


@njit(cache=True, nogil=True)
def update_group(X, groups, penalty, state, g, bufs):
    """One block proximal-gradient step on group g with step 1 / L_g.

    ``bufs = (grad, delta)``: work arrays of shapes (max group size, T) and (T,).
    """
    indices, indptr, lipschitz = groups
    W = state[0]
    if lipschitz[g] == 0.0:
        return
    start, size = indptr[g], indptr[g + 1] - indptr[g]
    T = W.shape[1]
    grad = bufs[0][:size]
    group_gradient(X, state[1], indices, start, size, grad)
    step = 1.0 / lipschitz[g]
    norm_sq = 0.0
    for k in range(size):
        j = indices[start + k]
        for t in range(T):
            grad[k, t] = W[j, t] - step * grad[k, t]
            norm_sq += grad[k, t] ** 2
    scale = block_prox_scale(penalty, np.sqrt(norm_sq), step, g)
    grad *= scale
    _move_group(X, state, indices, start, size, grad, bufs[1])


@njit(cache=True, nogil=True)
def center_intercept(state):
    """Exact intercept update of the quadratic datafit: mean residual to zero."""
    _, R, b = state
    n, T = R.shape
    for t in range(T):
        shift = 0.0
        for i in range(n):
            shift += R[i, t]
        shift /= n
        for i in range(n):
            R[i, t] -= shift
        b[t] -= shift


@njit(cache=True, nogil=True)
def bcd_epoch(X, groups, penalty, state, ws, fit_intercept, bufs):
    """One cyclic pass over the groups ``ws`` (then the intercept)."""
    for q in range(ws.shape[0]):
        update_group(X, groups, penalty, state, ws[q], bufs)
    if fit_intercept:
        center_intercept(state)


@njit(cache=True, nogil=True)
def group_violation(X, groups, penalty, state, g, buf):
    """Distance of -grad_g to the subdifferential of the penalty at W_g."""
    indices, indptr, _ = groups
    start, size = indptr[g], indptr[g + 1] - indptr[g]
    grad = buf[:size]
    group_gradient(X, state[1], indices, start, size, grad)
    return block_distance(penalty, grad, state[0], indices[start:start + size], g)


@njit(cache=True, nogil=True)
def subproblem_violation(X, groups, penalty, state, ws, fit_intercept, buf):
    """Largest violation over the groups ``ws`` (and the intercept)."""
    worst = 0.0
    for q in range(ws.shape[0]):
        worst = max(worst, group_violation(X, groups, penalty, state, ws[q], buf))
    if fit_intercept:
        R = state[1]
        for t in range(R.shape[1]):
            worst = max(worst, abs(np.mean(R[:, t])))
    return worst


@njit(cache=True, nogil=True)
def objective_on(groups, penalty, state, ws):
    """||R||^2 / (2n) + the penalty of the groups ``ws``."""
    indices, indptr, _ = groups
    W, R, _ = state
    total = 0.0
    for t in range(R.shape[1]):
        for i in range(R.shape[0]):
            total += R[i, t] ** 2
    total *= 0.5 / R.shape[0]
    for q in range(ws.shape[0]):
        g = ws[q]
        w_sq = 0.0
        for k in range(indptr[g], indptr[g + 1]):
            for t in range(W.shape[1]):
                w_sq += W[indices[k], t] ** 2
        total += block_value(penalty, w_sq, g)
    return total


@njit(cache=True, nogil=True)
def _record(state, features, history, residuals, row):
    """Row ``row`` of the histories: W on the working set, b, and R (C order)."""
    W, R, b = state
    T = W.shape[1]
    for k in range(features.shape[0]):
        for t in range(T):
            history[row, k * T + t] = W[features[k], t]
    m = features.shape[0] * T
    for t in range(T):
        history[row, m + t] = b[t]
    for i in range(R.shape[0]):
        for t in range(T):
            residuals[row, i * T + t] = R[i, t]


@njit(cache=True, nogil=True)
def _try_anderson(groups, penalty, state, ws, features, history, residuals):
    """Replace the state by its Anderson extrapolation if it lowers the objective."""
    c = anderson_extrapolate(history)
    if not np.all(np.isfinite(c)):
        return
    W, R, b = state
    T = W.shape[1]
    point = c @ history[1:]
    W_try, b_try = W.copy(), point[features.shape[0] * T:].copy()
    for k in range(features.shape[0]):
        for t in range(T):
            W_try[features[k], t] = point[k * T + t]
    R_try = (c @ residuals[1:]).reshape(R.shape)
    trial = (W_try, R_try, b_try)
    if objective_on(groups, penalty, trial, ws) < objective_on(groups, penalty, state, ws):
        W[:] = W_try
        R[:] = R_try
        b[:] = b_try


#: Every this many epochs a sweep visits the whole working set; the others visit
#: only its non-zero groups (a zero group is rarely revived between two full
#: sweeps, and the working set is half zero groups by construction).
FULL_SWEEP_EVERY = 4


@njit(cache=True, nogil=True)
def nonzero_groups(groups, W, ws):
    """The groups of ``ws`` whose block of W is not all zero."""
    indices, indptr, _ = groups
    keep = np.zeros(ws.shape[0], dtype=np.bool_)
    for q in range(ws.shape[0]):
        for k in range(indptr[ws[q]], indptr[ws[q] + 1]):
            for t in range(W.shape[1]):
                if W[indices[k], t] != 0.0:
                    keep[q] = True
    return ws[keep]


@njit(cache=True, nogil=True)
def solve_subproblem(X, groups, penalty, state, ws, fit_intercept, tol_in, max_epochs):
    """Block CD with Anderson acceleration on the groups ``ws``; returns the epochs.

    Stops when the violation on ``ws`` is below ``tol_in`` (checked every 10
    epochs) or after ``max_epochs``.
    """
    indices, indptr, _ = groups
    R = state[1]
    sizes = indptr[ws + 1] - indptr[ws]
    bufs = (np.empty((max(np.max(sizes), 1), R.shape[1])), np.empty(R.shape[1]))
    features = np.empty(np.sum(sizes), dtype=np.intp)
    pos = 0
    for q in range(ws.shape[0]):
        for k in range(indptr[ws[q]], indptr[ws[q] + 1]):
            features[pos] = indices[k]
            pos += 1
    n_anderson = 5
    history = np.empty((n_anderson + 1, (features.shape[0] + 1) * R.shape[1]))
    residuals = np.empty((n_anderson + 1, R.size))
    sweep = ws
    for epoch in range(1, max_epochs + 1):
        if epoch % FULL_SWEEP_EVERY == 1:
            sweep = ws
        elif epoch % FULL_SWEEP_EVERY == 2:
            sweep = nonzero_groups(groups, state[0], ws)
        bcd_epoch(X, groups, penalty, state, sweep, fit_intercept, bufs)
        row = (epoch - 1) % (n_anderson + 1)
        _record(state, features, history, residuals, row)
        if row == n_anderson:
            _try_anderson(groups, penalty, state, ws, features, history, residuals)
        if epoch % 10 == 0 and subproblem_violation(
                X, groups, penalty, state, ws, fit_intercept, bufs[0]) <= tol_in:
            return epoch
    return max_epochs
