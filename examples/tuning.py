"""Tune a Lasso and a weighted Lasso by hypergradient descent, next to scikit-learn.

Data: a generated sparse regression (300 samples x 2000 correlated features, 20
true non-zeros) with a separate test set drawn from the same model.

Run: ``python examples/tuning.py``
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import LassoCV as SklearnLassoCV

import hyperlasso as hl
from hyperlasso.datasets import make_correlated_regression


def main() -> None:
    X, y, coef = make_correlated_regression(n_samples=300, n_features=2000,
                                            random_state=0)
    X_test, y_test, _ = make_correlated_regression(n_samples=1000, n_features=2000,
                                                   random_state=1, coef=coef)
    for name, estimator in [("scikit-learn LassoCV", SklearnLassoCV(cv=5)),
                            ("hyperlasso LassoCV", hl.LassoCV()),
                            ("hyperlasso WeightedLassoCV", hl.WeightedLassoCV())]:
        start = time.perf_counter()
        estimator.fit(X, y)
        elapsed = time.perf_counter() - start
        test_mse = np.mean((y_test - estimator.predict(X_test)) ** 2)
        print(f"{name:>28}: {elapsed:6.2f} s, test MSE {test_mse:8.4f}, "
              f"{np.count_nonzero(estimator.coef_):4d} non-zero coefficients")


if __name__ == "__main__":
    main()
