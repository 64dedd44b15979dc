"""The common suite: every model x method x {dense, sparse}, three witnesses each.

Witness 1, central finite differences of the criterion in log(alpha), at inner
solutions with an optimality violation of 1e-13, away from support changes (the
test asserts the support is the same at both ends). Witness 2, agreement of all
methods. Witness 3, closed forms (scikit-learn's toy Lasso, a ridge-like Jacobian)
and an independent solver (scikit-learn's coefficients).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet

import hyperlasso as hl
from conftest import classification_data, regression_data

METHODS = ["polish", "implicit", "implicit_forward", "forward", "backward"]
MODELS = ["lasso", "elastic_net", "weighted_lasso", "sparse_logreg"]

#: Step in log(alpha) of the central differences: truncation error ~ h^2 C''' ~
#: 1e-8 relative; the inner error (violation 1e-13, curvature >~ 1e-2) perturbs
#: each value by ~1e-11, i.e. 1e-7 after division by 2h. Hence 1e-6 below.
FD_STEP = 1e-4
FD_RTOL = 1e-6
#: At an optimality violation of 1e-13 (coefficients exact to ~1e-11) and with
#: CG and Jacobian sweeps at 1e-12, methods agree far below the FD bar.
AGREEMENT_RTOL = 1e-8
TIGHT = {"tol": 1e-13, "stop": "kkt"}


def _problem(model, sparse, seed=0):
    if model == "sparse_logreg":
        X, y, X_val, y_val = classification_data(sparse=sparse, seed=seed)
        criterion = hl.HeldOutLogistic(X_val, y_val)
    else:
        X, y, X_val, y_val = regression_data(sparse=sparse, seed=seed)
        criterion = hl.HeldOutMSE(X_val, y_val)
    amax = np.max(hl.alpha_max(model, X, y))
    rng = np.random.default_rng(seed)
    alpha = {
        "lasso": 0.08 * amax,
        "sparse_logreg": 0.08 * amax,
        "elastic_net": np.array([0.08 * amax, 0.3]),
        "weighted_lasso": 0.08 * amax * np.exp(0.3 * rng.standard_normal(X.shape[1])),
    }[model]
    return X, y, criterion, alpha


def _exact_value(model, criterion, alpha, X, y):
    sol = hl.fit(model, alpha, X, y, tol=1e-13, stop="kkt")
    return criterion.value(sol.coef, sol.intercept), sol.support


def _finite_differences(model, criterion, alpha, X, y, components):
    """Central differences of C in log(alpha), mapped back to dC/dalpha."""
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    grad = np.zeros(alpha.shape)
    for k in components:
        values, supports = [], []
        for sign in (1.0, -1.0):
            shifted = alpha.copy()
            shifted[k] *= np.exp(sign * FD_STEP)
            arg = shifted if alpha.size > 1 else shifted[0]
            value, support = _exact_value(model, criterion, arg, X, y)
            values.append(value)
            supports.append(support)
        assert np.array_equal(*supports), "support changed: not a valid FD point"
        grad[k] = (values[0] - values[1]) / (2 * FD_STEP) / alpha[k]
    return grad


def _rel_error(estimate, reference):
    estimate, reference = np.atleast_1d(estimate), np.atleast_1d(reference)
    return np.max(np.abs(estimate - reference)) / max(np.max(np.abs(reference)), 1e-300)


@pytest.fixture(scope="module")
def reference_gradients():
    """Finite-difference gradients, computed once per (model, sparse)."""
    cache = {}

    def get(model, sparse):
        if (model, sparse) not in cache:
            X, y, criterion, alpha = _problem(model, sparse)
            components = range(np.size(alpha))
            cache[model, sparse] = _finite_differences(model, criterion, alpha, X, y,
                                                       components)
        return cache[model, sparse]
    return get


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", MODELS)
def test_matches_finite_differences(model, method, sparse, reference_gradients):
    X, y, criterion, alpha = _problem(model, sparse)
    result = hl.hypergradient(model, criterion, alpha, X, y, method=method)
    assert np.shape(result.gradient) == np.shape(alpha)
    assert result.method == method
    assert result.solution.support.size > 0
    fd = reference_gradients(model, sparse)
    assert np.max(np.abs(fd)) > 1e-3  # a real, non-zero gradient is being checked
    assert _rel_error(result.gradient, fd) < FD_RTOL


@pytest.mark.parametrize("model", MODELS)
def test_all_methods_agree(model, sparse):
    X, y, criterion, alpha = _problem(model, sparse, seed=1)
    grads = {m: hl.hypergradient(model, criterion, alpha, X, y, method=m, **TIGHT).gradient
             for m in METHODS}
    grads["cg"] = hl.hypergradient(model, criterion, alpha, X, y, method="implicit",
                                   linear_solver="cg", **TIGHT).gradient
    for method, grad in grads.items():
        assert _rel_error(grad, grads["polish"]) < AGREEMENT_RTOL, method


class _Coefficient:
    """Criterion C(w, b) = w[0], so that the hypergradient is dw[0]/dalpha."""

    n_features = 1

    def value_and_grad(self, coef, intercept):
        return coef[0], np.array([1.0]), 0.0


@pytest.mark.parametrize("method", METHODS)
def test_sklearn_toy_lasso_closed_form(method):
    """X = [-1, 0, 1], y = X: coef = 1 - 1.5 alpha for alpha < 2/3 (sklearn's toy)."""
    X, y = np.array([[-1.0], [0.0], [1.0]]), np.array([-1.0, 0.0, 1.0])
    for alpha in (0.1, 0.5):
        result = hl.hypergradient("lasso", _Coefficient(), alpha, X, y, method=method)
        assert result.solution.coef[0] == pytest.approx(1 - 1.5 * alpha, abs=1e-10)
        assert result.gradient == pytest.approx(-1.5, abs=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_elastic_net_l2_component_is_the_ridge_jacobian(method):
    """On one feature, coef = (X^T y / n - a1) / (X^T X / n + a2): closed form."""
    X, y = np.array([[-1.0], [0.0], [1.0]]), np.array([-1.0, 0.0, 1.0])
    a1, a2 = 0.1, 0.4
    result = hl.hypergradient("elastic_net", _Coefficient(), [a1, a2], X, y, method=method)
    gram, corr = 2.0 / 3.0, 2.0 / 3.0
    expected = [-1.0 / (gram + a2), -(corr - a1) / (gram + a2) ** 2]
    np.testing.assert_allclose(result.gradient, expected, rtol=1e-10)


def test_matches_finite_differences_of_sklearn_coefficients(sparse):
    """An independent solver: differences of scikit-learn's ElasticNet solutions."""
    X, y, X_val, y_val = regression_data(sparse=sparse, seed=2)
    criterion = hl.HeldOutMSE(X_val, y_val)
    alpha = np.array([0.05, 0.2])

    def skl_value(a1, a2):
        model = SkElasticNet(alpha=a1 + a2, l1_ratio=a1 / (a1 + a2), tol=1e-15,
                             max_iter=1_000_000).fit(X, y)
        return criterion.value(model.coef_, model.intercept_)

    h = 1e-4
    fd = [(skl_value(alpha[0] * np.exp(h), alpha[1]) - skl_value(alpha[0] * np.exp(-h),
           alpha[1])) / (2 * h * alpha[0]),
          (skl_value(alpha[0], alpha[1] * np.exp(h)) - skl_value(alpha[0], alpha[1]
           * np.exp(-h))) / (2 * h * alpha[1])]
    ours = hl.hypergradient("elastic_net", criterion, alpha, X, y).gradient
    # scikit-learn's gap of 1e-15 * ||y||^2 bounds its value error near 1e-12.
    assert _rel_error(ours, fd) < 1e-5


def test_weighted_lasso_gives_every_component_from_one_solve(sparse):
    X, y, criterion, alpha = _problem("weighted_lasso", sparse)
    result = hl.hypergradient("weighted_lasso", criterion, alpha, X, y)
    support = result.solution.support
    assert result.gradient.shape == (X.shape[1],)
    off = np.setdiff1d(np.arange(X.shape[1]), support)
    assert np.all(result.gradient[off] == 0.0)
    assert np.all(result.gradient[support] != 0.0)


def test_weighted_lasso_with_equal_weights_sums_to_the_lasso_gradient(sparse):
    X, y, criterion, _ = _problem("lasso", sparse)
    alpha = 0.08 * hl.alpha_max("lasso", X, y)
    lasso = hl.hypergradient("lasso", criterion, alpha, X, y).gradient
    weighted = hl.hypergradient("weighted_lasso", criterion, np.full(X.shape[1], alpha),
                                X, y).gradient
    assert np.sum(weighted) == pytest.approx(lasso, rel=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("criterion_class", [hl.HeldOutMSE, hl.HeldOutLogistic])
def test_criterion_gradient_on_the_support_equals_the_full_one(criterion_class, sparse):
    # The methods ask held-out criteria for their gradient on the support only.
    _, _, X_val, y_val = regression_data(sparse=sparse, seed=3)
    if criterion_class is hl.HeldOutLogistic:
        y_val = np.sign(y_val - np.median(y_val))
    criterion = criterion_class(X_val, y_val)
    coef = np.zeros(X_val.shape[1])
    support = np.array([1, 4, 7])
    coef[support] = [0.5, -1.0, 2.0]
    full = criterion.value_and_grad(coef, 0.3)
    on_support = criterion.value_and_grad_on(coef, 0.3, support)
    assert on_support[0] == pytest.approx(full[0], rel=1e-14)
    assert on_support[2] == pytest.approx(full[2], rel=1e-12)
    np.testing.assert_allclose(on_support[1][support], full[1][support], rtol=1e-12)
    assert not np.any(np.delete(on_support[1], support))
    # A point with weight off the given support still gets its exact value.
    coef[10] = 1.0
    assert criterion.value_and_grad_on(coef, 0.3, support)[0] == pytest.approx(
        criterion.value_and_grad(coef, 0.3)[0], rel=1e-14)


@pytest.mark.parametrize("model", MODELS)
def test_restricted_diagonal_is_the_dense_diagonal(model, sparse):
    """Conjugate gradient's Jacobi preconditioner reads H's diagonal without forming
    H: equal to the dense matrix's to rounding (sums of ~40 products)."""
    from hyperlasso._validation import check_matrix
    from hyperlasso.hypergradients.restricted import RestrictedSystem
    from hyperlasso.inner.models import make_model
    from hyperlasso.inner.problem import Design

    X, y, _, alpha = _problem(model, sparse)
    estimator = make_model(model)
    y_model = estimator.check_target(y)
    solution = hl.fit(estimator, alpha, X, y, tol=1e-10)
    design = Design.of(check_matrix(X), estimator.fit_intercept)
    problem = estimator.problem(estimator.check_alpha(alpha, X.shape[1]), design, y_model)
    system = RestrictedSystem.at(problem, solution.coef, solution.intercept)
    assert system.size > 1
    np.testing.assert_allclose(system.diagonal(), np.diag(system.dense()), rtol=1e-13)
