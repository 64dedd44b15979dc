"""The loops of the solver's kernel over units, in the two forms a penalty's units take.

A unit is what a penalty's prox acts on (``penalties``): for a separable penalty
(``units = "features"``: ``L1L2``) unit g is feature g, and its entries W[g, t]
take the coordinate functions (``prox``, ``distance``, ``coordinate_value``);
for a group penalty (``units = "groups"``: ``GroupL2``) unit g is the rows of a
group, ``indices[indptr[g]:indptr[g + 1]]``, and takes the block functions
(``unit_prox``, ``unit_distance``, ``unit_value``). The coordinate prox of a
one-feature unit is its block prox, so the two forms are one update; the
feature form needs no work array and no gathered block.

Each loop below is an overload that picks the form from the penalty's numba
type, and holds the loop over the units itself: one kernel call per unit (a
dozen array arguments, reference-counted at every call) made the Lasso's epochs
1.5x (dense X) to 3x (sparse X) slower, and its violations 25x slower.
"""

from __future__ import annotations

import numpy as np
from numba.extending import overload

from hyperlasso.inner._penalty_calls import (
    coordinate_value,
    distance,
    prox,
    unit_distance,
    unit_kind,
    unit_prox,
    unit_value,
)
from hyperlasso.inner._tasks import (
    add_column,
    entry,
    feature_gradient,
    n_tasks,
    set_entry,
)

# ------------------------------------------------------------------ the update


def _feature_sweep(X, datafit, penalty, units, state, ws, bufs):
    """W[g, t] <- prox(W[g, t] - grad_t / L_g) for the features g of ``ws``."""
    W, S, _ = state
    lipschitz = units[2]
    delta = bufs[1]
    for q in range(ws.shape[0]):
        g = ws[q]
        if lipschitz[g] == 0.0:
            continue
        step = 1.0 / lipschitz[g]
        feature_gradient(X, datafit, S, g, delta)
        moved = False
        for t in range(n_tasks(W)):  # a constant 1 for vectors: the loop vanishes
            old = entry(W, g, t)
            new = prox(penalty, old - step * delta[t], step, g)
            delta[t] = new - old
            moved = moved or new != old
            set_entry(W, g, t, new)
        if moved:
            add_column(X, g, delta, S)


def _group_sweep(X, datafit, penalty, units, state, ws, bufs):
    """W_g <- prox_g(W_g - X_g^T grad F / L_g) for the groups g of ``ws``."""
    indices, indptr, lipschitz = units
    W, S, _ = state
    U, delta = bufs
    T = n_tasks(W)
    for q in range(ws.shape[0]):
        g = ws[q]
        if lipschitz[g] == 0.0:
            continue
        start, size = indptr[g], indptr[g + 1] - indptr[g]
        step = 1.0 / lipschitz[g]
        for k in range(size):
            j = indices[start + k]
            feature_gradient(X, datafit, S, j, U[k])
            for t in range(T):
                U[k, t] = entry(W, j, t) - step * U[k, t]
        unit_prox(penalty, U[:size], step, g)
        for k in range(size):
            j = indices[start + k]
            moved = False
            for t in range(T):
                delta[t] = U[k, t] - entry(W, j, t)
                moved = moved or delta[t] != 0.0
                set_entry(W, j, t, U[k, t])
            if moved:
                add_column(X, j, delta, S)


def sweep(X, datafit, penalty, units, state, ws, bufs):  # pragma: no cover
    """One pass of proximal-gradient steps, with step 1 / L_g, over the units
    ``ws``; ``bufs = (U, delta)``: work arrays of shapes (largest unit, T), (T,)."""
    raise NotImplementedError


@overload(sweep, jit_options={"cache": True})
def _sweep(X, datafit, penalty, units, state, ws, bufs):
    return _feature_sweep if unit_kind(penalty) == "features" else _group_sweep


# ------------------------------------------------------------------ violations


def _feature_distances(grad, W, penalty, units, ws, buf):
    out = np.empty(ws.shape[0])
    for q in range(ws.shape[0]):
        g = ws[q]
        total = 0.0
        for t in range(n_tasks(W)):
            total += distance(penalty, entry(W, g, t), entry(grad, g, t), g) ** 2
        out[q] = np.sqrt(total)  # |distance| exactly for one task
    return out


def _group_distances(grad, W, penalty, units, ws, buf):
    indices, indptr, _ = units
    out = np.empty(ws.shape[0])
    for q in range(ws.shape[0]):
        g = ws[q]
        rows = indices[indptr[g]:indptr[g + 1]]
        G = buf[:rows.shape[0]]
        for k in range(rows.shape[0]):
            for t in range(G.shape[1]):
                G[k, t] = entry(grad, rows[k], t)
        out[q] = unit_distance(penalty, G, W, rows, g)
    return out


def distances(grad, W, penalty, units, ws, buf):  # pragma: no cover
    """Distance of -grad to the subdifferential of the penalty of each unit of
    ``ws`` at W, shape (len(ws),); ``grad`` (X^T grad F) has the shape of W and
    ``buf`` is a work array of shape (largest unit, T); the Euclidean norm of
    the entries' distances for a feature (the subdifferential is a product)."""
    raise NotImplementedError


@overload(distances, jit_options={"cache": True})
def _distances(grad, W, penalty, units, ws, buf):
    return _feature_distances if unit_kind(penalty) == "features" else _group_distances


# ------------------------------------------------------------------ the penalty


def _feature_penalty(W, penalty, units, ws):
    total = 0.0
    for q in range(ws.shape[0]):
        for t in range(n_tasks(W)):
            total += coordinate_value(penalty, entry(W, ws[q], t), ws[q])
    return total


def _group_penalty(W, penalty, units, ws):
    indices, indptr, _ = units
    total = 0.0
    for q in range(ws.shape[0]):
        g = ws[q]
        total += unit_value(penalty, W, indices[indptr[g]:indptr[g + 1]], g)
    return total


def penalty_on(W, penalty, units, ws):  # pragma: no cover - numba overload below
    """The penalty of the units ``ws`` at W."""
    raise NotImplementedError


@overload(penalty_on, jit_options={"cache": True})
def _penalty_on(W, penalty, units, ws):
    return _feature_penalty if unit_kind(penalty) == "features" else _group_penalty
