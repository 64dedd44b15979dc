"""Hypergradients of the held-out error of a Lasso, on a bundled data set.

Data: scikit-learn's diabetes set (442 x 10), expanded with its degree-3
interaction features (175 columns; pure powers are left out because the binary
"sex" column makes them exactly collinear), split 50/50 into training and
validation.
Prints the held-out MSE and its derivative in alpha by every method, then takes
a few steps of gradient descent on log(alpha).

Run: ``python examples/quickstart.py``
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

import hyperlasso as hl


def load_data():
    """Diabetes with degree-3 interactions, standardized, split in two."""
    X, y = load_diabetes(return_X_y=True)
    features = PolynomialFeatures(3, interaction_only=True, include_bias=False)
    X = StandardScaler().fit_transform(features.fit_transform(X))
    rng = np.random.default_rng(0)
    order = rng.permutation(X.shape[0])
    train, val = order[: X.shape[0] // 2], order[X.shape[0] // 2:]
    return X[train], y[train], X[val], y[val]


def main() -> None:
    X, y, X_val, y_val = load_data()
    criterion = hl.HeldOutMSE(X_val, y_val)
    alpha_max = hl.alpha_max("lasso", X, y)
    alpha = alpha_max / 30
    print(f"diabetes, degree-3 interactions: X {X.shape}, alpha_max = {alpha_max:.4g}")
    print(f"{'method':>18} {'held-out MSE':>14} {'dC/dalpha':>14} {'time (s)':>9}")
    for method in ("auto", "implicit", "implicit_forward", "forward", "backward"):
        start = time.perf_counter()
        result = hl.hypergradient("lasso", criterion, alpha, X, y, method=method)
        elapsed = time.perf_counter() - start
        print(f"{method:>18} {result.value:14.6f} {result.gradient:14.6e} {elapsed:9.3f}")

    print("\nGradient descent on log(alpha), warm-started:")
    theta, warm = np.log(alpha), None
    for step in range(8):
        result = hl.hypergradient("lasso", criterion, np.exp(theta), X, y,
                                  warm_start=warm)
        warm = result.warm_start
        grad_theta = np.exp(theta) * result.gradient  # chain rule for log(alpha)
        print(f"  step {step}: alpha = {np.exp(theta):.4g}, MSE = {result.value:.2f}, "
              f"|support| = {result.solution.support.size}")
        theta -= 0.5 / (step + 1) * np.sign(grad_theta)  # shrinking steps


if __name__ == "__main__":
    main()
