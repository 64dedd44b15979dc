"""Numba kernels of coordinate descent for F(Xw + b) + a separable penalty.

Written once for dense and sparse X (see ``_design``), for every datafit (see
``datafits``: the datafit is a typed tuple (y, lipschitz)) and every separable
penalty (see ``penalties``: ``L1L2``, the typed tuple (lam, l2)). The iterate is
the tuple ``state = (w, z, b)`` with z = Xw + b and b an array of one entry, all
updated in place. Each kernel is one named
step of the solver in ``solver.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hyperlasso.inner._design import col_axpy
from hyperlasso.inner._penalty_calls import coordinate_value, distance, prox
from hyperlasso.inner.datafits import (
    gradient_scalar,
    intercept_grad,
    intercept_update_step,
    value,
)


@njit(cache=True, nogil=True)
def violations(grad, w, penalty, features):
    """Distance of -grad_j to the subdifferential of the penalty, for j in features."""
    out = np.empty(features.shape[0])
    for t in range(features.shape[0]):
        j = features[t]
        out[t] = distance(penalty, w[j], grad[j], j)
    return out


@njit(cache=True, nogil=True)
def cd_epoch(X, datafit, penalty, state, ws, fit_intercept):
    """One cyclic pass of coordinate descent over ``ws``; updates ``state``."""
    w, z, b = state
    lipschitz = datafit.lipschitz
    for t in range(ws.shape[0]):
        j = ws[t]
        if lipschitz[j] == 0.0:
            continue
        old = w[j]
        step = 1.0 / lipschitz[j]
        new = prox(penalty, old - step * gradient_scalar(X, datafit, z, j), step, j)
        if new != old:
            w[j] = new
            col_axpy(X, j, new - old, z)
    if fit_intercept:
        shift = -intercept_update_step(datafit, z)
        z += shift
        b[0] += shift


@njit(cache=True, nogil=True)
def penalty_value(penalty, w, ws):
    """Return the penalty of the coordinates in ws."""
    total = 0.0
    for t in range(ws.shape[0]):
        j = ws[t]
        total += coordinate_value(penalty, w[j], j)
    return total


@njit(cache=True, nogil=True)
def subproblem_violation(X, datafit, penalty, state, ws, fit_intercept):
    """Largest optimality violation over ``ws`` (and the intercept)."""
    w, z, _ = state
    grad_ws = np.empty(w.shape[0])
    for t in range(ws.shape[0]):
        grad_ws[ws[t]] = gradient_scalar(X, datafit, z, ws[t])
    worst = np.max(violations(grad_ws, w, penalty, ws))
    if fit_intercept:
        worst = max(worst, abs(intercept_grad(datafit, z)))
    return worst


@njit(cache=True, nogil=True)
def anderson_extrapolate(history):
    """Anderson weights c (sum 1) from the last K+1 iterates, rows of ``history``.

    Solves (U U^T) c = 1 with U the successive differences (Scieur et al.), with a
    small Tikhonov term for stability. Returns a vector of NaN when it fails.
    """
    diffs = history[1:] - history[:-1]
    gram = diffs @ diffs.T
    k = gram.shape[0]
    reg = 1e-10 * max(np.trace(gram), 1e-300)
    for i in range(k):
        gram[i, i] += reg
    try:
        c = np.linalg.solve(gram, np.ones(k))
    except Exception:  # noqa: BLE001 - numba raises a generic error
        return np.full(k, np.nan)
    return c / np.sum(c)


@njit(cache=True, nogil=True)
def _objective(datafit, penalty, w, z, ws):
    return value(datafit, z) + penalty_value(penalty, w, ws)


@njit(cache=True, nogil=True)
def _record_state(state, ws, w_hist, z_hist, row):
    w, z, b = state
    for t in range(ws.shape[0]):
        w_hist[row, t] = w[ws[t]]
    w_hist[row, ws.shape[0]] = b[0]
    z_hist[row] = z


@njit(cache=True, nogil=True)
def _try_anderson(datafit, penalty, state, ws, w_hist, z_hist):
    """Replace the state by the Anderson extrapolation if it lowers the objective."""
    c = anderson_extrapolate(w_hist)
    if not np.all(np.isfinite(c)):
        return
    w, z, b = state
    w_acc = c @ w_hist[1:]
    z_acc = c @ z_hist[1:]
    w_try = w.copy()
    for t in range(ws.shape[0]):
        w_try[ws[t]] = w_acc[t]
    current = _objective(datafit, penalty, w, z, ws)
    if _objective(datafit, penalty, w_try, z_acc, ws) < current:
        w[:] = w_try
        z[:] = z_acc
        b[0] = w_acc[ws.shape[0]]


@njit(cache=True, nogil=True)
def solve_subproblem(X, datafit, penalty, state, ws, fit_intercept, tol_in, max_epochs):
    """Coordinate descent with Anderson acceleration on the working set ``ws``.

    Returns the number of epochs run; ``state`` is updated in place. Stops when
    the optimality violation on ``ws`` is below ``tol_in`` (checked every 10
    epochs) or after ``max_epochs``.
    """
    n_anderson = 5
    w_hist = np.empty((n_anderson + 1, ws.shape[0] + 1))
    z_hist = np.empty((n_anderson + 1, state[1].shape[0]))
    for epoch in range(1, max_epochs + 1):
        cd_epoch(X, datafit, penalty, state, ws, fit_intercept)
        row = (epoch - 1) % (n_anderson + 1)
        _record_state(state, ws, w_hist, z_hist, row)
        if row == n_anderson:
            _try_anderson(datafit, penalty, state, ws, w_hist, z_hist)
        if epoch % 10 == 0:
            if subproblem_violation(X, datafit, penalty, state, ws,
                                    fit_intercept) <= tol_in:
                return epoch
    return max_epochs
