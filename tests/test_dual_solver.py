"""The working-set solver on the SVM's dual: shuffled epochs, the box kept by
Anderson extrapolation, and polish with dual variables held at a bound.

Witnesses: liblinear's primal objective at a tight tolerance (60 iterations to
1e-9 relative on these rows) and the SVM's own duality gap.
"""

import warnings

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from hyperlasso.datasets import make_sparse_tfidf_regression
from hyperlasso.hypergradients.methods import _newton_step
from hyperlasso.inner import _cd
from hyperlasso.inner.box import Box
from hyperlasso.inner.dual import DualProblem, LinearSVM
from hyperlasso.inner.problem import Design


@pytest.fixture(scope="module")
def text_rows():
    """TF-IDF rows (l2-normalized, sparse), labels from a dense truth: samples are
    ordered by the generator, which cyclic coordinate descent did not survive."""
    X, y, _ = make_sparse_tfidf_regression(n_samples=1000, n_features=5000,
                                           density=0.005, n_nonzero=300, snr=3,
                                           random_state=0)
    return X.tocsr(), np.where(y > np.median(y), 1.0, -1.0)


def _primal(X, y, C, coef, intercept):
    margins = y * (X @ coef + intercept)
    return 0.5 * (coef @ coef + intercept**2) + C * np.sum(np.maximum(1 - margins, 0))


def test_shuffled_is_a_deterministic_permutation():
    ws = np.arange(3, 40)
    first, again = _cd.shuffled(ws, 7), _cd.shuffled(ws, 7)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(np.sort(first), ws)
    assert not np.array_equal(first, ws)
    assert not np.array_equal(_cd.shuffled(ws, 8), first)


def test_box_value_is_infinite_outside_the_box():
    box = Box(np.zeros(2), 1.0, np.array([1.0, -1.0]), np.array([0.0, -1.0]),
              np.array([1.0, 0.0]))
    assert box.value(np.array([0.5, -0.5])) == pytest.approx(-1.0 * (0.5 + 0.5))
    assert box.value(np.array([1.5, -0.5])) == np.inf
    assert box.value(np.array([0.5, 0.2])) == np.inf


@pytest.mark.parametrize("shuffle", [True, False])
def test_svm_dual_on_ordered_text_rows_reaches_liblinear(text_rows, shuffle,
                                                         monkeypatch):
    """At C = 2 the dual converges to a relative gap of 1e-8 with a new order every
    epoch, and its primal is liblinear's. Visiting the samples in their order (the
    Lasso's cyclic rule) needs more than 2000 epochs or does not get there: the
    ``shuffle=False`` case checks the reason the SVM's dual shuffles."""
    X, y = text_rows
    C = 2.0
    monkeypatch.setattr(DualProblem, "shuffle_units", shuffle)
    model = LinearSVM()
    problem = model.problem(np.array(C), Design.of(X, True), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solution = model.solve(problem, tol=1e-8)
    u = solution.coef
    assert np.all(u >= problem.lower) and np.all(u <= problem.upper)
    coef, intercept = model.primal_point(problem, u)
    reference = LinearSVC(loss="hinge", C=C, tol=1e-10, max_iter=100_000).fit(X, y)
    best = _primal(X, y, C, reference.coef_.ravel(), reference.intercept_[0])
    if not shuffle:
        assert solution.gap > 1e-8 or solution.n_epochs > 2000
        return
    assert solution.converged and solution.gap <= 1e-8
    # the gap bounds the primal's excess (relative to the primal at zero, C n)
    assert _primal(X, y, C, coef, intercept) - best <= 1e-8 * C * X.shape[0]


def test_polish_of_the_svm_dual_with_saturated_variables(text_rows):
    """The restricted system's state includes the dual variables held at a bound
    (off the free set, not zero): the Newton step on the free ones is accepted and
    lands at rounding level. With the state of the free ones alone, it was refused
    at every tolerance and polish fell back to implicit differentiation after
    three re-solves."""
    X, y = text_rows
    model = LinearSVM()
    problem = model.problem(np.array(2.0), Design.of(X, True), y)
    solution = model.solve(problem, tol=1e-6)
    saturated = np.sum((solution.coef == problem.lower) & (solution.coef != 0)
                       | (solution.coef == problem.upper) & (solution.coef != 0))
    assert saturated > 10 and solution.support.size > 10
    step = _newton_step(problem, solution, "auto")
    assert step.reason == ""
    assert step.polished.gap <= 1e-13
