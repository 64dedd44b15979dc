"""One-vs-rest sparse logistic regression: criterion, hypergradient, estimator.

Witnesses: central differences of the criterion in its arguments and of the
tuned criterion in alpha (each side solved to a relative gap of 1e-15, where no
class's support changes within the step); scikit-learn's saga at a tight
tolerance for the coefficients of every class (its l1 logistic regression with
C = 1 / (n alpha) and an unpenalized intercept is the same problem).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import hyperlasso as hl
from hyperlasso.inner.ovr import OneVsRest
from hyperlasso.inner.problem import Design

METHODS = ["polish", "implicit", "implicit_forward", "forward", "backward"]
#: Central differences with step h alpha: error of order h^2 alpha^2 f''' / 6 on a
#: piecewise smooth criterion; 1e-6 relative holds with h = 1e-5 (measured
#: agreement 1e-9 to 1e-10 on this problem).
FD_RTOL = 1e-6


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(300, 30, n_informative=8, n_classes=4,
                               n_clusters_per_class=1, random_state=0)
    return X[:200], y[:200], X[200:], y[200:]


@pytest.mark.parametrize("probabilities", ["ovr", "softmax"])
def test_multiclass_log_loss_gradient_is_central_differences(data, probabilities):
    _, _, X_val, y_val = data
    criterion = hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities=probabilities)
    rng = np.random.default_rng(0)
    coef, intercept = 0.3 * rng.standard_normal((30, 4)), rng.standard_normal(4)
    _, grad, grad_b = criterion.value_and_grad(coef, intercept)
    h = 1e-6
    for j, k in [(3, 2), (0, 0), (29, 3)]:
        step = np.zeros_like(coef)
        step[j, k] = h
        fd = (criterion.value(coef + step, intercept)
              - criterion.value(coef - step, intercept)) / (2 * h)
        assert grad[j, k] == pytest.approx(fd, rel=1e-7, abs=1e-10)
    step = np.zeros(4)
    step[1] = h
    fd = (criterion.value(coef, intercept + step)
          - criterion.value(coef, intercept - step)) / (2 * h)
    assert grad_b[1] == pytest.approx(fd, rel=1e-7)


def test_multiclass_log_loss_is_scikit_learns(data):
    """The ovr probabilities are OneVsRestClassifier's normalized sigmoids."""
    _, _, X_val, y_val = data
    rng = np.random.default_rng(1)
    coef, intercept = rng.standard_normal((30, 4)), rng.standard_normal(4)
    scores = 1 / (1 + np.exp(-(X_val @ coef + intercept)))
    expected = log_loss(y_val, scores / scores.sum(axis=1, keepdims=True))
    assert hl.HeldOutMulticlassLogLoss(X_val, y_val).value(coef, intercept) == \
        pytest.approx(expected, rel=1e-12)
    z = X_val @ coef + intercept
    softmax = np.exp(z - z.max(axis=1, keepdims=True))
    expected = log_loss(y_val, softmax / softmax.sum(axis=1, keepdims=True))
    assert hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities="softmax").value(
        coef, intercept) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("storage", ["dense", "csr", "csc"])
def test_ovr_hypergradient_of_every_method_is_central_differences(data, storage):
    X, y, X_val, y_val = data
    X = {"dense": X, "csr": sp.csr_matrix(X), "csc": sp.csc_matrix(X)}[storage]
    model, alpha = OneVsRest(n_classes=4), 0.02
    criterion = hl.HeldOutMulticlassLogLoss(X_val, y_val)
    h = 1e-5 * alpha
    sides = [hl.hypergradient(model, criterion, a, X, y, tol=1e-15).value
             for a in (alpha + h, alpha - h)]
    reference = (sides[0] - sides[1]) / (2 * h)
    assert abs(reference) > 0.1  # not trivially zero
    for method in METHODS:
        result = hl.hypergradient(model, criterion, alpha, X, y, method=method,
                                  tol=1e-12)
        assert result.gradient == pytest.approx(reference, rel=FD_RTOL), method
        assert result.solution.coef.shape == (30, 4)


def test_ovr_coefficients_are_saga_one_vs_rest(data):
    X, y, _, _ = data
    alpha, n = 0.02, X.shape[0]
    model = OneVsRest(n_classes=4)
    problem = model.problem(np.asarray(alpha), Design.of(X, True), y)
    solution = model.solve(problem, tol=1e-14)
    for k in range(4):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)  # saga must converge
            saga = LogisticRegression(C=1 / (n * alpha), l1_ratio=1.0, solver="saga",
                                      tol=1e-12, max_iter=200_000).fit(
                X, (y == k).astype(int))
        np.testing.assert_allclose(solution.coef[:, k], saga.coef_.ravel(), atol=1e-6)
        assert solution.intercept[k] == pytest.approx(saga.intercept_[0], abs=1e-6)


def test_sparse_logistic_cv_on_several_classes_with_string_labels(data):
    X, y, X_val, y_val = data
    names = np.array(["ant", "bee", "cat", "dog"])
    est = hl.SparseLogisticRegressionCV(cv=3, max_iter=10, multi_class="ovr").fit(
        X, names[y])
    assert est.multi_class_ == "ovr"
    assert list(est.classes_) == list(names)
    assert est.coef_.shape == (4, 30) and est.intercept_.shape == (4,)
    proba = est.predict_proba(X_val)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert set(est.predict(X_val)) <= set(names)
    assert est.score(X_val, names[y_val]) > 0.6
    # the tuned criterion is the held-out log-loss of these probabilities
    assert est.best_score_ == pytest.approx(min(est.history_["value"]), rel=1e-3)


def test_multi_class_option_is_checked(data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="multi_class"):
        hl.SparseLogisticRegressionCV(multi_class="softmax").fit(X, y)


def test_ovr_target_and_criterion_errors(data):
    X, y, X_val, y_val = data
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        OneVsRest(n_classes=1)
    with pytest.raises(ValueError, match="class indices 0..3"):
        OneVsRest(n_classes=4).check_target(y + 1)
    with pytest.raises(ValueError, match="probabilities must be"):
        hl.HeldOutMulticlassLogLoss(X_val, y_val, probabilities="probit")
    with pytest.raises(ValueError, match=r"coef must have shape \(n_features, K\)"):
        hl.HeldOutMulticlassLogLoss(X_val, y_val).value(np.zeros((30, 2)), np.zeros(2))


def test_backward_from_a_warm_start_at_the_solution_is_exact(data):
    """Backward differentiation runs the recorded chain back from a cold start: from
    a warm start at the solution the iterates settled in a few epochs and the
    truncated chain gave 0.348 instead of 0.776 on this binary problem (0.47
    instead of 1.24 on the one-vs-rest problem above)."""
    X, y, X_val, y_val = data
    target = np.where(y == 1, 1.0, -1.0)
    criterion = hl.HeldOutLogistic(X_val, np.where(y_val == 1, 1.0, -1.0))
    alpha = 0.02
    exact = hl.hypergradient("logreg", criterion, alpha, X, target, method="implicit",
                             tol=1e-14)
    start = hl.WarmStart(exact.solution.coef, exact.solution.intercept)
    backward = hl.hypergradient("logreg", criterion, alpha, X, target,
                                method="backward", tol=1e-12, warm_start=start)
    assert abs(exact.gradient) > 0.01
    assert backward.gradient == pytest.approx(exact.gradient, rel=1e-6)
