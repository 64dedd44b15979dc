"""SURE for the block models (multi-task, weighted multi-task, group Lasso): its
hypergradient, its unbiasedness, the estimators and the noise estimate."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import hyperlasso as hl
from hyperlasso.criteria import make_objective, sure_objective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.block_models import (
    GroupLasso,
    MultiTaskElasticNet,
    MultiTaskLasso,
    WeightedGroupLasso,
    WeightedMultiTaskLasso,
)
from hyperlasso.inner.models import Lasso
from hyperlasso.inner.problem import Design

#: As in test_objectives: inner solutions at an optimality violation of 1e-13,
#: values exact to ~1e-12, central differences (step 1e-4 in log alpha) to ~1e-7.
TIGHT = Settings(tol=1e-13, stop="kkt")
SIGMA = 0.5


def _multitask_data(n=40, p=30, T=4, seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if sparse:
        X = sp.csc_matrix(X * (rng.random(X.shape) < 0.5))
    B = np.zeros((p, T))
    B[:4] = rng.choice([-2.0, -1.0, 1.0, 2.0], (4, T))
    Y = np.asarray(X @ B) + SIGMA * rng.standard_normal((n, T)) + 1.0
    return X, Y, B


def _fd(objective, alpha, k, h=1e-4):
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    plus, minus = alpha.copy(), alpha.copy()
    plus[k] *= np.exp(h)
    minus[k] *= np.exp(-h)
    shape = (lambda a: float(a[0])) if alpha.size == 1 else (lambda a: a)
    values = [objective.value(shape(a)).value for a in (plus, minus)]
    return (values[0] - values[1]) / (2 * h * alpha[k])


def _case(name, sparse):
    X, Y, _ = _multitask_data(sparse=sparse)
    a_max = hl.alpha_max("multitask_lasso", X, Y)
    groups = np.repeat(np.arange(10), 3)
    y = Y[:, 0]
    a_group = hl.alpha_max(GroupLasso(groups=groups), X, y)
    rng = np.random.default_rng(1)
    return {
        "multitask": (MultiTaskLasso(), X, Y, a_max / 4),
        "weighted_multitask": (WeightedMultiTaskLasso(), X, Y,
                               a_max / 4 * np.exp(0.2 * rng.standard_normal(30))),
        "multitask_enet": (MultiTaskElasticNet(), X, Y, [a_max / 4, 0.3]),
        "group": (GroupLasso(groups=groups), X, y, a_group / 4),
        "weighted_group": (WeightedGroupLasso(groups=groups), X, y,
                           a_group / 4 * np.exp(0.2 * rng.standard_normal(10))),
    }[name]


@pytest.mark.parametrize("name", ["multitask", "weighted_multitask", "multitask_enet",
                                  "group", "weighted_group"])
def test_sure_gradient_matches_finite_differences(name, sparse):
    """Same Monte-Carlo direction for both sides (random_state=0); the support
    does not change within the step at these alphas (checked)."""
    model, X, Y, alpha = _case(name, sparse)
    Y = model.check_target(Y, X.shape[0])  # as the estimators give it: (n, T)
    objective = make_objective("sure", model, X, Y, TIGHT, sigma=SIGMA)
    evaluation = objective.value_and_grad(alpha)
    support = evaluation.support_size
    fd = [_fd(objective, alpha, k) for k in range(np.size(alpha))]
    assert objective.value_and_grad(alpha).support_size == support
    np.testing.assert_allclose(np.atleast_1d(evaluation.gradient), fd, rtol=1e-6)


def test_sure_with_a_fixed_direction_is_deterministic():
    """random_state fixes delta: two objectives agree to the last digit; another
    seed gives another value (the Monte-Carlo term is not dropped)."""
    X, Y, _ = _multitask_data()
    alpha = hl.alpha_max("multitask_lasso", X, Y) / 4
    design = Design.of(X, True)
    values = [sure_objective(MultiTaskLasso(), design, X, Y, SIGMA, TIGHT,
                             random_state=seed).value(alpha).value for seed in (3, 3, 4)]
    assert values[0] == values[1]
    assert values[0] != values[2]


def test_sure_two_inner_problems_in_parallel_threads_give_the_same_result():
    """n_jobs=2 solves SURE's two problems in threads: same value and gradient,
    to the last digit (each solve is deterministic and independent)."""
    X, Y, _ = _multitask_data()
    alpha = hl.alpha_max("multitask_lasso", X, Y) / 4
    results = [make_objective("sure", MultiTaskLasso(), X, Y, TIGHT, sigma=SIGMA,
                              n_jobs=n_jobs).value_and_grad(alpha) for n_jobs in (1, 2)]
    assert results[0].value == results[1].value
    assert results[0].gradient == results[1].gradient
    estimators = [hl.MultiTaskLassoCV(criterion="sure", sigma=SIGMA, n_jobs=n_jobs)
                  .fit(X, Y) for n_jobs in (None, 2)]
    assert estimators[0].alpha_ == estimators[1].alpha_
    np.testing.assert_array_equal(estimators[0].coef_, estimators[1].coef_)


def test_sure_mean_tracks_the_true_prediction_risk_along_the_path():
    """Over 150 noise draws (one Monte-Carlo direction each), the mean SURE and
    the mean true risk ||X B_hat + 1 b - X B||^2 / N agree within 4 standard
    errors of their difference at 4 alphas of the path: SURE is unbiased up to
    the finite-difference bias in eps (small for these piecewise-smooth fits)."""
    rng = np.random.default_rng(0)
    n, p, T = 30, 20, 3
    X = rng.standard_normal((n, p))
    B = np.zeros((p, T))
    B[:3] = rng.choice([-2.0, 2.0], (3, T))
    mean = X @ B + 1.0
    a_max = hl.alpha_max("multitask_lasso", X, mean)
    settings = Settings(tol=1e-10)
    design = Design.of(X, True)
    for fraction in (0.5, 0.2, 0.08, 0.03):
        alpha = a_max * fraction
        differences = []
        for draw in range(150):
            Y = mean + SIGMA * rng.standard_normal((n, T))
            sure = sure_objective(MultiTaskLasso(), design, X, Y, SIGMA, settings,
                                  random_state=draw).value(alpha).value
            fit = hl.fit("multitask_lasso", alpha, X, Y, tol=1e-10)
            risk = np.mean((X @ fit.coef + fit.intercept - mean) ** 2)
            differences.append(sure - risk)
        standard_error = np.std(differences) / np.sqrt(len(differences))
        assert abs(np.mean(differences)) < 4 * standard_error, fraction


def test_multitask_sure_estimator_reaches_the_best_sure_of_a_grid():
    """MultiTaskLassoCV(criterion='sure') against 60 log-spaced alphas of the
    same SURE (same direction): its criterion is within 1e-4 relative of the
    grid's best or below it."""
    X, Y, _ = _multitask_data(n=60, p=50)
    estimator = hl.MultiTaskLassoCV(criterion="sure", sigma=SIGMA).fit(X, Y)
    objective = make_objective("sure", MultiTaskLasso(), X, Y, Settings(tol=1e-8),
                               sigma=SIGMA)
    a_max = hl.alpha_max("multitask_lasso", X, Y)
    grid = a_max * np.logspace(0, -3, 60)
    best = min(objective.value(a).value for a in grid)
    assert objective.value(float(np.ravel(estimator.alpha_)[0])).value <= best * (1 + 1e-4)
    assert estimator.sigma_ == SIGMA
    assert estimator.coef_.shape == (Y.shape[1], X.shape[1])


def test_weighted_multitask_sure_improves_on_the_single_penalty():
    """Without the monitor split both tune the same SURE (same direction) on the
    same samples, and the weighted search starts from the single optimum."""
    X, Y, _ = _multitask_data(n=60, p=50)
    single = hl.MultiTaskLassoCV(criterion="sure", sigma=SIGMA).fit(X, Y)
    weighted = hl.WeightedMultiTaskLassoCV(criterion="sure", sigma=SIGMA,
                                           monitor_fraction=None).fit(X, Y)
    assert weighted.best_score_ <= single.best_score_ * (1 + 1e-6)
    assert np.shape(weighted.alpha_) == (X.shape[1],)


@pytest.mark.parametrize("multi_output", [False, True])
def test_sure_without_sigma_estimates_it_and_warns(multi_output):
    """The Reid et al. estimate on n = 200 samples: within 15 % of the true
    sigma (its relative standard error is about 1 / sqrt(2 (n - |S|) T) < 6 %)."""
    X, Y, _ = _multitask_data(n=200, p=40)
    y = Y if multi_output else Y[:, 0]
    Estimator = hl.MultiTaskLassoCV if multi_output else hl.LassoCV
    with pytest.warns(UserWarning, match="noise level is estimated as"):
        estimator = Estimator(criterion="sure").fit(X, y)
    assert abs(estimator.sigma_ - SIGMA) < 0.15 * SIGMA


def test_sure_bad_input():
    X, Y, _ = _multitask_data()
    with pytest.raises(ValueError, match="sigma must be a positive finite number"):
        make_objective("sure", MultiTaskLasso(), X, Y, TIGHT, sigma=-1.0)
    with pytest.raises(ValueError, match="sigma"):
        hl.MultiTaskLassoCV(criterion="sure", sigma=0.0).fit(X, Y)
    with pytest.raises(ValueError, match="eps must be a positive finite number"):
        sure_objective(MultiTaskLasso(), Design.of(X, True), X, Y, SIGMA, TIGHT, eps=0.0)
    with pytest.raises(ValueError, match="rows|samples|shape"):
        hl.MultiTaskLassoCV(criterion="sure", sigma=SIGMA).fit(X, Y[:-1])


@pytest.mark.parametrize("estimator", [hl.MultiTaskLassoCV, hl.LassoCV])
def test_sure_refit_starts_from_the_search_solution(estimator):
    """SURE's first inner problem is the refit's: rescored at the refit's
    tolerance, its solution at alpha_ makes the refit a gap check (no epoch), and
    the coefficients are those of a cold solve to 1e-13 (within what a relative
    gap of 1e-8 leaves after the Newton steps / the polish: 1e-9 seen)."""
    X, Y, _ = _multitask_data()
    y = Y if estimator is hl.MultiTaskLassoCV else Y[:, 0]
    est = estimator(criterion="sure", sigma=SIGMA).fit(X, y)
    assert est.inner_solution_.n_epochs == 0
    if estimator is hl.MultiTaskLassoCV:
        model, target = MultiTaskLasso(), MultiTaskLasso().check_target(y, X.shape[0])
    else:
        model, target = Lasso(), Lasso().check_target(y)
    alpha = model.check_alpha(est.alpha_, X.shape[1])
    cold = model.solve(model.problem(alpha, Design.of(X, True), target), tol=1e-13)
    coef = cold.coef.T if estimator is hl.MultiTaskLassoCV else cold.coef
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-7,
                               atol=1e-9 * np.max(np.abs(coef)))
