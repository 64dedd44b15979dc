"""Linear SVM and SVR on the dual box problem: solutions, hypergradients, estimators.

Witnesses: scikit-learn's liblinear (``LinearSVC(loss="hinge")``, ``LinearSVR``)
and an independent solve of the dual by scipy's L-BFGS-B for the coefficients;
central finite differences of the criterion (each side solved to a relative gap
of 1e-15, where the set of free dual variables does not change within the step)
and the agreement of the five methods for the hypergradients.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC, LinearSVR
from sklearn.utils.estimator_checks import check_estimator

import hyperlasso as hl
from hyperlasso.inner.dual import LinearSVM
from hyperlasso.inner.dual import LinearSVR as DualSVR

METHODS = ["polish", "implicit", "implicit_forward", "forward", "backward"]
#: Central differences with step h C have an error of order h^2 C^2 f''' / 6, and
#: the criterion is piecewise smooth (quadratic in the free dual variables): 1e-6
#: relative holds with h = 1e-5 wherever the free set is stable over the step.
FD_RTOL = 1e-6


def _classification(n=120, p=20, seed=0):
    X, y = make_classification(n + 60, p, random_state=seed)
    y = 2.0 * y - 1.0
    return X[:n], y[:n], X[n:], y[n:]


def _regression(n=120, p=20, seed=0):
    X, y = make_regression(n + 60, p, noise=10.0, random_state=seed)
    y = y / np.std(y)
    return X[:n], y[:n], X[n:], y[n:]


def _scipy_dual(X, y, C, epsilon, classification, intercept_scaling=1.0):
    """w~ = X~^T beta from the dual minimized by L-BFGS-B (beta = beta+ - beta-)."""
    Xa = np.hstack([X, np.full((X.shape[0], 1), intercept_scaling)])
    n = X.shape[0]

    def objective(v):
        beta = v[:n] - v[n:]
        w = Xa.T @ beta
        value = 0.5 * w @ w - y @ beta + epsilon * np.sum(v)
        g = Xa @ w - y
        return value, np.concatenate([g + epsilon, -g + epsilon])

    if classification:  # beta_i = y_i a_i, a in [0, C]
        bounds = [(0, C) if yi > 0 else (0, 0) for yi in y] + \
                 [(0, 0) if yi > 0 else (0, C) for yi in y]
    else:
        bounds = [(0, C)] * (2 * n)
    result = minimize(objective, np.zeros(2 * n), jac=True, method="L-BFGS-B",
                      bounds=bounds, options={"ftol": 1e-16, "gtol": 1e-12,
                                              "maxiter": 100000, "maxfun": 200000})
    w = Xa.T @ (result.x[:n] - result.x[n:])
    return w[:-1], w[-1] * intercept_scaling


@pytest.mark.parametrize("C", [0.01, 0.3])
def test_svm_coefficients_match_liblinear_and_an_independent_dual_solve(C):
    X, y, Xv, yv = _classification()
    result = hl.hypergradient("svm", hl.HeldOutSmoothedHinge(Xv, yv), C, X, y)
    coef, b = _scipy_dual(X, y, C, 0.0, classification=True)
    # L-BFGS-B stops near 1e-9 on this 120-variable QP.
    np.testing.assert_allclose(result.solution.coef, coef, atol=1e-6)
    assert result.solution.intercept == pytest.approx(b, abs=1e-6)
    # liblinear's tolerance is on its projected gradient: at 1e-12 it reaches
    # max_iter unconverged (1e-2 off at C = 0.3); at 1e-8 it converges, 2e-7 away
    # from the L-BFGS-B solve of the dual.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        sk = LinearSVC(loss="hinge", C=C, tol=1e-8, max_iter=10**6).fit(X, y)
    assert not caught
    np.testing.assert_allclose(result.solution.coef, sk.coef_.ravel(), atol=1e-6)


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_svr_coefficients_match_liblinear_and_an_independent_dual_solve(epsilon):
    X, y, Xv, yv = _regression()
    result = hl.hypergradient(DualSVR(epsilon=epsilon), hl.HeldOutMSE(Xv, yv), 0.05, X, y)
    coef, b = _scipy_dual(X, y, 0.05, epsilon, classification=False)
    np.testing.assert_allclose(result.solution.coef, coef, atol=1e-6)
    assert result.solution.intercept == pytest.approx(b, abs=1e-6)
    sk = LinearSVR(C=0.05, epsilon=epsilon, tol=1e-8, max_iter=10**6).fit(X, y)
    np.testing.assert_allclose(result.solution.coef, sk.coef_, atol=1e-6)


def _central_difference(model, criterion, alpha, X, y, index=0):
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    h = 1e-5 * alpha[index]
    values = []
    for sign in (1, -1):
        moved = alpha.copy()
        moved[index] += sign * h
        point = moved if moved.size > 1 else float(moved[0])
        values.append(hl.hypergradient(model, criterion, point, X, y, method="implicit",
                                       tol=1e-15).value)
    return (values[0] - values[1]) / (2 * h)


@pytest.mark.parametrize("layout", ["dense", "csr", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_svm_hypergradient_every_method_agrees_with_finite_differences(layout,
                                                                       fit_intercept):
    X, y, Xv, yv = _classification(p=40)
    if layout != "dense":
        X = sp.random(X.shape[0], 300, density=0.05, random_state=1, format=layout) * 3
        Xv = sp.random(Xv.shape[0], 300, density=0.05, random_state=2, format="csr") * 3
    criterion = hl.HeldOutSmoothedHinge(Xv, yv)
    model = LinearSVM(fit_intercept=fit_intercept)
    reference = _central_difference(model, criterion, 0.2, X, y)
    assert abs(reference) > 1e-4  # a gradient that is not trivially zero
    for method in METHODS:
        gradient = hl.hypergradient(model, criterion, 0.2, X, y, method=method).gradient
        assert gradient == pytest.approx(reference, rel=FD_RTOL), method


@pytest.mark.parametrize("C", [0.05, 0.5])
def test_svm_sparse_and_dense_designs_give_the_same_hypergradient(C):
    """200 features for 100 samples: at C = 0.05 some dual variables sit at C; at
    C = 0.5 the samples are separated with none there, the solution no longer
    moves with C and the gradient is 0 (to rounding: 1e-16 of the criterion)."""
    X = sp.random(100, 200, density=0.05, random_state=0, format="csr") * 3
    y = np.where(np.random.default_rng(0).random(100) > 0.5, 1.0, -1.0)
    X_val = sp.random(40, 200, density=0.05, random_state=1, format="csr") * 3
    y_val = np.where(np.random.default_rng(1).random(40) > 0.5, 1.0, -1.0)
    criterion = hl.HeldOutSmoothedHinge(X_val, y_val)
    results = [hl.hypergradient("svm", criterion, C, M, y) for M in (X, X.tocsc(),
                                                                      X.toarray())]
    grads = [r.gradient for r in results]
    if C == 0.05:
        assert abs(grads[2]) > 1.0
        np.testing.assert_allclose(grads, grads[2], rtol=1e-10)
    else:
        np.testing.assert_allclose(grads, 0.0, atol=1e-14 * results[2].value)


@pytest.mark.parametrize("epsilon", [None, 0.2])
def test_svr_hypergradient_in_C_and_epsilon_agrees_with_finite_differences(epsilon):
    X, y, Xv, yv = _regression()
    criterion = hl.HeldOutMSE(Xv, yv)
    model = DualSVR(epsilon=epsilon)
    alpha = np.array([0.05, 0.2]) if epsilon is None else 0.05
    for method in METHODS:
        gradient = np.atleast_1d(hl.hypergradient(model, criterion, alpha, X, y,
                                                  method=method).gradient)
        for k in range(gradient.size):
            reference = _central_difference(model, criterion, alpha, X, y, index=k)
            assert gradient[k] == pytest.approx(reference, rel=FD_RTOL), (method, k)


def test_svm_small_C_saturates_every_dual_variable_and_keeps_a_gradient():
    """At tiny C every a_i = C: no free variable, w = C X^T y moves with C only
    through the explicit term, which must still be there."""
    X, y, Xv, yv = _classification()
    criterion = hl.HeldOutSmoothedHinge(Xv, yv)
    result = hl.hypergradient("svm", criterion, 1e-6, X, y)
    assert result.solution.support.size == 0
    reference = _central_difference(LinearSVM(), criterion, 1e-6, X, y)
    assert result.gradient == pytest.approx(reference, rel=FD_RTOL)
    assert result.gradient != 0


def test_linear_svc_cv_tunes_C_and_matches_liblinear_at_its_C():
    X, y, _, _ = _classification(n=200)
    labels = np.array(["no", "yes"])[(y > 0).astype(int)]
    est = hl.LinearSVCCV(cv=3).fit(X, labels)
    assert set(est.predict(X)) <= {"no", "yes"}
    assert est.C_ == est.alpha_
    assert len(est.cv_results_["mean_test_criterion"]) == len(est.history_["value"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = LinearSVC(loss="hinge", C=est.C_, tol=1e-8, max_iter=10**6).fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6)
    # The tuned C is no worse on its criterion than the default start, 1 / mean ||x||^2.
    start = est.history_["value"][0]
    assert est.best_score_ <= start * (1 + 1e-9)


def test_linear_svr_cv_tunes_C_and_epsilon():
    X, y, _, _ = _regression(n=150)
    est = hl.LinearSVRCV(epsilon="tune", cv=3).fit(X, y)
    assert est.alpha_.shape == (2,) and est.epsilon_ == est.alpha_[1]
    sk = LinearSVR(C=est.C_, epsilon=est.epsilon_, tol=1e-8, max_iter=10**6).fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6)
    fixed = hl.LinearSVRCV(epsilon=0.1, cv=3).fit(X, y)
    assert fixed.epsilon_ == 0.1 and np.ndim(fixed.alpha_) == 0


@pytest.mark.parametrize("estimator", [hl.LinearSVCCV(cv=3, max_iter=3),
                                       hl.LinearSVRCV(cv=3, max_iter=3)])
def test_svm_estimators_pass_check_estimator(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(estimator)


def test_svm_bad_input_gets_clear_errors():
    X, y, Xv, yv = _classification()
    with pytest.raises(ValueError, match="exactly two classes"):
        hl.LinearSVCCV().fit(X, np.arange(X.shape[0]) % 3)
    with pytest.raises(ValueError, match="1 class"):
        hl.LinearSVCCV().fit(X, np.ones(X.shape[0]))
    with pytest.raises(ValueError, match="C must be positive"):
        hl.hypergradient("svm", hl.HeldOutSmoothedHinge(Xv, yv), -1.0, X, y)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        DualSVR(epsilon=-0.1)
    with pytest.raises(ValueError, match="epsilon"):
        hl.LinearSVRCV(epsilon=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="coef= is not available"):
        hl.hypergradient("svm", hl.HeldOutSmoothedHinge(Xv, yv), 1.0, X, y,
                         coef=np.zeros(X.shape[1]), method="implicit")


def test_smoothed_hinge_gradient_matches_finite_differences():
    X, y, _, _ = _classification()
    criterion = hl.HeldOutSmoothedHinge(X, y)
    w = np.random.default_rng(0).normal(size=X.shape[1]) * 0.3
    _, grad, grad_b = criterion.value_and_grad(w, 0.1)
    e = np.zeros_like(w)
    e[3] = 1e-6
    numeric = (criterion.value(w + e, 0.1) - criterion.value(w - e, 0.1)) / 2e-6
    assert grad[3] == pytest.approx(numeric, rel=1e-6)
    numeric_b = (criterion.value(w, 0.1 + 1e-6) - criterion.value(w, 0.1 - 1e-6)) / 2e-6
    assert grad_b == pytest.approx(numeric_b, rel=1e-6)


def test_svm_dual_with_many_samples_converges_as_its_working_set_grows():
    """From zero the dual's largest violations sit on samples the working set has
    not reached: its size doubles for several iterations while the largest
    violation stays put, which is progress, not a stall."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 30))
    y = np.sign(X[:, 0] + 0.5 * rng.standard_normal(4000))
    solution = hl.fit("svm", 0.001, X, y, tol=1e-8)
    assert solution.converged and solution.gap <= 1e-8
