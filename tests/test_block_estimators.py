"""The multi-task and group estimators: scikit-learn conformance, shapes, tuning quality."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import MultiTaskLasso as SkMultiTaskLasso
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

import hyperlasso as hl
from hyperlasso.criteria import make_objective
from hyperlasso.hypergradients import Settings

ESTIMATORS = [hl.MultiTaskLassoCV(), hl.WeightedMultiTaskLassoCV(), hl.GroupLassoCV(),
              hl.WeightedGroupLassoCV()]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_api(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def multitask():
    rng = np.random.default_rng(0)
    n, p, T = 80, 120, 4
    X = rng.standard_normal((n, p))
    W = np.zeros((p, T))
    W[:6] = rng.standard_normal((6, T))
    Y = X @ W + 0.8 * rng.standard_normal((n, T)) + 1.5
    return X, Y


def test_multitask_lasso_cv_reaches_the_best_loss_of_a_fine_grid(multitask):
    """Within 1 % of the best 5-fold CV loss over 100 log-spaced alphas (same folds),
    and the coefficients are scikit-learn's MultiTaskLasso refit at alpha_."""
    X, Y = multitask
    cv = KFold(5)
    estimator = hl.MultiTaskLassoCV(cv=cv).fit(X, Y)
    model = hl.MultiTaskLasso()
    objective = make_objective("cv", model, X, Y, Settings(tol=1e-10), cv=cv)
    amax = hl.alpha_max(model, X, Y)
    grid = [objective.value(a).value for a in np.geomspace(amax, 1e-3 * amax, 100)]
    assert estimator.best_score_ <= 1.01 * min(grid)
    assert estimator.coef_.shape == (Y.shape[1], X.shape[1])
    assert estimator.intercept_.shape == (Y.shape[1],)
    reference = SkMultiTaskLasso(alpha=estimator.alpha_, tol=1e-12, max_iter=100_000)
    reference.fit(X, Y)
    # refit gap 1e-8 relative: coefficients within ~1e-4 of the optimum's scale
    np.testing.assert_allclose(estimator.coef_, reference.coef_, atol=1e-4)
    assert estimator.predict(X[:3]).shape == (3, Y.shape[1])


def test_weighted_multitask_starts_from_the_single_penalty_optimum(multitask):
    X, Y = multitask
    estimator = hl.WeightedMultiTaskLassoCV().fit(X, Y)
    stages = estimator.history_["stage"]
    assert stages[0] == "lasso" and stages[-1] == "weighted"
    assert np.shape(estimator.alpha_) == (X.shape[1],)
    assert estimator.coef_.shape == (Y.shape[1], X.shape[1])


def test_group_lasso_cv_selects_whole_groups():
    rng = np.random.default_rng(1)
    n, p = 100, 60
    X = rng.standard_normal((n, p))
    labels = np.repeat(np.arange(15), 4)
    w = np.where(labels < 3, rng.standard_normal(p), 0.0)
    y = X @ w + 0.5 * rng.standard_normal(n)
    estimator = hl.GroupLassoCV(groups=labels).fit(X, y)
    selected = np.unique(labels[estimator.coef_ != 0])
    assert set(range(3)) <= set(selected.tolist())
    for g in selected:  # a group is in or out as a whole
        assert np.all(estimator.coef_[labels == g] != 0)
    assert isinstance(estimator.intercept_, float)
    assert estimator.predict(X).shape == (n,)


def test_group_lasso_cv_rejects_bad_groups():
    X = np.random.default_rng(0).standard_normal((20, 6))
    y = X[:, 0]
    with pytest.raises(ValueError, match="overlap"):
        hl.GroupLassoCV(groups=[[0, 1, 2], [2, 3, 4, 5]]).fit(X, y)
    with pytest.raises(ValueError, match="leave feature"):
        hl.GroupLassoCV(groups=[[0, 1], [2, 3]]).fit(X, y)
    with pytest.raises(ValueError, match="empty"):
        hl.GroupLassoCV(groups=[[0, 1, 2], [], [3, 4, 5]]).fit(X, y)


def test_multitask_cv_rejects_a_one_dimensional_target():
    X = np.random.default_rng(0).standard_normal((20, 6))
    with pytest.raises(ValueError, match="2-D"):
        hl.MultiTaskLassoCV().fit(X, X[:, 0])


def test_multitask_sure_runs_on_the_two_dimensional_target(multitask):
    """Multi-output SURE (tests/test_sure_multioutput.py has its witnesses)."""
    X, Y = multitask
    estimator = hl.MultiTaskLassoCV(criterion="sure", sigma=0.8).fit(X, Y)
    assert estimator.coef_.shape == (Y.shape[1], X.shape[1])
    assert np.isfinite(estimator.best_score_)
