"""Datafits F(Xw + b) of the inner problems, as numba kernels.

Two datafits, chosen by an integer code so that one compiled solver serves both:

- ``QUADRATIC``: F(z) = ||y - z||^2 / (2 n);
- ``LOGISTIC``:  F(z) = (1/n) sum_i log(1 + exp(-y_i z_i)), y in {-1, 1}.

All functions take ``z = Xw + b`` (the linear predictor), so an intercept is just
one more coordinate. ``curvature`` returns n times the diagonal of the Hessian of F
in z, so that the Hessian in w is ``X^T diag(curvature) X / n``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

QUADRATIC = 0
LOGISTIC = 1

#: Upper bound of the curvature of each datafit (1 and 1/4), so that the
#: coordinate-wise Lipschitz constant is ``LIPSCHITZ_FACTOR * ||X_j||^2 / n``.
LIPSCHITZ_FACTOR = (1.0, 0.25)


@njit(cache=True, nogil=True, inline="always")
def sigmoid(t):
    """Numerically stable logistic function 1 / (1 + exp(-t))."""
    if t >= 0:
        return 1.0 / (1.0 + np.exp(-t))
    e = np.exp(t)
    return e / (1.0 + e)


@njit(cache=True, nogil=True, inline="always")
def dloss(kind, z, y):
    """Derivative in z of the loss of one sample (times n)."""
    if kind == QUADRATIC:
        return z - y
    return -y * sigmoid(-y * z)


@njit(cache=True, nogil=True, inline="always")
def d2loss(kind, z, y):
    """Second derivative in z of the loss of one sample (times n)."""
    if kind == QUADRATIC:
        return 1.0
    s = sigmoid(y * z)
    return s * (1.0 - s)


@njit(cache=True, nogil=True)
def value(kind, z, y):
    """Return F(z)."""
    n = z.shape[0]
    total = 0.0
    for i in range(n):
        if kind == QUADRATIC:
            total += 0.5 * (y[i] - z[i]) ** 2
        else:
            t = -y[i] * z[i]
            total += t + np.log1p(np.exp(-t)) if t > 0 else np.log1p(np.exp(t))
    return total / n


@njit(cache=True, nogil=True)
def raw_gradient(kind, z, y):
    """Return the gradient of F in z, shape (n,)."""
    n = z.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = dloss(kind, z[i], y[i]) / n
    return out


@njit(cache=True, nogil=True)
def curvature(kind, z, y):
    """Return n times the diagonal of the Hessian of F in z, shape (n,)."""
    n = z.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = d2loss(kind, z[i], y[i])
    return out


@njit(cache=True, nogil=True)
def dual_value(kind, theta, y):
    """Return -F*(-theta), the dual objective's datafit part.

    ``theta`` must be dual feasible for the datafit: any vector for the quadratic,
    ``u_i = n theta_i y_i`` in [0, 1] for the logistic loss.
    """
    n = theta.shape[0]
    total = 0.0
    for i in range(n):
        if kind == QUADRATIC:
            total += theta[i] * y[i] - 0.5 * n * theta[i] ** 2
        else:
            u = n * theta[i] * y[i]
            if 0.0 < u < 1.0:
                total -= (u * np.log(u) + (1.0 - u) * np.log(1.0 - u)) / n
    return total


def col_grad(X, j, z, y, kind):  # pragma: no cover - numba overload below
    """Return ``X[:, j] @ grad F(z)``."""
    raise NotImplementedError


#: Let LLVM reorder sums (and fuse multiply-adds) so that column reductions are
#: vectorized; NaN and inf semantics are kept (inputs are checked finite anyway).
REDUCTION_MATH = {"reassoc", "contract"}


@overload(col_grad, jit_options={"cache": True, "fastmath": REDUCTION_MATH})
def _col_grad(X, j, z, y, kind):
    if isinstance(X, types.Array):
        def dense(X, j, z, y, kind):
            n = X.shape[0]
            s = 0.0
            if kind == QUADRATIC:
                for i in range(n):
                    s += X[i, j] * (z[i] - y[i])
            else:
                for i in range(n):
                    s += X[i, j] * dloss(LOGISTIC, z[i], y[i])
            return s / n
        return dense

    def sparse(X, j, z, y, kind):
        data, indices, indptr = X
        n = z.shape[0]
        s = 0.0
        if kind == QUADRATIC:
            for k in range(indptr[j], indptr[j + 1]):
                s += data[k] * (z[indices[k]] - y[indices[k]])
        else:
            for k in range(indptr[j], indptr[j + 1]):
                i = indices[k]
                s += data[k] * dloss(LOGISTIC, z[i], y[i])
        return s / n
    return sparse
