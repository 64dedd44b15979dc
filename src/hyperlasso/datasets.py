"""Reproducible synthetic problems for tests, examples and benchmarks.

Both generators draw the true coefficients first, so that the same ``random_state``
always gives the same coefficients, and accept ``coef=`` to reuse the coefficients
of another draw: this is how a validation set sharing the training coefficients is
made (same generator, another ``random_state``, ``coef=coef_true``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from hyperlasso.meeg import make_meeg_problem  # mne is imported when it is called

__all__ = ["make_correlated_regression", "make_meeg_problem",
           "make_random_graph_precision", "make_sparse_tfidf_regression"]


def _check_sizes(n_samples: int, n_features: int, n_nonzero: int, snr: float) -> None:
    if n_samples < 1 or n_features < 1:
        raise ValueError(
            f"n_samples and n_features must be >= 1, got {n_samples} and {n_features}."
        )
    if not 0 <= n_nonzero <= n_features:
        raise ValueError(
            f"n_nonzero must be in [0, n_features={n_features}], got {n_nonzero}."
        )
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a positive finite number, got {snr!r}.")


def _true_coef(rng: np.random.Generator, n_features: int, n_nonzero: int,
               coef: np.ndarray | None) -> np.ndarray:
    """Draw ``n_nonzero`` coefficients equal to +-1 at random positions.

    The draw always happens (so the rest of the stream does not depend on ``coef``);
    a given ``coef`` then replaces it.

    Returns
    -------
    ndarray of shape (n_features,)
    """
    drawn = np.zeros(n_features)
    support = rng.choice(n_features, size=n_nonzero, replace=False)
    drawn[support] = rng.choice([-1.0, 1.0], size=n_nonzero)
    if coef is None:
        return drawn
    coef = np.asarray(coef, dtype=np.float64)
    if coef.shape != (n_features,):
        raise ValueError(f"coef must have shape ({n_features},), got {coef.shape}.")
    return coef.copy()


def _noisy_target(rng: np.random.Generator, signal: np.ndarray, snr: float) -> np.ndarray:
    """Add Gaussian noise scaled so that ``||signal|| / ||noise|| == snr`` exactly.

    Parameters
    ----------
    signal : ndarray of shape (n_samples,)
        Noiseless target ``X @ coef``.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    noise = rng.standard_normal(signal.shape[0])
    signal_norm = np.linalg.norm(signal)
    if signal_norm == 0.0:
        return noise
    return signal + noise * (signal_norm / (snr * np.linalg.norm(noise)))


def make_correlated_regression(
    n_samples: int = 500,
    n_features: int = 20000,
    rho: float = 0.5,
    n_nonzero: int = 20,
    snr: float = 3.0,
    random_state: int | None = 0,
    coef: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian design with Toeplitz correlation ``rho ** |i - j|`` and a sparse truth.

    Each row is a stationary AR(1) sequence over the features,
    ``x_j = rho x_{j-1} + sqrt(1 - rho^2) e_j`` with unit variance, built column by
    column (vectorized over rows), so the covariance matrix is never formed.

    Parameters
    ----------
    n_samples : int, default=500
    n_features : int, default=20000
    rho : float, default=0.5
        Correlation of neighbouring features, in (-1, 1).
    n_nonzero : int, default=20
        Number of nonzero true coefficients, equal to +1 or -1 at random positions.
    snr : float, default=3.0
        Signal-to-noise ratio ``||X @ coef_true|| / ||noise||``.
    random_state : int or None, default=0
        Seed of :func:`numpy.random.default_rng`.
    coef : ndarray of shape (n_features,), optional
        True coefficients to use instead of drawing them (e.g. the ``coef_true`` of
        a training set, to draw a validation set with another ``random_state``).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Fortran-ordered float64 design.
    y : ndarray of shape (n_samples,)
        Target ``X @ coef_true + noise``.
    coef_true : ndarray of shape (n_features,)
        True coefficients.
    """
    _check_sizes(n_samples, n_features, n_nonzero, snr)
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be in (-1, 1), got {rho!r}.")
    rng = np.random.default_rng(random_state)
    coef_true = _true_coef(rng, n_features, n_nonzero, coef)
    X = np.asfortranarray(rng.standard_normal((n_samples, n_features)))
    innovation = np.sqrt(1.0 - rho**2)
    for j in range(1, n_features):
        X[:, j] *= innovation
        X[:, j] += rho * X[:, j - 1]
    y = _noisy_target(rng, X @ coef_true, snr)
    return X, y, coef_true


def _column_rates(rng: np.random.Generator, n_features: int) -> np.ndarray:
    """Zipf-like term popularity: shuffled weights ``(rank + 10) ** -0.8``, sum 1.

    Returns
    -------
    ndarray of shape (n_features,)
    """
    weights = (np.arange(n_features) + 10.0) ** -0.8
    rng.shuffle(weights)
    return weights / weights.sum()


def _count_matrix(rng: np.random.Generator, n_samples: int, n_features: int,
                  density: float) -> sparse.csc_matrix:
    """Sparse nonnegative term counts, about ``density`` of the entries nonzero.

    Documents have log-normal lengths, terms Zipf-like popularity; every term occurs
    in at least one document.

    Returns
    -------
    scipy.sparse.csc_matrix of shape (n_samples, n_features)
    """
    n_entries = max(int(round(density * n_samples * n_features)), n_features)
    doc_weights = rng.lognormal(0.0, 0.5, size=n_samples)
    rows = rng.choice(n_samples, size=n_entries, p=doc_weights / doc_weights.sum())
    cols = rng.choice(n_features, size=n_entries, p=_column_rates(rng, n_features))
    # one occurrence of every term, so that no column is empty
    rows = np.concatenate([rows, rng.integers(n_samples, size=n_features)])
    cols = np.concatenate([cols, np.arange(n_features)])
    counts = rng.geometric(0.6, size=rows.size).astype(np.float64)
    # duplicate (row, col) pairs are summed: more counts of the same term
    return sparse.csc_matrix((counts, (rows, cols)), shape=(n_samples, n_features))


def _tfidf(counts: sparse.csc_matrix, log1p: bool = False) -> sparse.csc_matrix:
    """Scale columns by ``log(n / (1 + df))``, then l2-normalize the rows.

    Parameters
    ----------
    counts : scipy.sparse.csc_matrix of shape (n_samples, n_features)
    log1p : bool, default=False
        Use ``log(1 + count)`` as the term frequency instead of the count.

    Returns
    -------
    scipy.sparse.csc_matrix of shape (n_samples, n_features)
    """
    n_samples = counts.shape[0]
    if log1p:
        np.log1p(counts.data, out=counts.data)
    doc_freq = np.diff(counts.indptr)
    # a term in (almost) every document gets weight 0, never a negative one
    idf = np.maximum(np.log(n_samples / (1.0 + doc_freq)), 0.0)
    X = (counts @ sparse.diags(idf)).tocsr()
    row_norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    row_norms[row_norms == 0.0] = 1.0
    X = sparse.diags(1.0 / row_norms) @ X
    X = sparse.csc_matrix(X, dtype=np.float64)
    X.eliminate_zeros()
    X.sort_indices()
    return X


def make_sparse_tfidf_regression(
    n_samples: int = 20000,
    n_features: int = 20000,
    density: float = 0.002,
    n_nonzero: int = 20,
    snr: float = 3.0,
    random_state: int | None = 0,
    coef: np.ndarray | None = None,
    log1p: bool = False,
) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray]:
    """Sparse TF-IDF-like design (documents x terms) and a sparse truth.

    Term counts are drawn with log-normal document lengths and Zipf-like term
    popularity; columns are weighted by ``log(n_samples / (1 + document frequency))``
    and rows are then l2-normalized, as a TF-IDF transform would.

    Parameters
    ----------
    n_samples : int, default=20000
        Number of documents.
    n_features : int, default=20000
        Number of terms.
    density : float, default=0.002
        Approximate fraction of nonzero entries of X.
    n_nonzero : int, default=20
        Number of nonzero true coefficients, equal to +1 or -1 at random positions.
    snr : float, default=3.0
        Signal-to-noise ratio ``||X @ coef_true|| / ||noise||``.
    random_state : int or None, default=0
        Seed of :func:`numpy.random.default_rng`.
    coef : ndarray of shape (n_features,), optional
        True coefficients to use instead of drawing them (e.g. the ``coef_true`` of
        a training set, to draw a validation set with another ``random_state``).
    log1p : bool, default=False
        Term frequencies ``log(1 + count)`` instead of counts, as in E2006-log1p.

    Returns
    -------
    X : scipy.sparse.csc_matrix of shape (n_samples, n_features)
        Nonnegative float64 design with l2-normalized rows, sorted indices.
    y : ndarray of shape (n_samples,)
        Target ``X @ coef_true + noise``.
    coef_true : ndarray of shape (n_features,)
        True coefficients.
    """
    _check_sizes(n_samples, n_features, n_nonzero, snr)
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density!r}.")
    rng = np.random.default_rng(random_state)
    coef_true = _true_coef(rng, n_features, n_nonzero, coef)
    X = _tfidf(_count_matrix(rng, n_samples, n_features, density), log1p=log1p)
    y = _noisy_target(rng, np.asarray(X @ coef_true).ravel(), snr)
    return X, y, coef_true


#: Shape of the E2006-log1p training set (LIBSVM regression data sets).
E2006_SHAPE = (16_087, 4_272_227)
#: Its density as assumed here: 3.4e-3 over the 1,668,737 columns with an entry, as
#: the Celer and sparse-ho papers tabulate it (no copy of the set was read), i.e.
#: about 9.1e7 stored entries over the 4,272,227 columns.
E2006_DENSITY = 3.4e-3 * 1_668_737 / 4_272_227


def make_e2006_like_regression(
    n_samples: int = E2006_SHAPE[0],
    n_features: int = E2006_SHAPE[1],
    density: float = E2006_DENSITY,
    n_nonzero: int = 20,
    snr: float = 3.0,
    random_state: int | None = 0,
) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray]:
    """A design of the shape and density of E2006-log1p: log1p TF-IDF-like values.

    :func:`make_sparse_tfidf_regression` with ``log1p=True`` and E2006-log1p's
    16,087 x 4,272,227 shape and about 9.1e7 stored entries (1.1 GB as float64 CSC
    with int32 indices; drawing it takes about 2 minutes and 4 times that memory).
    Pass a smaller ``n_features`` for a scaled-down copy of the same density.

    Parameters
    ----------
    n_samples, n_features, density, n_nonzero, snr, random_state
        As in :func:`make_sparse_tfidf_regression`.

    Returns
    -------
    X : scipy.sparse.csc_matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef_true : ndarray of shape (n_features,)
    """
    return make_sparse_tfidf_regression(n_samples, n_features, density=density,
                                        n_nonzero=n_nonzero, snr=snr,
                                        random_state=random_state, log1p=True)


def make_random_graph_precision(
    n_features: int,
    degree: float = 2.0,
    weights: tuple[float, float] = (0.3, 0.6),
    shift: float = 0.5,
    random_state: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Sparse precision matrix of a random graph (for the graphical lasso).

    Each pair of variables is an edge with probability ``degree / n_features``,
    with a weight of random sign and magnitude uniform in ``weights``; the diagonal
    is then shifted so that the smallest eigenvalue is at least ``shift``.

    Parameters
    ----------
    n_features : int
    degree : float, default=2.0
        Mean number of edges per variable.
    weights : (float, float), default=(0.3, 0.6)
    shift : float, default=0.5
    random_state : int, Generator or None, default=0
        A Generator is used (and advanced) as is, so that samples can be drawn
        from the same stream afterwards.

    Returns
    -------
    ndarray of shape (n_features, n_features)
        Symmetric positive definite.
    """
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}.")
    if not (0 <= weights[0] <= weights[1] and np.isfinite(weights[1])):
        raise ValueError(f"weights must be 0 <= low <= high < inf, got {weights}.")
    if not (np.isfinite(shift) and shift > 0):
        raise ValueError(f"shift must be a positive finite number, got {shift!r}.")
    rng = np.random.default_rng(random_state)
    p = n_features
    upper = np.triu(rng.random((p, p)) < degree / p, 1)
    off = np.where(upper, rng.uniform(*weights, (p, p)) * rng.choice([-1, 1], (p, p)), 0.0)
    precision = off + off.T
    return precision + np.eye(p) * (np.abs(np.linalg.eigvalsh(precision)).max() + shift)
