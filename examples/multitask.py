"""Multi-task and group Lasso tuned by hypergradient descent, next to scikit-learn.

Data: generated row-sparse multi-task regression (200 samples x 1000 correlated
features, 8 tasks, 15 true non-zero rows) and a group-sparse regression (100
groups of 5 features, 6 true groups), each with a test set from the same model.

Run: ``python examples/multitask.py``
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import MultiTaskLassoCV as SklearnMultiTaskLassoCV

import hyperlasso as hl
from hyperlasso.datasets import make_correlated_regression


def multitask_data(rng, n: int, p: int, T: int, n_rows: int):
    """Train and test sets sharing one row-sparse W, Toeplitz-correlated X."""
    X, _, _ = make_correlated_regression(n_samples=2 * n, n_features=p, random_state=0)
    W = np.zeros((p, T))
    W[rng.choice(p, n_rows, replace=False)] = rng.standard_normal((n_rows, T))
    Y = X @ W + rng.standard_normal((2 * n, T))
    return X[:n], Y[:n], X[n:], Y[n:]


def report(name, estimator, X, Y, X_test, Y_test, rows) -> None:
    start = time.perf_counter()
    estimator.fit(X, Y)
    elapsed = time.perf_counter() - start
    test_mse = np.mean((Y_test - estimator.predict(X_test)) ** 2)
    print(f"{name:>34}: {elapsed:6.2f} s, test MSE {test_mse:7.4f}, "
          f"{rows(estimator.coef_):4d} selected")


def main() -> None:
    rng = np.random.default_rng(0)
    X, Y, X_test, Y_test = multitask_data(rng, 200, 1000, 8, 15)
    rows = lambda coef: int(np.count_nonzero(np.any(coef != 0, axis=0)))  # noqa: E731
    print("multi-task Lasso (selected = non-zero rows of W):")
    for name, estimator in [("scikit-learn MultiTaskLassoCV", SklearnMultiTaskLassoCV()),
                            ("hyperlasso MultiTaskLassoCV", hl.MultiTaskLassoCV()),
                            ("hyperlasso WeightedMultiTaskLassoCV",
                             hl.WeightedMultiTaskLassoCV())]:
        report(name, estimator, X, Y, X_test, Y_test, rows)

    labels = np.repeat(np.arange(100), 5)
    X, _, _ = make_correlated_regression(n_samples=400, n_features=500, random_state=1)
    w = np.where(np.isin(labels, rng.choice(100, 6, replace=False)),
                 rng.standard_normal(500), 0.0)
    y = X @ w + rng.standard_normal(400)
    groups = lambda coef: int(np.unique(labels[coef != 0]).size)  # noqa: E731
    print("group Lasso (selected = non-zero groups):")
    for name, estimator in [("hyperlasso LassoCV", hl.LassoCV()),
                            ("hyperlasso GroupLassoCV", hl.GroupLassoCV(groups=labels)),
                            ("hyperlasso WeightedGroupLassoCV",
                             hl.WeightedGroupLassoCV(groups=labels))]:
        report(name, estimator, X[:200], y[:200], X[200:], y[200:], groups)


if __name__ == "__main__":
    main()
