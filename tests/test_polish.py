"""Polish: exact hypergradients at a loose inner tolerance once the support is found."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hyperlasso as hl
from conftest import classification_data, regression_data

LOOSE = 1e-4


def _setup(model, sparse, seed):
    X, y, X_val, y_val = regression_data(sparse=sparse, seed=seed)
    criterion = hl.HeldOutMSE(X_val, y_val)
    amax = hl.alpha_max("lasso", X, y)
    alpha = {"lasso": 0.1 * amax, "elastic_net": np.array([0.1 * amax, 0.2]),
             "weighted_lasso": np.full(X.shape[1], 0.1 * amax)}[model]
    return X, y, criterion, alpha


def _rel(a, b):
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("model", ["lasso", "elastic_net", "weighted_lasso"])
def test_polish_is_exact_at_loose_tolerance(model, sparse, seed):
    X, y, criterion, alpha = _setup(model, sparse, seed)
    exact = hl.hypergradient(model, criterion, alpha, X, y, method="polish",
                             tol=1e-13, stop="kkt")
    polished = hl.hypergradient(model, criterion, alpha, X, y, method="polish", tol=LOOSE)
    loose_support = hl.fit(model, alpha, X, y, tol=LOOSE).support
    if not np.array_equal(loose_support, exact.solution.support):
        # Support not identified yet: the safeguard must refuse the Newton step.
        assert polished.note.startswith("polish rejected")
        return
    assert polished.note == ""
    assert _rel(polished.gradient, exact.gradient) < 1e-9
    assert _rel(polished.solution.coef, exact.solution.coef) < 1e-10


@pytest.mark.parametrize("error", [1e-2, 1e-4, 1e-6])
@pytest.mark.parametrize("model", ["lasso", "elastic_net", "weighted_lasso"])
def test_polish_is_exact_where_implicit_is_not(model, sparse, error):
    """At a point with a known error on the support (signs kept), polish is exact
    and the plain implicit estimate is off by an amount linear in that error."""
    X, y, criterion, alpha = _setup(model, sparse, 0)
    exact = hl.hypergradient(model, criterion, alpha, X, y, tol=1e-13, stop="kkt")
    rng = np.random.default_rng(0)
    coef = exact.solution.coef.copy()
    support = exact.solution.support
    coef[support] *= 1 + error * rng.uniform(0.5, 1.0, support.size)
    point = {"coef": coef, "intercept": exact.solution.intercept}
    polished = hl.hypergradient(model, criterion, alpha, X, y, method="polish", **point)
    plain = hl.hypergradient(model, criterion, alpha, X, y, method="implicit", **point)
    assert _rel(polished.gradient, exact.gradient) < 1e-9
    assert 0.01 * error < _rel(plain.gradient, exact.gradient) < 100 * error


def test_polish_on_logistic_is_more_accurate_than_implicit():
    """Logistic: the Newton step makes the error quadratic, not zero."""
    X, y, X_val, y_val = classification_data()
    criterion = hl.HeldOutLogistic(X_val, y_val)
    alpha = 0.1 * hl.alpha_max("sparse_logreg", X, y)
    exact = hl.hypergradient("sparse_logreg", criterion, alpha, X, y, tol=1e-13, stop="kkt")
    polished = hl.hypergradient("sparse_logreg", criterion, alpha, X, y, method="polish",
                                tol=1e-5)
    plain = hl.hypergradient("sparse_logreg", criterion, alpha, X, y, method="implicit",
                             tol=1e-5)
    error_polish = _rel(polished.gradient, exact.gradient)
    error_plain = _rel(plain.gradient, exact.gradient)
    assert error_polish < 1e-3 * error_plain


def test_polish_falls_back_and_says_so_when_the_support_is_wrong():
    """At a very loose point the support is not identified: the Newton step would
    cross zero or violate the off-support conditions, so polish falls back to
    implicit differentiation there. At a point the user gave (``coef=``) there is
    nothing to re-solve, and the note says so."""
    X, y, X_val, y_val = regression_data(n_samples=60, n_features=300, seed=3)
    criterion = hl.HeldOutMSE(X_val, y_val)
    alpha = 0.02 * hl.alpha_max("lasso", X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loose = hl.fit("lasso", alpha, X, y, tol=0.5, max_iter=1)
        result = hl.hypergradient("lasso", criterion, alpha, X, y, method="polish",
                                  coef=loose.coef, intercept=loose.intercept)
    exact_support = hl.fit("lasso", alpha, X, y, tol=1e-12).support
    assert not np.array_equal(result.solution.support, exact_support)
    assert result.note == "polish rejected (a sign changed); implicit" or \
        result.note == "polish rejected (off-support optimality violated); implicit"
    assert np.isfinite(result.gradient)


def test_a_rejected_polish_solves_tighter_and_ends_exact():
    """From the same loose tolerance the inner problem is solved again, 1e-3 times
    tighter each time, until the Newton step is accepted: the gradient then equals
    implicit differentiation at a gap of 1e-13 (polish is exact for the Lasso
    once the support is right; 1e-9 leaves room for rounding in the solves)."""
    X, y, X_val, y_val = regression_data(n_samples=60, n_features=300, seed=3)
    criterion = hl.HeldOutMSE(X_val, y_val)
    alpha = 0.02 * hl.alpha_max("lasso", X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = hl.hypergradient("lasso", criterion, alpha, X, y, method="polish",
                                  tol=0.5)
    exact = hl.hypergradient("lasso", criterion, alpha, X, y, method="implicit",
                             tol=1e-13)
    assert result.note == "re-solved to tol 5e-04 for polish"  # 0.5 was rejected
    np.testing.assert_array_equal(result.solution.support, exact.solution.support)
    assert result.gradient == pytest.approx(exact.gradient, rel=1e-9)


def test_auto_picks_polish_and_reports_it():
    X, y, criterion, alpha = _setup("lasso", False, 0)
    result = hl.hypergradient("lasso", criterion, alpha, X, y)
    assert result.method == "polish"
    assert result.linear_solver == "cholesky"
