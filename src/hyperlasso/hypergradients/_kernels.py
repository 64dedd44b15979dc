"""Numba kernels of iterative differentiation of coordinate descent.

One coordinate update of the inner solver is, with step = 1 / L_j,

    w_j <- prox(w_j - step * X_j^T grad F(z))

(the penalty's prox, ``_penalty_calls.prox``), so with (d_u, d_lam, d_l2) the prox's
derivatives at the update (``_penalty_calls.prox_derivatives``; for ``L1L2`` where the
new w_j is non-zero: factor = 1 / (1 + step l2), -factor step sign(w_j) and
-factor step w_j, all zero where it is zero) its derivatives are d_u in the old
w_j, ``-d_u step / n * X_j^T diag(c) X`` in w through z (c: datafit curvature),
d_lam in lam_j and d_l2 in l2. The intercept is a coordinate with a column of
ones and no penalty.
Forward mode carries J = dw/dalpha and ZJ = X J + 1 Jb; reverse mode carries the
adjoint a = c + [X, 1]^T u so that each update costs O(nnz(X_j)).

Arguments are packed as in ``inner._cd``: ``datafit`` (y, lipschitz), ``penalty``
(lam, l2), ``state`` (w, z, b) with z the datafit's state (``datafits``); and
here ``directions`` (dlam, dl2), the derivative of the penalty weights in alpha,
and ``jacobian`` (J, Jb, ZJ).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hyperlasso.inner._cd import epoch as cd_epoch
from hyperlasso.inner._cd import work_arrays
from hyperlasso.inner._design import col_axpy, column
from hyperlasso.inner._penalty_calls import prox, prox_derivatives, support_derivatives
from hyperlasso.inner.datafits import (
    gradient_scalar,
    intercept_grad,
    lipschitz_factor,
    sample_hessian,
)


@njit(cache=True, nogil=True)
def _curved_projection(rows, vals, z, datafit, ZJ, out):
    """out[k] = sum_i X_ij c_i ZJ[i, k] over the column's entries."""
    out[:] = 0.0
    for t in range(rows.shape[0]):
        i = rows[t]
        weight = vals[t] * sample_hessian(datafit, z[i], i)
        for k in range(ZJ.shape[1]):
            out[k] += weight * ZJ[i, k]


@njit(cache=True, nogil=True)
def _add_to_rows(rows, vals, delta, ZJ):
    for t in range(rows.shape[0]):
        i = rows[t]
        for k in range(ZJ.shape[1]):
            ZJ[i, k] += vals[t] * delta[k]


@njit(cache=True, nogil=True)
def forward_epochs(X, datafit, penalty, state, fit_intercept, directions, jacobian,
                   n_epochs):
    """Run ``n_epochs`` of cyclic CD on all features, propagating J = dw/dalpha.

    J (p, k), Jb (k,), ZJ (n, k) and the state are updated in place.
    """
    w, z, b = state
    dlam, dl2 = directions
    J, Jb, ZJ = jacobian
    lipschitz = datafit.lipschitz
    n, p = z.shape[0], w.shape[0]
    all_rows = np.arange(n)
    proj = np.empty(J.shape[1])
    new_row = np.empty(J.shape[1])
    ones = np.ones(n)
    for _ in range(n_epochs):
        for j in range(p):
            if lipschitz[j] == 0.0:
                continue
            rows, vals = column(X, j, all_rows)
            step = 1.0 / lipschitz[j]
            old = w[j]
            new = prox(penalty, old - step * gradient_scalar(X, datafit, z, j), step, j)
            d_u, d_lam, d_l2 = prox_derivatives(penalty, new, step, j)
            if d_u != 0.0:
                _curved_projection(rows, vals, z, datafit, ZJ, proj)
                for k in range(J.shape[1]):
                    new_row[k] = d_u * (J[j, k] - step * proj[k] / n)
            else:
                new_row[:] = 0.0
            for k in range(J.shape[1]):
                new_row[k] += d_lam * dlam[j, k] + d_l2 * dl2[k]
            _add_to_rows(rows, vals, new_row - J[j], ZJ)
            J[j] = new_row
            if new != old:
                w[j] = new
                col_axpy(X, j, new - old, z)
        if fit_intercept:
            step = 1.0 / lipschitz_factor(datafit)
            _curved_projection(all_rows, ones, z, datafit, ZJ, proj)
            shift = -step * intercept_grad(datafit, z)
            delta = -step * proj / n
            _add_to_rows(all_rows, ones, delta, ZJ)
            Jb += delta
            z += shift
            b[0] += shift


@njit(cache=True, nogil=True)
def recorded_epochs(X, datafit, penalty, state, fit_intercept, W_out, b_out):
    """Run ``len(b_out)`` CD epochs on all features, storing w and b after each.

    The epochs are the solver's (``_cd.epoch``) on one-feature units: the update
    ``forward_epochs`` differentiates."""
    w, _, b = state
    p = w.shape[0]
    features = np.arange(p)
    units = (features, np.arange(p + 1), datafit.lipschitz)
    bufs = work_arrays(units, features, 1)
    for e in range(b_out.shape[0]):
        cd_epoch(X, datafit, penalty, units, state, features, fit_intercept, bufs)
        W_out[e] = w
        b_out[e] = b[0]


@njit(cache=True, nogil=True)
def _reverse_feature(entries, z, datafit, derivatives, step, c, u, j):
    """Adjoint of one feature update; returns (a_j * dnew/dlam_j, a_j * dnew/dl2).

    ``entries`` is the column (rows, vals), ``derivatives`` the prox's
    (d_u, d_lam, d_l2) at the update (``_penalty_calls.prox_derivatives``), (c, u) the
    adjoint. c and u are separate arguments: unpacked from a tuple next to an
    IR-inlined call, numba 0.68 miscompiled the update of u (see ``datafits``).
    """
    rows, vals = entries
    d_u, d_lam, d_l2 = derivatives
    n = z.shape[0]
    a_j = c[j]
    for t in range(rows.shape[0]):
        a_j += vals[t] * u[rows[t]]
    c[j] += (d_u - 1.0) * a_j
    if d_u != 0.0:
        scale = a_j * d_u * step / n
        for t in range(rows.shape[0]):
            i = rows[t]
            u[i] -= scale * vals[t] * sample_hessian(datafit, z[i], i)
    return a_j * d_lam, a_j * d_l2


@njit(cache=True, nogil=True)
def backward_pass(X, datafit, trajectory, z, penalty, fit_intercept, c, c_b):
    """Reverse-mode differentiation through the recorded epochs.

    ``trajectory`` is (W (E + 1, p), B (E + 1,)), the iterates (row 0: the
    start), ``z`` the final linear predictor (overwritten), ``c`` and ``c_b`` the
    gradient of the criterion at the last iterate. Returns the gradients in lam
    (p,) and in l2.
    """
    W, B = trajectory
    lipschitz = datafit.lipschitz
    n, p = z.shape[0], W.shape[1]
    all_rows = np.arange(n)
    u = np.zeros(n)
    g_lam = np.zeros(p)
    g_l2 = 0.0
    for e in range(W.shape[0] - 1, 0, -1):
        if fit_intercept:
            z -= B[e] - B[e - 1]
            a_b = c_b + np.sum(u)
            step = 1.0 / lipschitz_factor(datafit)
            for i in range(n):
                u[i] -= a_b * step / n * sample_hessian(datafit, z[i], i)
        for j in range(p - 1, -1, -1):
            if lipschitz[j] == 0.0:
                continue
            entries = column(X, j, all_rows)
            delta = W[e, j] - W[e - 1, j]
            if delta != 0.0:
                col_axpy(X, j, -delta, z)
            step = 1.0 / lipschitz[j]
            d_lam, d_l2 = _reverse_feature(
                entries, z, datafit, prox_derivatives(penalty, W[e, j], step, j), step,
                c, u, j)
            g_lam[j] += d_lam
            g_l2 += d_l2
    return g_lam, g_l2


@njit(cache=True, nogil=True)
def _max_abs(a):
    m = 0.0
    for v in a.ravel():
        m = max(m, abs(v))
    return m


@njit(cache=True, nogil=True)
def implicit_forward_sweeps(X, datafit, penalty, point, directions, jacobian,
                            fit_intercept, limits):
    """Gauss-Seidel sweeps on H J = -B restricted to the support S (frozen).

    ``point`` is (S, z, coef), ``directions`` (dlam_S, dl2), ``limits`` (tol,
    max_epochs). H = [X_S, 1]^T diag(c) [X_S, 1] / n + D_S and B = [G_lam dlam_S
    + G_l2 dl2; 0], with D_S, G_lam and G_l2 the penalty's curvature and cross
    terms on the support (``_penalty_calls.support_derivatives``; for ``L1L2``: l2,
    sign(w_S) and w_S). J (|S|, k), Jb (k,), ZJ (n, k) are updated in place
    (warm start). Returns the number of epochs; stops when the largest change is
    below tol * max|J|.
    """
    S, z, coef = point
    dlam_S, dl2 = directions
    J, Jb, ZJ = jacobian
    tol, max_epochs = limits
    n = z.shape[0]
    all_rows = np.arange(n)
    ones = np.ones(n)
    proj = np.empty(J.shape[1])
    diag = np.empty(S.shape[0])
    curvature = np.empty(S.shape[0])
    cross = np.empty((S.shape[0], 2))
    for t in range(S.shape[0]):
        curvature[t], cross[t, 0], cross[t, 1] = support_derivatives(
            penalty, coef[S[t]], S[t])
        rows, vals = column(X, S[t], all_rows)
        diag[t] = 0.0
        for q in range(rows.shape[0]):
            diag[t] += vals[q] ** 2 * sample_hessian(datafit, z[rows[q]], rows[q])
        diag[t] = diag[t] / n + curvature[t]
    diag_b = 0.0
    for i in range(n):
        diag_b += sample_hessian(datafit, z[i], i) / n
    for epoch in range(1, max_epochs + 1):
        change = 0.0
        for t in range(S.shape[0]):
            rows, vals = column(X, S[t], all_rows)
            _curved_projection(rows, vals, z, datafit, ZJ, proj)
            delta = -(proj / n + curvature[t] * J[t] + cross[t, 0] * dlam_S[t]
                      + cross[t, 1] * dl2) / diag[t]
            _add_to_rows(rows, vals, delta, ZJ)
            J[t] += delta
            change = max(change, np.max(np.abs(delta)))
        if fit_intercept:
            _curved_projection(all_rows, ones, z, datafit, ZJ, proj)
            delta = -(proj / n) / diag_b
            _add_to_rows(all_rows, ones, delta, ZJ)
            Jb += delta
            change = max(change, np.max(np.abs(delta)))
        if change <= tol * max(_max_abs(J), _max_abs(Jb), 1e-300):
            return epoch
    return max_epochs
