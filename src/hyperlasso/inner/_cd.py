"""The numba kernel of the inner solver: coordinate descent over units with
Anderson acceleration, for every datafit, penalty, storage of X and number of tasks.

    minimize_{W, b}  F(XW + 1 b^T) + sum_g P_g(W_g)

with W of shape (p, T) and b of shape (T,). A *unit* is what the penalty's prox
acts on (``penalties``): one feature's row of W for a separable penalty, a
group's rows for a group penalty. One update is the proximal-gradient step of
a unit with step 1 / L_g,

    W_g <- prox_g(W_g - X_g^T grad F / L_g),

exact coordinate minimization for one feature of a quadratic datafit. The
Lasso, the ElasticNet and sparse logistic regression are the case of
one-feature units and one task, the multi-task Lasso of one-feature units and
T tasks, the group Lasso of groups and one task. One task is passed as vectors
W (p,) and S (n,) (``_tasks``), so that numba compiles this source into a plain
scalar coordinate descent for them.

Arguments are packed: ``units = (indices, indptr, lipschitz)`` (the unit g holds
the features ``indices[indptr[g]:indptr[g + 1]]``, as ``groups.Groups``, and
``lipschitz[g]`` is its Lipschitz constant), ``datafit`` (``datafits``),
``penalty`` (``penalties``) and ``state = (W, S, b)``: S the datafit's state
(the residual XW + 1 b^T - Y for the quadratic, the linear predictor otherwise;
``datafits``) and b the intercepts, all updated in place. Written once for dense
and sparse X (``_design``, ``_tasks``); no kernel takes more than 8 arguments.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hyperlasso.inner._tasks import (
    assign,
    entry,
    feature_gradient,
    intercept_gradient,
    intercept_step,
    n_tasks,
    row,
    set_entry,
    state_value,
)
from hyperlasso.inner._units import distances, penalty_on, sweep


@njit(cache=True, nogil=True)
def update_intercept(datafit, state):
    """The intercepts' gradient steps (exact centering for the quadratic)."""
    _, S, b = state
    for t in range(b.shape[0]):
        shift = intercept_step(datafit, S, t)
        for i in range(S.shape[0]):
            set_entry(S, i, t, entry(S, i, t) + shift)
        b[t] += shift


@njit(cache=True, nogil=True)
def epoch(X, datafit, penalty, units, state, ws, fit_intercept, bufs):
    """One cyclic pass over the units ``ws`` (``_units.sweep``), then the
    intercepts; ``bufs`` from ``work_arrays``."""
    sweep(X, datafit, penalty, units, state, ws, bufs)
    if fit_intercept:
        update_intercept(datafit, state)


@njit(cache=True, nogil=True)
def work_arrays(units, ws, T):
    """The work arrays ``(U, delta)`` of a sweep over the units ``ws``: shapes
    (largest unit, T) and (T,)."""
    indices, indptr, _ = units
    largest = 1
    for q in range(ws.shape[0]):
        largest = max(largest, indptr[ws[q] + 1] - indptr[ws[q]])
    return np.empty((largest, T)), np.empty(T)


@njit(cache=True, nogil=True)
def violations(grad, W, penalty, units):
    """Distance of -grad_g to the subdifferential of every unit's penalty, shape
    (n_units,); ``grad`` is X^T grad F, of the shape of W."""
    every = np.arange(units[1].shape[0] - 1)
    return distances(grad, W, penalty, units, every,
                     work_arrays(units, every, n_tasks(W))[0])


@njit(cache=True, nogil=True)
def subproblem_violation(X, datafit, penalty, units, state, ws, features, buf):
    """Largest violation over the units ``ws``; ``features`` are their features
    (``_features_of``)."""
    W, S, _ = state
    grad = np.empty_like(W)
    for k in range(features.shape[0]):
        feature_gradient(X, datafit, S, features[k], row(grad, features[k]))
    found = distances(grad, W, penalty, units, ws, buf)
    worst = 0.0
    for q in range(found.shape[0]):
        worst = max(worst, found[q])
    return worst


@njit(cache=True, nogil=True)
def intercept_violation(datafit, S):
    """Largest |dF/db_t| over the tasks."""
    worst = 0.0
    for t in range(n_tasks(S)):
        worst = max(worst, abs(intercept_gradient(datafit, S, t)))
    return worst


@njit(cache=True, nogil=True)
def objective_on(datafit, penalty, units, state, ws):
    """F at the state plus the penalty of the units ``ws``."""
    W, S, _ = state
    return state_value(datafit, S) + penalty_on(W, penalty, units, ws)


@njit(cache=True, nogil=True)
def anderson_extrapolate(history):
    """Anderson weights c (sum 1) from the last K+1 iterates, rows of ``history``.

    Solves (U U^T + eps I) c = 1 with U the successive differences (Scieur et al.;
    eps = 1e-10 trace(U U^T) for stability) by a Cholesky factorization written
    here: numba's np.linalg.solve (and the matrix product) took 5 of the 14 s the
    first Lasso fit after installation spent compiling. Returns a vector of NaN
    when the factorization fails.
    """
    k, m = history.shape[0] - 1, history.shape[1]
    gram = np.zeros((k, k))
    for a in range(k):
        for c in range(a + 1):
            total = 0.0
            for j in range(m):
                total += ((history[a + 1, j] - history[a, j])
                          * (history[c + 1, j] - history[c, j]))
            gram[a, c] = total
    trace = 0.0
    for a in range(k):
        trace += gram[a, a]
    reg = 1e-10 * max(trace, 1e-300)
    for a in range(k):  # Cholesky, lower triangle: gram + reg I = L L^T
        for c in range(a + 1):
            total = gram[a, c] + (reg if a == c else 0.0)
            for q in range(c):
                total -= gram[a, q] * gram[c, q]
            if a == c:
                if not total > 0.0:
                    return np.full(k, np.nan)
                gram[a, a] = np.sqrt(total)
            else:
                gram[a, c] = total / gram[c, c]
    weights = np.ones(k)
    for a in range(k):  # L y = 1
        for q in range(a):
            weights[a] -= gram[a, q] * weights[q]
        weights[a] /= gram[a, a]
    for a in range(k - 1, -1, -1):  # L^T c = y
        for q in range(a + 1, k):
            weights[a] -= gram[q, a] * weights[q]
        weights[a] /= gram[a, a]
    return weights / np.sum(weights)


@njit(cache=True, nogil=True)
def _combine(weights, rows, out):
    """out = sum_a weights[a] rows[a + 1] (the extrapolated point)."""
    out[:] = 0.0
    for a in range(weights.shape[0]):
        for j in range(out.shape[0]):
            out[j] += weights[a] * rows[a + 1, j]


@njit(cache=True, nogil=True)
def _record(state, features, history, states, row):
    """Row ``row`` of the histories: W on ``features`` and b, and S."""
    W, S, b = state
    T = b.shape[0]
    for k in range(features.shape[0]):
        for t in range(T):
            history[row, k * T + t] = entry(W, features[k], t)
    m = features.shape[0] * T
    for t in range(T):
        history[row, m + t] = b[t]
    for i in range(S.shape[0]):  # sample after sample, as reshape reads it back
        for t in range(T):
            states[row, i * T + t] = entry(S, i, t)


@njit(cache=True, nogil=True)
def _try_anderson(datafit, penalty, units, state, ws, features, histories):
    """Replace the state by its Anderson extrapolation if it lowers the objective."""
    history, states = histories
    c = anderson_extrapolate(history)
    if not np.isfinite(np.sum(c)):  # NaN when the factorization failed
        return
    W, S, b = state
    T = b.shape[0]
    point = np.empty(history.shape[1])
    _combine(c, history, point)
    W_try, b_try = W.copy(), point[features.shape[0] * T:].copy()
    for k in range(features.shape[0]):
        for t in range(T):
            set_entry(W_try, features[k], t, point[k * T + t])
    flat = np.empty(states.shape[1])  # sample after sample, as _record stores it
    _combine(c, states, flat)
    S_try = np.empty_like(S)  # not flat.reshape: its shape check cost 3 s of compiling
    for i in range(S.shape[0]):
        for t in range(T):
            set_entry(S_try, i, t, flat[i * T + t])
    trial = (W_try, S_try, b_try)
    if (objective_on(datafit, penalty, units, trial, ws)
            < objective_on(datafit, penalty, units, state, ws)):
        assign(W, W_try)
        assign(S, S_try)
        assign(b, b_try)


#: Every this many epochs a sweep visits the whole working set; the others visit
#: only its non-zero units (a zero unit is rarely revived between two full
#: sweeps, and the working set is half zero units by construction).
FULL_SWEEP_EVERY = 4
#: Epochs between two checks of the subproblem's tolerance in ``solve_subproblem``
#: (a chunk of epochs that converged returns fewer than it was given only if it
#: holds a check before its last epoch: see ``solver.NEWTON_EVERY``).
CHECK_EVERY = 10


@njit(cache=True, nogil=True)
def nonzero_units(units, W, ws):
    """The units of ``ws`` whose rows of W are not all zero."""
    indices, indptr, _ = units
    kept = np.empty_like(ws)
    n_kept = 0
    for q in range(ws.shape[0]):
        nonzero = False
        for k in range(indptr[ws[q]], indptr[ws[q] + 1]):
            for t in range(n_tasks(W)):
                nonzero = nonzero or entry(W, indices[k], t) != 0.0
        if nonzero:
            kept[n_kept] = ws[q]
            n_kept += 1
    return kept[:n_kept]


@njit(cache=True, nogil=True)
def _features_of(units, ws):
    """The features of the units ``ws``, unit after unit (loops only, here and in
    the other small kernels: array expressions and reductions each add a few
    tenths of a second to the first, compiling run)."""
    indices, indptr, _ = units
    size = 0
    for q in range(ws.shape[0]):
        size += indptr[ws[q] + 1] - indptr[ws[q]]
    features = np.empty(size, dtype=np.intp)
    pos = 0
    for q in range(ws.shape[0]):
        for k in range(indptr[ws[q]], indptr[ws[q] + 1]):
            features[pos] = indices[k]
            pos += 1
    return features


#: A linear congruential generator (glibc's constants; products fit in int64):
#: the shuffled sweeps are the same on every run, thread and worker.
_LCG_A, _LCG_C, _LCG_M = 1103515245, 12345, 2**31


@njit(cache=True, nogil=True)
def shuffled(ws, seed):
    """A permutation of ``ws`` (Fisher-Yates), determined by ``seed``."""
    out = ws.copy()
    x = seed % _LCG_M
    for k in range(out.shape[0] - 1, 0, -1):
        x = (_LCG_A * x + _LCG_C) % _LCG_M
        r = x % (k + 1)
        out[k], out[r] = out[r], out[k]
    return out


@njit(cache=True, nogil=True)
def solve_subproblem(X, datafit, penalty, units, state, ws, settings):
    """Coordinate descent with Anderson acceleration on the units ``ws``.

    ``settings = (fit_intercept, tol_in, max_epochs, shuffle)``. Returns the
    number of epochs run; ``state`` is updated in place. Stops when the
    optimality violation on ``ws`` is below ``tol_in`` (checked every
    ``CHECK_EVERY`` epochs) or after ``max_epochs``. With ``shuffle`` every epoch
    visits its units in a new order (``shuffled``), as liblinear's dual solvers do.
    """
    fit_intercept, tol_in, max_epochs, shuffle = settings
    W, S, b = state
    bufs = work_arrays(units, ws, b.shape[0])
    features = _features_of(units, ws)
    n_anderson = 5
    histories = (np.empty((n_anderson + 1, (features.shape[0] + 1) * b.shape[0])),
                 np.empty((n_anderson + 1, S.size)))
    sweep = ws
    for e in range(1, max_epochs + 1):
        if e % FULL_SWEEP_EVERY == 1:
            sweep = ws
        elif e % FULL_SWEEP_EVERY == 2:
            sweep = nonzero_units(units, W, ws)
        if shuffle:
            sweep = shuffled(sweep, e)
        epoch(X, datafit, penalty, units, state, sweep, fit_intercept, bufs)
        row = (e - 1) % (n_anderson + 1)
        _record(state, features, histories[0], histories[1], row)
        if row == n_anderson:
            _try_anderson(datafit, penalty, units, state, ws, features, histories)
        if e % CHECK_EVERY == 0:
            worst = subproblem_violation(X, datafit, penalty, units, state, ws,
                                         features, bufs[0])
            if fit_intercept:
                worst = max(worst, intercept_violation(datafit, S))
            if worst <= tol_in:
                return e
    return max_epochs
