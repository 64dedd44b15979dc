"""Sparse multinomial logistic regression (l1 and group penalties): solver,
duality gap, hypergradients and the estimator.

Witnesses: scikit-learn's saga (multinomial, l1, tolerance 1e-12) for the l1
coefficients; a plain numpy accelerated proximal gradient (FISTA) for the group
penalty's; central differences of the held-out log-loss in alpha (each side
solved to an optimality violation of 1e-14, at alphas where the support does not
change within the step); implicit differentiation and polish against each other.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, softmax
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

import hyperlasso as hl
from hyperlasso.inner.groups import Groups
from hyperlasso.inner.multinomial import MultinomialLogistic, MultinomialProblem
from hyperlasso.inner.problem import Design
from hyperlasso.inner.softmax import one_hot
from hyperlasso.inner.solver import solve

#: Central differences with step h = 1e-5 in log(alpha): truncation error of
#: order h^2 f''' ~ 1e-10 and rounding 1e-16 / h ~ 1e-11 relative on these
#: criteria (measured agreement 1e-9 to 1e-10), so 1e-6 leaves a wide margin.
FD_RTOL = 1e-6
K = 3


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(220, 12, n_informative=6, n_classes=K,
                               n_clusters_per_class=1, random_state=1)
    return X[:150], y[:150], X[150:], y[150:]


def _storage(X, storage):
    return {"dense": X, "csr": sp.csr_matrix(X), "csc": sp.csc_matrix(X)}[storage]


def _problem(X, y, alpha, kind, fit_intercept=True):
    p = X.shape[1]
    return MultinomialProblem(Design.of(X, fit_intercept), one_hot(y, K),
                              Groups.singletons(p), np.full(p, alpha), 0.0,
                              fit_intercept, kind)


@pytest.mark.parametrize("storage", ["dense", "csr", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l1_coefficients_are_sagas(data, storage, fit_intercept):
    X, y, _, _ = data
    alpha, n = 0.02, X.shape[0]
    solution = solve(_problem(_storage(X, storage), y, alpha, "l1", fit_intercept),
                     tol=1e-14)
    assert solution.converged and 0 < solution.support.size < X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # saga must converge
        saga = LogisticRegression(C=1 / (n * alpha), l1_ratio=1.0, solver="saga",
                                  tol=1e-12, max_iter=200_000,
                                  fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(solution.coef, saga.coef_.T, atol=1e-6)
    # intercepts are defined up to a common shift (the softmax does not see it)
    np.testing.assert_allclose(solution.intercept - solution.intercept.mean(),
                               saga.intercept_ - saga.intercept_.mean(), atol=1e-6)


def _fista_group(X, Y, alpha, n_iter=20_000):
    """min mean(logsumexp(Z) - <y, Z>) + alpha sum_j ||W_j||, Z = XW + 1 b^T."""
    n, p = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    step = 2 * n / np.linalg.norm(A, 2) ** 2  # 1 / L, L = ||A||^2 / (2 n)
    V = np.zeros((p + 1, Y.shape[1]))
    V_old, momentum = V.copy(), 1.0
    point = V.copy()
    for _ in range(n_iter):
        G = A.T @ (softmax(A @ point, axis=1) - Y) / n
        V = point - step * G
        norms = np.linalg.norm(V[:p], axis=1, keepdims=True)
        V[:p] *= np.maximum(1 - step * alpha / np.maximum(norms, 1e-300), 0.0)
        new_momentum = (1 + np.sqrt(1 + 4 * momentum**2)) / 2
        point = V + (momentum - 1) / new_momentum * (V - V_old)
        V_old, momentum = V.copy(), new_momentum
    return V[:p], V[p]


def test_group_coefficients_are_proximal_gradients(data):
    X, y, _, _ = data
    alpha = 0.03
    solution = solve(_problem(X, y, alpha, "group"), tol=1e-14)
    W, b = _fista_group(X, one_hot(y, K), alpha)
    assert 0 < solution.support.size < X.shape[1]
    np.testing.assert_allclose(solution.coef, W, atol=1e-6)
    np.testing.assert_allclose(solution.intercept - solution.intercept.mean(),
                               b - b.mean(), atol=1e-6)
    # the group penalty keeps a feature for every class or for none, and its
    # optimality makes each kept row sum to zero over the classes
    rows = solution.coef[solution.support]
    assert np.all(rows != 0)
    np.testing.assert_allclose(rows.sum(axis=1), 0.0, atol=1e-10)


@pytest.mark.parametrize("kind", ["l1", "group"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_duality_gap_bounds_the_suboptimality(data, kind, fit_intercept):
    """At points off the solution, primal minus optimum <= the reported gap (the
    gap is a certificate), and it vanishes at the solution."""
    X, y, _, _ = data
    problem = _problem(X, y, 0.02, kind, fit_intercept)
    best = solve(problem, tol=1e-14)
    b_best = problem.internal_intercept(best.coef, best.intercept)
    optimum = problem.objective(best.coef, problem.datafit_state(best.coef, b_best))
    rng = np.random.default_rng(0)
    points = [(best.coef * scale + 0.01 * rng.standard_normal(best.coef.shape),
               b_best + 0.1 * rng.standard_normal(K) * fit_intercept)
              for scale in (0.5, 0.9, 1.1)]
    # far intercepts (a class shifted by 4 to 8) and W = 0: points where a gap
    # taken with the intercepts held fixed is no bound of the joint problem
    starts = (best.coef, np.zeros_like(best.coef)) if fit_intercept else (
        np.zeros_like(best.coef),)
    points += [(W, b_best + np.array([shift, 0.0, 0.0]) * fit_intercept)
               for W in starts for shift in (4.0, 8.0)]
    for W, b in points:
        opt = problem.optimality(W, b)
        excess = problem.objective(W, problem.datafit_state(W, b)) - optimum
        assert 0 < excess <= opt.gap * problem.null_objective() * (1 + 1e-12)
    assert problem.optimality(best.coef, b_best).gap < 1e-12


@pytest.mark.parametrize("kind", ["l1", "group"])
@pytest.mark.parametrize("storage", ["dense", "csr", "csc"])
def test_hypergradient_is_central_differences(data, kind, storage):
    X, y, X_val, y_val = data
    X = _storage(X, storage)
    model = MultinomialLogistic(n_classes=K, penalty_kind=kind)
    criterion = hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities="softmax")
    alpha = hl.alpha_max(model, X, y) / 8
    h = 1e-5
    sides = [hl.hypergradient(model, criterion, alpha * np.exp(s * h), X, y,
                              method="implicit", tol=1e-14, stop="kkt")
             for s in (1, -1)]
    assert np.array_equal(sides[0].solution.support, sides[1].solution.support)
    reference = (sides[0].value - sides[1].value) / (2 * h * alpha)
    assert abs(reference) > 0.01  # not trivially zero
    for method in ("implicit", "polish"):
        result = hl.hypergradient(model, criterion, alpha, X, y, method=method)
        assert result.gradient == pytest.approx(reference, rel=FD_RTOL), method
        assert result.solution.coef.shape == (X.shape[1], K)


def test_iterative_methods_are_refused_by_name(data):
    X, y, X_val, y_val = data
    model = MultinomialLogistic(n_classes=K)
    criterion = hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities="softmax")
    for method in ("forward", "backward", "implicit_forward"):
        with pytest.raises(ValueError, match=f"method='{method}' is not available"):
            hl.hypergradient(model, criterion, 0.01, X, y, method=method)


def test_alpha_max_gives_the_null_solution(data):
    X, y, _, _ = data
    for kind in ("l1", "group"):
        model = MultinomialLogistic(n_classes=K, penalty_kind=kind)
        a_max = hl.alpha_max(model, X, y)
        design = Design.of(X, True)
        above = solve(model.problem(np.asarray(a_max * 1.001), design, y), tol=1e-12)
        below = solve(model.problem(np.asarray(a_max * 0.95), design, y), tol=1e-12)
        assert above.support.size == 0 and below.support.size > 0


def test_multinomial_estimator(data):
    X, y, X_val, y_val = data
    names = np.array(["ant", "bee", "cat"])
    est = hl.SparseLogisticRegressionCV(cv=3, max_iter=15, multi_class="multinomial"
                                        ).fit(X, names[y])
    assert est.multi_class_ == "multinomial"
    assert est.coef_.shape == (K, X.shape[1]) and est.intercept_.shape == (K,)
    scores = X_val @ est.coef_.T + est.intercept_
    np.testing.assert_allclose(est.predict_proba(X_val), softmax(scores, axis=1),
                               rtol=1e-12)
    assert est.score(X_val, names[y_val]) > 0.6
    # the refit is scikit-learn's l1 multinomial model at C = 1 / (n alpha_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        saga = LogisticRegression(C=1 / (X.shape[0] * est.alpha_), l1_ratio=1.0,
                                  solver="saga", tol=1e-12, max_iter=200_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, saga.coef_, atol=1e-6)
    # the tuned criterion is the held-out log-loss of the softmax probabilities
    log_p = scores - logsumexp(scores, axis=1, keepdims=True)
    assert -np.mean(log_p[np.arange(y_val.size), y_val]) < np.log(K)


def test_group_estimator_keeps_features_for_every_class(data):
    X, y, _, _ = data
    est = hl.SparseLogisticRegressionCV(cv=3, max_iter=15, penalty="group").fit(X, y)
    assert est.multi_class_ == "multinomial"  # "auto" with the group penalty
    assert hl.SparseLogisticRegressionCV(max_iter=2).fit(X, y).multi_class_ == "ovr"
    kept = np.any(est.coef_ != 0, axis=0)
    assert np.all(est.coef_[:, kept] != 0)
    np.testing.assert_allclose(est.coef_.sum(axis=0), 0.0, atol=1e-8)


def test_group_penalty_needs_the_multinomial_model(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="penalty='group'.*multinomial"):
        hl.SparseLogisticRegressionCV(penalty="group", multi_class="ovr").fit(X, y)
    with pytest.raises(ValueError, match="penalty='group'.*multinomial"):
        hl.SparseLogisticRegressionCV(penalty="group").fit(X, y > 0)
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        MultinomialLogistic(n_classes=1)
    with pytest.raises(ValueError, match="penalty must be one of"):
        MultinomialLogistic(n_classes=3, penalty_kind="l2")
    with pytest.raises(ValueError, match="class indices 0..2"):
        MultinomialLogistic(n_classes=3).check_target(y + 1)


def test_polish_from_a_loose_solve_keeps_the_l1_signs():
    """From a solve to a gap of 1e-3 the Newton steps of polish may flip an
    entry's sign or leave a zero entry non-optimal: such steps are refused and
    the problem solved tighter, so polish equals tight implicit differentiation
    at every alpha (without the check: 4 % off at 1.65 % of alpha_max here)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 8))
    W = rng.standard_normal((8, K)) * (rng.random((8, 1)) < 0.5)
    y = np.argmax(X @ W + rng.gumbel(size=(100, K)), axis=1)
    X, y, X_val, y_val = X[:60], y[:60], X[60:], y[60:]
    model = MultinomialLogistic(n_classes=K, penalty_kind="l1")
    criterion = hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities="softmax")
    a_max = hl.alpha_max(model, X, y)
    for alpha in a_max * np.geomspace(0.5, 0.01, 40):
        loose = hl.hypergradient(model, criterion, alpha, X, y, method="polish", tol=1e-3)
        tight = hl.hypergradient(model, criterion, alpha, X, y, method="implicit",
                                 tol=1e-14, stop="kkt")
        assert loose.gradient == pytest.approx(tight.gradient, rel=1e-6), alpha


def test_four_classes_hypergradient_is_central_differences():
    """An even K: a row's median interval may hold no shift, all K entries are
    unknowns and the system is singular along the row's shift; the least-squares
    solve still gives the exact hypergradient (orthogonal to that direction)."""
    X, y = make_classification(200, 10, n_informative=6, n_classes=4,
                               n_clusters_per_class=1, random_state=3)
    X, y, X_val, y_val = X[:140], y[:140], X[140:], y[140:]
    model = MultinomialLogistic(n_classes=4, penalty_kind="l1")
    criterion = hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities="softmax")
    alpha, h = hl.alpha_max(model, X, y) / 10, 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the singular system's note
        sides = [hl.hypergradient(model, criterion, alpha * np.exp(s * h), X, y,
                                  method="implicit", tol=1e-14, stop="kkt")
                 for s in (1, -1)]
        assert np.array_equal(sides[0].solution.support, sides[1].solution.support)
        reference = (sides[0].value - sides[1].value) / (2 * h * alpha)
        for method in ("implicit", "polish"):
            result = hl.hypergradient(model, criterion, alpha, X, y, method=method)
            assert result.gradient == pytest.approx(reference, rel=FD_RTOL), method


def test_a_class_missing_from_the_training_data_is_an_error(data):
    X, y, _, _ = data
    model = MultinomialLogistic(n_classes=K + 1)  # class K never appears
    with pytest.raises(ValueError, match="class 3 has no sample"):
        model.problem(np.asarray(0.01), Design.of(X, True), y)
    X_small = np.vstack([X[y != 2], X[y == 2][:1]])
    y_small = np.concatenate([y[y != 2], [2]])  # one sample of class 2: 3 folds
    with pytest.raises(ValueError, match="class 2 has no sample"):
        hl.SparseLogisticRegressionCV(cv=3, multi_class="multinomial").fit(
            X_small, y_small)
