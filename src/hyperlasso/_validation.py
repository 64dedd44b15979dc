"""Input validation shared by every layer: clear errors that name the argument."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def canonical_csc(X):
    """X as a float64 CSC matrix with sorted, unique indices; X itself if it is one.

    The user's matrix is never modified; reusing it keeps scipy's cached
    ``has_canonical_format`` flag, whose check is a pass over the indices.
    """
    if X.format == "csc" and X.dtype == np.float64 and X.has_canonical_format:
        return X
    X = sp.csc_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    X.sort_indices()
    return X


def check_matrix(X, name: str = "X"):
    """Return X as float64: a dense ndarray or a CSC matrix with sorted indices.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
    name : str
        Name of the argument, for error messages.

    Raises
    ------
    ValueError
        If X is not 2-D, is empty, is not numeric or holds NaN or inf.
    """
    if sp.issparse(X):
        X = canonical_csc(X)
        values = X.data
    else:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from None
        values = X
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {X.ndim}-D.")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} must be non-empty, got shape {X.shape}.")
    if not _all_finite(values):
        raise ValueError(f"{name} contains NaN or inf.")
    return X


def _all_finite(values: np.ndarray) -> bool:
    """All entries finite. A finite sum proves it in one pass without a boolean copy
    (any NaN or inf makes the sum NaN or inf); only an overflowing sum of finite
    values needs the elementwise check."""
    return bool(np.isfinite(np.sum(values)) or np.all(np.isfinite(values)))


def check_vector(y, n_samples: int, name: str = "y", matrix: str = "X") -> np.ndarray:
    """Return y as a finite 1-D float64 array of length ``n_samples``."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {y.shape}.")
    return _finite_rows(y, n_samples, name, matrix, lambda a: a.astype(np.float64))


def _finite_rows(y, n_samples: int, name: str, matrix: str, convert) -> np.ndarray:
    """``convert(y)`` (to float64) after checking its rows against ``matrix``'s, and
    checked finite; errors name ``name``."""
    if y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {y.shape[0]} samples but {matrix} has {n_samples}: shapes "
            "mismatch."
        )
    try:
        y = convert(y)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if not _all_finite(y):
        raise ValueError(f"{name} contains NaN or inf.")
    return y


def check_target_matrix(Y, n_samples: int, name: str = "Y",
                        matrix: str = "X") -> np.ndarray:
    """Return Y as a finite C-ordered float64 array of shape (n_samples, n_tasks)."""
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_tasks), got shape {Y.shape}.")
    if Y.shape[1] < 1:
        raise ValueError(f"{name} must have at least one task (column).")
    return _finite_rows(Y, n_samples, name, matrix,
                        lambda a: np.ascontiguousarray(a, dtype=np.float64))


def check_class_indices(y, n_classes: int, model: str,
                        n_samples: int | None = None) -> np.ndarray:
    """y as integer class indices 0..n_classes-1, shape (n_samples,), or a
    ValueError naming the model."""
    y = np.asarray(y)
    if y.ndim != 1 or (n_samples is not None and y.shape[0] != n_samples) or \
            not np.all(np.isin(y, np.arange(n_classes))):
        raise ValueError(f"y must be a vector of class indices 0..{n_classes - 1}, "
                         f"one per sample, for the {model} model.")
    return y.astype(np.intp)
