"""Coefficients and datafit states of one task or several, read alike by the kernels.

The coordinate-descent kernel (``_cd``) works on W of shape (p, T) and on the
datafit's state S of shape (n, T) (``datafits``: the residual for the quadratic,
the linear predictor otherwise). One task is passed as 1-D arrays (p,) and (n,):
numba then compiles the kernel for vectors, with the contiguous, vectorized
loops of a scalar coordinate descent, and the same source serves T tasks. With
several tasks, S is stored task after task (Fortran order) below
``_design.TASK_MAJOR_BELOW`` tasks and sample after sample (C order) from it on,
and the loops follow the storage. The
functions below read and write an entry ``(i, t)`` of either form, and compute
the datafit's per-feature gradient and intercept step task by task.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from hyperlasso.inner.datafits import REDUCTION_MATH, _implementation, lipschitz_factor
from hyperlasso.inner.softmax import Multinomial


def n_tasks(A):  # pragma: no cover - numba overload below
    """Number of tasks T of W (p, T) or S (n, T); 1 for a vector."""
    raise NotImplementedError


@overload(n_tasks, jit_options={"cache": True})
def _n_tasks(A):
    if A.ndim == 1:
        return lambda A: 1
    return lambda A: A.shape[1]


def entry(A, i, t):  # pragma: no cover - numba overload below
    """A[i, t], or A[i] for a vector."""
    raise NotImplementedError


@overload(entry, jit_options={"cache": True})
def _entry(A, i, t):
    if A.ndim == 1:
        return lambda A, i, t: A[i]
    return lambda A, i, t: A[i, t]


def set_entry(A, i, t, value):  # pragma: no cover - numba overload below
    """A[i, t] = value, or A[i] = value for a vector."""
    raise NotImplementedError


@overload(set_entry, jit_options={"cache": True})
def _set_entry(A, i, t, value):
    if A.ndim == 1:
        def vector(A, i, t, value):
            A[i] = value
        return vector

    def matrix(A, i, t, value):
        A[i, t] = value
    return matrix


def row(A, j):  # pragma: no cover - numba overload below
    """A view of the entries (j, t) of every task: A[j], or A[j:j + 1] for a vector."""
    raise NotImplementedError


@overload(row, jit_options={"cache": True})
def _row(A, j):
    if A.ndim == 1:
        return lambda A, j: A[j:j + 1]
    return lambda A, j: A[j]


def assign(dst, src):  # pragma: no cover - numba overload below
    """dst[...] = src for arrays of the same shape, by loops: numba's broadcasting
    assignment checks shapes with an error message that cost 2 s of compiling."""
    raise NotImplementedError


@overload(assign, jit_options={"cache": True})
def _assign(dst, src):
    if dst.ndim == 1:
        def vector(dst, src):
            for i in range(dst.shape[0]):
                dst[i] = src[i]
        return vector

    def matrix(dst, src):
        for i in range(dst.shape[0]):
            for t in range(dst.shape[1]):
                dst[i, t] = src[i, t]
    return matrix


def _target_field(datafit) -> int:
    """ndim of the datafit's target y (1: one task, 2: one column per task)."""
    return datafit.types[datafit.fields.index("y")].ndim


def task_value(datafit_, si_, i_, t_):  # pragma: no cover - numba overload below
    """F_i of task t at the state ``si``, times n."""
    raise NotImplementedError


def task_grad(datafit_, si_, i_, t_):  # pragma: no cover - numba overload below
    """dF_i / dz_it times n at the state ``si``."""
    raise NotImplementedError


def _per_task(name: str):
    """The overload of a per-sample function ``name`` with a task index."""
    def implementation(datafit_, si_, i_, t_):
        impl = _implementation(datafit_, name)
        if _target_field(datafit_) == 1:
            return lambda datafit_, si_, i_, t_: impl(datafit_.y[i_], si_)
        return lambda datafit_, si_, i_, t_: impl(datafit_.y[i_, t_], si_)
    return implementation


overload(task_value, jit_options={"cache": True})(_per_task("sample_value"))
overload(task_grad, jit_options={"cache": True})(_per_task("sample_grad"))


def feature_gradient(X, datafit, S, j, out):  # pragma: no cover - numba overload
    """Do ``out[t] = X[:, j] @ grad_t F`` for every task t (F at the state S)."""
    raise NotImplementedError


@overload(feature_gradient, jit_options={"cache": True, "fastmath": REDUCTION_MATH})
def _feature_gradient(X, datafit, S, j, out):
    if _is_multinomial(datafit):
        return _multinomial_feature_gradient(X)
    task_major = S.ndim == 1 or S.layout == "F"
    if isinstance(X, types.Array) and task_major:
        def dense_by_task(X, datafit, S, j, out):
            n = X.shape[0]
            for t in range(n_tasks(S)):
                s = 0.0
                for i in range(n):
                    s += X[i, j] * task_grad(datafit, entry(S, i, t), i, t)
                out[t] = s / n
        return dense_by_task
    if isinstance(X, types.Array):
        def dense_by_sample(X, datafit, S, j, out):
            n, T = S.shape
            out[:] = 0.0
            for i in range(n):
                x = X[i, j]
                for t in range(T):
                    out[t] += x * task_grad(datafit, S[i, t], i, t)
            out /= n
        return dense_by_sample
    if task_major:
        def sparse_by_task(X, datafit, S, j, out):
            data, indices, indptr = X
            n = S.shape[0]
            for t in range(n_tasks(S)):
                s = 0.0
                for k in range(indptr[j], indptr[j + 1]):
                    i = indices[k]
                    s += data[k] * task_grad(datafit, entry(S, i, t), i, t)
                out[t] = s / n
        return sparse_by_task

    def sparse_by_sample(X, datafit, S, j, out):
        data, indices, indptr = X
        n, T = S.shape
        out[:] = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            i, x = indices[k], data[k]
            for t in range(T):
                out[t] += x * task_grad(datafit, S[i, t], i, t)
        out /= n
    return sparse_by_sample


def intercept_gradient(datafit, S, t):  # pragma: no cover - numba overload below
    """dF/db_t, the derivative of F in task t's intercept."""
    raise NotImplementedError


@overload(intercept_gradient, jit_options={"cache": True, "fastmath": REDUCTION_MATH})
def _intercept_gradient(datafit, S, t):
    if _is_multinomial(datafit):
        def multinomial(datafit, S, t):
            n, K = S.shape
            probs = np.empty(K)
            s = 0.0
            for i in range(n):
                softmax_row(S, i, probs)
                s += probs[t] - datafit.y[i, t]
            return s / n
        return multinomial

    def gradient(datafit, S, t):
        n = S.shape[0]
        s = 0.0
        for i in range(n):
            s += task_grad(datafit, entry(S, i, t), i, t)
        return s / n
    return gradient


def intercept_step(datafit, S, t):  # pragma: no cover - numba overload below
    """The intercept's gradient step of task t: -(dF/db_t) / lipschitz factor."""
    raise NotImplementedError


@overload(intercept_step, jit_options={"cache": True})
def _intercept_step(datafit, S, t):
    return lambda datafit, S, t: -intercept_gradient(datafit, S, t) / lipschitz_factor(
        datafit)


def state_value(datafit, S):  # pragma: no cover - numba overload below
    """F at the state S, summed over the tasks."""
    raise NotImplementedError


@overload(state_value, jit_options={"cache": True})
def _state_value(datafit, S):
    if _is_multinomial(datafit):
        def multinomial(datafit, S):
            n, K = S.shape
            total = 0.0
            for i in range(n):
                top = S[i, 0]
                for t in range(1, K):
                    top = max(top, S[i, t])
                mass, linear = 0.0, 0.0
                for t in range(K):
                    mass += np.exp(S[i, t] - top)
                    linear += datafit.y[i, t] * S[i, t]
                total += top + np.log(mass) - linear
            return total / n
        return multinomial

    def value(datafit, S):
        n = S.shape[0]
        total = 0.0
        for t in range(n_tasks(S)):
            for i in range(n):
                total += task_value(datafit, entry(S, i, t), i, t)
        return total / n
    return value


def add_column(X, j, delta, S):  # pragma: no cover - numba overload below
    """Do ``S[:, t] += delta[t] * X[:, j]`` for every task t."""
    raise NotImplementedError


@overload(add_column, jit_options={"cache": True})
def _add_column(X, j, delta, S):
    task_major = S.ndim == 1 or S.layout == "F"
    if isinstance(X, types.Array) and task_major:
        def dense_by_task(X, j, delta, S):
            for t in range(n_tasks(S)):
                d = delta[t]
                if d != 0.0:
                    for i in range(X.shape[0]):
                        set_entry(S, i, t, entry(S, i, t) + d * X[i, j])
        return dense_by_task
    if isinstance(X, types.Array):
        def dense_by_sample(X, j, delta, S):
            for i in range(X.shape[0]):
                x = X[i, j]
                for t in range(S.shape[1]):
                    S[i, t] += x * delta[t]
        return dense_by_sample

    if task_major:
        def sparse_by_task(X, j, delta, S):
            data, indices, indptr = X
            for t in range(n_tasks(S)):
                d = delta[t]
                if d != 0.0:
                    for k in range(indptr[j], indptr[j + 1]):
                        i = indices[k]
                        set_entry(S, i, t, entry(S, i, t) + d * data[k])
        return sparse_by_task

    def sparse_by_sample(X, j, delta, S):
        data, indices, indptr = X
        for k in range(indptr[j], indptr[j + 1]):
            i, x = indices[k], data[k]
            for t in range(S.shape[1]):
                S[i, t] += x * delta[t]
    return sparse_by_sample


# ------------------------------------------- the multinomial datafit (``softmax``)
def _is_multinomial(datafit) -> bool:
    return getattr(datafit, "instance_class", None) is Multinomial


@njit(cache=True, nogil=True)
def softmax_row(S, i, probs):
    """probs[:] = softmax(S[i, :]) (shifted by the row's largest entry)."""
    K = probs.shape[0]
    top = S[i, 0]
    for t in range(1, K):
        top = max(top, S[i, t])
    mass = 0.0
    for t in range(K):
        probs[t] = np.exp(S[i, t] - top)
        mass += probs[t]
    for t in range(K):
        probs[t] /= mass


def _multinomial_feature_gradient(X):
    """out[k] = X[:, j] @ (P[:, k] - Y[:, k]) / n, P the row softmax of S (n, K):
    rows of S are read whole (a softmax each), so S is kept in C order."""
    if isinstance(X, types.Array):
        def dense(X, datafit, S, j, out):
            n, K = S.shape
            probs = np.empty(K)
            out[:] = 0.0
            for i in range(n):
                x = X[i, j]
                if x != 0.0:
                    softmax_row(S, i, probs)
                    for t in range(K):
                        out[t] += x * (probs[t] - datafit.y[i, t])
            out /= n
        return dense

    def sparse(X, datafit, S, j, out):
        data, indices, indptr = X
        n, K = S.shape
        probs = np.empty(K)
        out[:] = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            i, x = indices[k], data[k]
            softmax_row(S, i, probs)
            for t in range(K):
                out[t] += x * (probs[t] - datafit.y[i, t])
        out /= n
    return sparse
