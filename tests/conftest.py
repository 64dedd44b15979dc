"""Shared small problems for the test suite."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp


def regression_data(n_samples=40, n_features=30, n_val=30, sparse=False, seed=0):
    """Train/validation regression data with a sparse true coefficient vector."""
    rng = np.random.default_rng(seed)
    n_total = n_samples + n_val
    X = rng.standard_normal((n_total, n_features))
    if sparse:
        X = X * (rng.random(X.shape) < 0.5)
    coef = np.zeros(n_features)
    coef[:5] = rng.choice([-2.0, -1.0, 1.0, 2.0], 5)
    y = X @ coef + 0.5 * rng.standard_normal(n_total) + 1.0
    X_train, X_val = X[:n_samples], X[n_samples:]
    if sparse:
        X_train, X_val = sp.csr_matrix(X_train), sp.csr_matrix(X_val)
    return X_train, y[:n_samples], X_val, y[n_samples:]


def classification_data(n_samples=60, n_features=30, n_val=40, sparse=False, seed=0):
    """Train/validation binary data (labels in {0, 1}) from a sparse logistic model."""
    X, y, X_val, y_val = regression_data(n_samples, n_features, n_val, sparse, seed)
    return X, (y > 1.0).astype(int), X_val, (y_val > 1.0).astype(int)


@pytest.fixture(params=[False, True], ids=["dense", "sparse"])
def sparse(request):
    """Run the test on a dense and on a sparse design."""
    return request.param


def l1_logistic(**kwargs):
    """scikit-learn's L1 logistic regression, spelled for the installed version."""
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.fixes import parse_version

    if parse_version(sklearn.__version__) >= parse_version("1.8"):
        return LogisticRegression(l1_ratio=1.0, **kwargs)
    return LogisticRegression(penalty="l1", **kwargs)
