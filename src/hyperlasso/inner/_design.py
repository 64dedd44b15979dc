"""Column access to a design matrix, written once for dense and sparse X.

Every numba kernel of hyperlasso reads X through the functions below. The
design is either a Fortran-ordered 2-D float64 array or a CSC triple
``(data, indices, indptr)``; numba picks the implementation from the argument's
type at compile time (``numba.extending.overload``), so a solver is written once
and compiled twice. This is the fix for the dense/sparse duplication (and the
sparse-only bugs that came with it) of the peers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import types
from numba.extending import overload


def as_design(X):
    """Return the numba view of a validated design: F-array or CSC triple.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or scipy.sparse matrix
        Validated float64 design.

    Returns
    -------
    design : ndarray (Fortran order) or tuple of (data, indices, indptr)
    """
    if sp.issparse(X):
        X = sp.csc_matrix(X)
        return (X.data, X.indices, X.indptr)
    return np.asfortranarray(X)


#: Datafit states S (n, T) of several tasks (``_tasks``) are stored task after
#: task (Fortran order) below this many tasks and sample after sample (C order)
#: from it on: per-task dots are contiguous in the first layout, the T updates of
#: one sample in the second (measured on 300 x 10000: task-major 1.9x faster per
#: epoch at T = 5, 1.9x slower at T = 20).
TASK_MAJOR_BELOW = 8


def col_axpy(X, j, a, v):  # pragma: no cover
    """Do ``v += a * X[:, j]`` in place."""
    raise NotImplementedError


def _is_dense(X):
    return isinstance(X, types.Array)


@overload(col_axpy, jit_options={"cache": True})
def _col_axpy(X, j, a, v):
    if _is_dense(X):
        def dense(X, j, a, v):
            for i in range(X.shape[0]):
                v[i] += a * X[i, j]
        return dense

    def sparse(X, j, a, v):
        data, indices, indptr = X
        for k in range(indptr[j], indptr[j + 1]):
            v[indices[k]] += a * data[k]
    return sparse


def column(X, j, all_rows):  # pragma: no cover
    """Return ``(rows, values)`` of the stored entries of column j (views, no copy).

    ``all_rows`` is ``np.arange(n_samples)``, passed in so that the dense case
    allocates nothing.
    """
    raise NotImplementedError


@overload(column, jit_options={"cache": True})
def _column(X, j, all_rows):
    if _is_dense(X):
        def dense(X, j, all_rows):
            return all_rows, X[:, j]
        return dense

    def sparse(X, j, all_rows):
        data, indices, indptr = X
        return indices[indptr[j]:indptr[j + 1]], data[indptr[j]:indptr[j + 1]]
    return sparse
