"""The inner solver against scikit-learn, and its contract (warm start, warnings)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, Lasso

import hyperlasso as hl
from conftest import classification_data, l1_logistic, regression_data

# Both solvers run to a relative duality gap of ~1e-14, so coefficients agree to
# ~1e-7 (sqrt of the gap over the curvature); 1e-6 relative is the bar.
RTOL = 1e-6


def _close(ours, theirs):
    scale = max(np.max(np.abs(theirs)), 1e-12)
    return np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) / scale


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lasso_matches_sklearn(sparse, fit_intercept):
    X, y, _, _ = regression_data(sparse=sparse)
    alpha = 0.1 * hl.alpha_max("lasso", X, y)
    ours = hl.fit(hl.Lasso(fit_intercept=fit_intercept), alpha, X, y, tol=1e-14)
    ref = Lasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-14,
                max_iter=100_000).fit(X, y)
    assert _close(ours.coef, ref.coef_) < RTOL
    assert abs(ours.intercept - ref.intercept_) < RTOL * max(1.0, abs(ref.intercept_))
    assert ours.support.size > 0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_elastic_net_matches_sklearn(sparse, fit_intercept):
    X, y, _, _ = regression_data(sparse=sparse)
    skl_alpha, l1_ratio = 0.05, 0.7
    alpha = (skl_alpha * l1_ratio, skl_alpha * (1 - l1_ratio))
    model = hl.ElasticNet(fit_intercept=fit_intercept)
    ours = hl.fit(model, alpha, X, y, tol=1e-14)
    ref = ElasticNet(alpha=skl_alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                     tol=1e-14, max_iter=100_000).fit(X, y)
    assert _close(ours.coef, ref.coef_) < RTOL
    assert abs(ours.intercept - ref.intercept_) < RTOL * max(1.0, abs(ref.intercept_))


def test_sparse_logreg_matches_liblinear(sparse):
    """Without intercept (liblinear penalizes its intercept): C = 1 / (n alpha)."""
    X, y, _, _ = classification_data(sparse=sparse)
    model = hl.SparseLogisticRegression(fit_intercept=False)
    alpha = 0.1 * hl.alpha_max(model, X, y)
    ours = hl.fit(model, alpha, X, y, tol=1e-14)
    ref = l1_logistic(solver="liblinear", C=1.0 / (X.shape[0] * alpha),
                      fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y)
    assert _close(ours.coef, ref.coef_.ravel()) < RTOL


def test_sparse_logreg_with_intercept_matches_saga():
    X, y, _, _ = classification_data()
    alpha = 0.1 * hl.alpha_max("sparse_logreg", X, y)
    ours = hl.fit("sparse_logreg", alpha, X, y, tol=1e-14)
    ref = l1_logistic(solver="saga", C=1.0 / (X.shape[0] * alpha),
                      tol=1e-13, max_iter=1_000_000).fit(X, y)
    assert _close(ours.coef, ref.coef_.ravel()) < RTOL
    assert abs(ours.intercept - ref.intercept_[0]) < RTOL * max(1.0, abs(ref.intercept_[0]))


@pytest.mark.parametrize("model", ["lasso", "elastic_net", "sparse_logreg"])
def test_alpha_max_is_the_zero_threshold(model, sparse):
    make = classification_data if model == "sparse_logreg" else regression_data
    X, y, _, _ = make(sparse=sparse)
    amax = hl.alpha_max(model, X, y)
    at = (amax, 0.1) if model == "elastic_net" else amax
    below = (amax * 0.99, 0.1) if model == "elastic_net" else amax * 0.99
    assert hl.fit(model, at, X, y, tol=1e-12).support.size == 0
    assert hl.fit(model, below, X, y, tol=1e-12).support.size > 0


def test_weighted_lasso_with_equal_weights_is_the_lasso(sparse):
    X, y, _, _ = regression_data(sparse=sparse)
    alpha = 0.1 * hl.alpha_max("lasso", X, y)
    lasso = hl.fit("lasso", alpha, X, y, tol=1e-13, stop="kkt")
    weighted = hl.fit("weighted_lasso", np.full(X.shape[1], alpha), X, y, tol=1e-13,
                      stop="kkt")
    assert _close(weighted.coef, lasso.coef) < 1e-10
    per_feature = hl.alpha_max("weighted_lasso", X, y)
    assert per_feature.shape == (X.shape[1],)
    assert np.isclose(per_feature.max(), hl.alpha_max("lasso", X, y))


def test_float32_and_csc_csr_inputs_give_the_same_solution():
    X, y, _, _ = regression_data(sparse=True)
    alpha = 0.1 * hl.alpha_max("lasso", X, y)
    # An optimality violation of 1e-13 pins the coefficients to ~1e-12.
    ref = hl.fit("lasso", alpha, X.toarray(), y, tol=1e-13, stop="kkt").coef
    dense32 = X.toarray().astype(np.float32)
    for variant in (X.tocsc(), X.tocsr(), X.astype(np.float32), dense32):
        target = y if variant.dtype == np.float64 else y.astype(np.float32)
        coef = hl.fit("lasso", alpha, variant, target, tol=1e-13, stop="kkt").coef
        # float32 inputs are rounded to 24 bits before the float64 solve.
        tol = 1e-10 if variant.dtype == np.float64 else 1e-5
        assert _close(coef, ref) < tol


def test_stopping_criteria_and_reported_tolerance():
    X, y, _, _ = regression_data()
    alpha = 0.05 * hl.alpha_max("lasso", X, y)
    for stop, tol in (("gap", 1e-6), ("gap", 1e-12), ("kkt", 1e-6), ("kkt", 1e-12)):
        sol = hl.fit("lasso", alpha, X, y, tol=tol, stop=stop)
        assert sol.converged
        assert (sol.gap if stop == "gap" else sol.kkt) <= tol
    loose = hl.fit("lasso", alpha, X, y, tol=1e-3)
    tight = hl.fit("lasso", alpha, X, y, tol=1e-12)
    assert tight.gap < loose.gap


def test_warm_start_from_the_solution_needs_no_epoch():
    X, y, _, _ = regression_data()
    alpha = 0.05 * hl.alpha_max("lasso", X, y)
    sol = hl.fit("lasso", alpha, X, y, tol=1e-12)
    again = hl.fit("lasso", alpha, X, y, tol=1e-12, warm_start=(sol.coef, sol.intercept))
    assert again.n_epochs == 0
    assert _close(again.coef, sol.coef) == 0.0


def test_unconverged_solver_warns_with_the_achieved_gap():
    X, y, _, _ = regression_data()
    alpha = 0.01 * hl.alpha_max("lasso", X, y)
    with pytest.warns(hl.InnerConvergenceWarning) as record:
        sol = hl.fit("lasso", alpha, X, y, tol=1e-14, max_iter=1)
    warning = record[0].message
    assert warning.gap == pytest.approx(sol.gap)
    assert f"{sol.gap:.3e}" in str(warning)
    assert not sol.converged


def test_no_warning_when_converged():
    X, y, _, _ = regression_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hl.fit("lasso", 0.1 * hl.alpha_max("lasso", X, y), X, y)


def test_zero_columns_are_ignored():
    X, y, _, _ = regression_data()
    X[:, 3] = 0.0
    sol = hl.fit("lasso", 0.05 * hl.alpha_max("lasso", X, y), X, y, tol=1e-12)
    assert sol.coef[3] == 0.0 and sol.converged
    sol = hl.fit("lasso", 0.05 * hl.alpha_max("lasso", X, y), sp.csc_matrix(X), y)
    assert sol.coef[3] == 0.0


def test_columns_with_large_means_are_centered_and_solved():
    """Features far from zero (mean 100, sd 1) couple with the intercept; the
    solver centers them and must still match scikit-learn (which centers too)."""
    rng = np.random.default_rng(0)
    X = rng.normal(loc=100.0, size=(100, 5))
    y = X[:, 0] - X[:, 1] + rng.standard_normal(100)
    alpha = 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = hl.fit("lasso", alpha, X, y, tol=1e-12)
    ref = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
    assert _close(ours.coef, ref.coef_) < RTOL
    assert abs(ours.intercept - ref.intercept_) < RTOL * abs(ref.intercept_)
