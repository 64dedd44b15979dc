"""The scikit-learn estimators: API conformance, tuning quality, fitted attributes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import hyperlasso as hl
from hyperlasso.criteria import make_objective
from hyperlasso.datasets import make_correlated_regression
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.models import make_model

ESTIMATORS = [hl.LassoCV(), hl.ElasticNetCV(), hl.WeightedLassoCV(),
              hl.SparseLogisticRegressionCV()]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_api(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def regression():
    X, y, _ = make_correlated_regression(n_samples=80, n_features=200, n_nonzero=5,
                                         random_state=0)
    return X, y


def test_lasso_cv_reaches_the_best_loss_of_a_fine_grid(regression):
    """Within 1 % of the best 5-fold CV loss over 200 log-spaced alphas (same folds)."""
    X, y = regression
    estimator = hl.LassoCV().fit(X, y)
    objective = make_objective("cv", make_model("lasso"), X, y, Settings(tol=1e-10))
    amax = hl.alpha_max("lasso", X, y)
    grid = [objective.value(a).value for a in np.geomspace(amax, 1e-4 * amax, 200)]
    assert estimator.best_score_ <= 1.01 * min(grid)
    reevaluated = objective.value(estimator.alpha_).value
    assert reevaluated == pytest.approx(estimator.best_score_, rel=1e-4)


def test_fitted_attributes_and_history(regression):
    X, y = regression
    estimator = hl.ElasticNetCV(max_iter=20).fit(X, y)
    assert estimator.alpha_.shape == (2,)
    assert estimator.coef_.shape == (X.shape[1],)
    assert isinstance(estimator.intercept_, float)
    history = estimator.history_
    n = len(history["value"])
    assert n >= estimator.n_iter_ >= 1
    assert {len(v) for v in history.values()} == {n}
    # best_score_ is re-evaluated at the refit tolerance: the history's values are
    # at the search tolerance 1e-6, equal to 1e-4 relative away from support changes.
    assert {"lasso", "elastic_net"} <= set(history["stage"])
    enet_values = [v for v, stage in zip(history["value"], history["stage"], strict=True)
                   if stage != "lasso"]
    assert estimator.best_score_ == pytest.approx(min(enet_values), rel=1e-4)
    assert all(np.shape(a) == (2,) and a[0] > 0 and a[1] >= 0 for a in history["alpha"])
    # The Lasso stage (l2 = 0) has no l2 gradient: NaN there, finite elsewhere.
    for alpha, gradient in zip(history["alpha"], history["gradient"], strict=True):
        assert np.isfinite(gradient[0]) and np.isfinite(gradient[1]) == (alpha[1] > 0)
    assert np.all(np.diff(history["time"]) >= 0)
    assert history["n_inner"][0] > 0 and min(history["n_inner"]) >= 0
    refit = hl.fit("elastic_net", estimator.alpha_, X, y, tol=1e-10)
    np.testing.assert_allclose(estimator.coef_, refit.coef, atol=1e-6)
    np.testing.assert_allclose(estimator.predict(X), X @ refit.coef + refit.intercept,
                               atol=1e-5)


@pytest.mark.parametrize("optimizer", ["gd", "adam", "lbfgs", "grid", "random", "tpe"])
def test_every_optimizer_runs_in_the_estimator(regression, optimizer):
    X, y = regression
    estimator = hl.LassoCV(optimizer=optimizer, max_iter=8).fit(X, y)
    amax = hl.alpha_max("lasso", X, y)
    assert 1e-3 * amax * (1 - 1e-9) <= estimator.alpha_ <= amax * (1 + 1e-9)
    start_value = estimator.history_["value"][0]
    assert estimator.best_score_ <= start_value


def test_weighted_lasso_starts_from_the_lasso_optimum(regression):
    X, y = regression
    weighted = hl.WeightedLassoCV(max_iter=10).fit(X, y)
    history = weighted.history_
    stages = np.array(history["stage"])
    assert stages[0] == "lasso" and stages[-1] == "weighted"
    lasso_rows = np.flatnonzero(stages == "lasso")
    weighted_rows = np.flatnonzero(stages == "weighted")
    lasso_values = np.array(history["value"])[lasso_rows]
    lasso_best = np.asarray(history["alpha"])[lasso_rows][np.argmin(lasso_values)]
    np.testing.assert_allclose(history["alpha"][weighted_rows[0]], lasso_best, rtol=1e-12)
    assert weighted.alpha_.shape == (X.shape[1],)
    # Early stopping: alpha_ is the weighted-stage point with the lowest monitor error.
    monitor = np.array(history["monitor"])[weighted_rows]
    assert np.all(np.isfinite(monitor)) and np.all(np.isnan(
        np.array(history["monitor"])[lasso_rows]))
    chosen = weighted_rows[np.argmin(monitor)]
    np.testing.assert_allclose(weighted.alpha_, history["alpha"][chosen], rtol=1e-12)


@pytest.mark.parametrize("criterion", ["holdout", "cv"])
def test_weighted_lasso_searches_on_x_with_folds_on_its_tuning_rows(regression, criterion,
                                                                    monkeypatch):
    """Both stages search on X itself, their folds drawn on the tuning rows and
    numbered in X (no copy of the tuning rows lives through the search): no fold
    touches a monitor row, the folds are the tuning rows' own K-fold, and each
    monitor error is the fit on the tuning rows scored on the monitor rows (the
    same numbers as with the tuning rows copied out and the monitor as an
    external validation set: the same solves, warm-started in the same order)."""
    from sklearn.model_selection import KFold

    from hyperlasso.criteria import HeldOutMSE
    from hyperlasso.estimators import base
    from hyperlasso.estimators.base import monitor_split

    X, y = regression
    searched = []
    original = base.make_objective

    def spy(criterion, model, X_arg, y_arg, settings, **kwargs):
        searched.append((X_arg.shape[0], kwargs["cv"]))
        return original(criterion, model, X_arg, y_arg, settings, **kwargs)

    monkeypatch.setattr(base, "make_objective", spy)
    estimator = hl.WeightedLassoCV(criterion=criterion, max_iter=8).fit(X, y)
    tune, monitor = monitor_split(X.shape[0], 0.2, 5, "")
    expected = [(tune[train], tune[test]) for train, test in
                KFold(5).split(np.zeros((tune.size, 1)))]
    assert len(searched) == 2  # the Lasso stage, then the weighted one
    for n_rows, cv in searched:
        assert n_rows == X.shape[0]
        for (train, test), (train_expected, test_expected) in zip(cv, expected,
                                                                  strict=True):
            assert np.array_equal(train, train_expected)
            assert np.array_equal(test, test_expected)
            assert not np.intersect1d(np.r_[train, test], monitor).size
    history = estimator.history_
    weighted = np.flatnonzero(np.array(history["stage"]) == "weighted")
    external = make_objective(HeldOutMSE(X[monitor], y[monitor]),
                              make_model("weighted_lasso"), X[tune], y[tune],
                              estimator._settings())
    errors = [external.value(history["alpha"][k]).value for k in weighted]
    np.testing.assert_array_equal(np.array(history["monitor"])[weighted], errors)


def test_weighted_lasso_beats_the_lasso_on_a_sparse_signal():
    """The design of the paper's experiments: sparse truth, correlated features."""
    X, y, coef = make_correlated_regression(n_samples=300, n_features=2000,
                                            random_state=0)
    X_test, y_test, _ = make_correlated_regression(n_samples=1000, n_features=2000,
                                                   random_state=1, coef=coef)
    lasso = hl.LassoCV().fit(X, y)
    weighted = hl.WeightedLassoCV(max_iter=20).fit(X, y)

    def test_mse(model):
        return np.mean((y_test - model.predict(X_test)) ** 2)
    assert test_mse(weighted) < test_mse(lasso)


def test_external_validation_criterion_and_sure(regression):
    X, y = regression
    X_val, y_val, _ = make_correlated_regression(n_samples=50, n_features=200,
                                                 n_nonzero=5, random_state=1)
    holdout = hl.LassoCV(criterion=hl.HeldOutMSE(X_val, y_val)).fit(X, y)
    assert holdout.best_score_ == pytest.approx(
        hl.HeldOutMSE(X_val, y_val).value(holdout.coef_, holdout.intercept_), rel=1e-4)
    sure = hl.LassoCV(criterion="sure", sigma=0.5).fit(X, y)
    assert np.isfinite(sure.best_score_) and sure.alpha_ > 0


def test_pandas_input_keeps_feature_names(regression):
    pd = pytest.importorskip("pandas")
    X, y = regression
    frame = pd.DataFrame(X, columns=[f"gene_{j}" for j in range(X.shape[1])])
    estimator = hl.LassoCV(max_iter=5).fit(frame, pd.Series(y))
    assert list(estimator.feature_names_in_) == list(frame.columns)
    np.testing.assert_allclose(estimator.predict(frame),
                               X @ estimator.coef_ + estimator.intercept_)


def test_classifier_predicts_labels_and_probabilities():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    labels = np.array(["benign", "malignant"])[1 - y]
    estimator = hl.SparseLogisticRegressionCV(max_iter=10).fit(X, labels)
    assert set(estimator.predict(X)) <= set(labels)
    assert estimator.score(X, labels) > 0.95
    proba = estimator.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert estimator.coef_.shape == (1, X.shape[1])


def test_bad_input_for_estimators(regression):
    X, y = regression
    with pytest.raises(ValueError, match="cv must be between 2 and n_samples=80"):
        hl.LassoCV(cv=100).fit(X, y)
    with pytest.raises(ValueError, match="start point lies outside the bounds"):
        hl.LassoCV(alpha_init=10.0, alpha_bounds=(0.01, 1.0)).fit(X, y)
    with pytest.raises(ValueError, match="alpha_bounds must have low < high"):
        hl.LassoCV(alpha_bounds=(1.0, 0.1)).fit(X, y)
    with pytest.raises(ValueError, match="criterion='sure' needs a quadratic datafit"):
        hl.SparseLogisticRegressionCV(criterion="sure").fit(X, y > 0)
    # Without sigma, SURE estimates the noise level (Reid et al. 2016) and says so.
    with pytest.warns(UserWarning, match="the noise level is estimated"):
        est = hl.LassoCV(criterion="sure").fit(X, y)
    assert np.isfinite(est.sigma_) and est.sigma_ > 0
    y_single = np.zeros(80)
    y_single[:3] = 1
    from sklearn.model_selection import KFold
    with pytest.raises(ValueError, match="single class in its training part"):
        hl.SparseLogisticRegressionCV(cv=KFold(20)).fit(X, y_single)


def test_weighted_lasso_user_start_bounds_and_splits(regression):
    X, y = regression
    p = X.shape[1]
    amax = hl.alpha_max("lasso", X, y)
    bounds = np.tile([1e-3 * amax, amax], (p, 1))
    bounds[0] = [0.5 * amax, amax]  # one feature kept heavily penalized
    estimator = hl.WeightedLassoCV(alpha_init=np.full(p, 0.6 * amax), alpha_bounds=bounds,
                                   max_iter=5).fit(X, y)
    assert np.all(estimator.alpha_ >= bounds[:, 0] * (1 - 1e-9))
    assert np.all(estimator.alpha_ <= bounds[:, 1] * (1 + 1e-9))
    from sklearn.model_selection import KFold
    with pytest.raises(ValueError, match="cv must be an int, or set monitor_fraction=None"):
        hl.WeightedLassoCV(cv=KFold(3)).fit(X, y)
    splits = KFold(3).split(X)  # a one-shot generator serves both stages
    fitted = hl.WeightedLassoCV(cv=splits, monitor_fraction=None, max_iter=3).fit(X, y)
    assert set(fitted.history_["stage"]) == {"lasso", "weighted"}


@pytest.fixture(scope="module")
def diabetes_cubic():
    """scikit-learn's diabetes with its degree-3 monomials, standardized (331 x 285).

    Collinear (``sex`` takes two values, so sex^2 and sex^3 are affine in it) and
    rough along alpha: the tuning benchmark's hardest small set.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(PolynomialFeatures(3, include_bias=False)
                                       .fit_transform(X))
    return X[:331], y[:331]


def test_elastic_net_cv_falls_back_on_the_lasso_and_is_not_worse(diabetes_cubic):
    # From its default start, L-BFGS stopped 0.15 % above the Lasso's loss on this
    # kind of set: a Lasso stage follows, and a restart from it when it is better.
    X, y = diabetes_cubic
    with pytest.warns(RuntimeWarning, match="singular"):  # collinear supports
        lasso = hl.LassoCV().fit(X, y)
        enet = hl.ElasticNetCV().fit(X, y)
    stages = np.array(enet.history_["stage"])
    assert stages[0] == "elastic_net" and stages[-1] == "elastic_net_from_lasso"
    values = np.array(enet.history_["value"])
    np.testing.assert_allclose(values[stages == "lasso"], lasso.history_["value"])
    # Both best scores at the refit tolerance; the slack is the effect of the l2
    # weight's lower bound (1e-4 L), which keeps the ElasticNet off the Lasso.
    assert enet.best_score_ <= lasso.best_score_ * (1 + 1e-4)
    assert enet.best_score_ < values[stages == "elastic_net"].min()


def test_each_warning_is_shown_once_per_fit(diabetes_cubic):
    """The singular-Hessian warning, raised at many folds and evaluations of this
    collinear design, is shown once, even under an "always" filter."""
    import warnings

    X, y = diabetes_cubic
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hl.LassoCV().fit(X, y)
    texts = [(w.category, str(w.message)) for w in caught]
    assert sum("restricted Hessian is singular" in text for _, text in texts) == 1
    assert len(texts) == len(set(texts))


def test_warnings_once_per_fit_keeps_filters_and_failures():
    """Distinct texts are each shown; an "error" filter raises at the end of the
    fit; the warnings of a fit that fails are shown before its exception leaves."""
    import warnings

    from hyperlasso.estimators.base import warnings_once_per_fit

    class Noisy:
        @warnings_once_per_fit
        def fit(self, fail=False):
            for k in (1, 1, 2, 1):
                warnings.warn(f"note {k}", UserWarning, stacklevel=1)
            if fail:
                raise ValueError("bad input")
            return self

    with pytest.warns(UserWarning) as record:
        Noisy().fit()
    assert [str(w.message) for w in record] == ["note 1", "note 2"]
    with pytest.warns(UserWarning, match="note") as record, \
            pytest.raises(ValueError, match="bad input"):
        Noisy().fit(fail=True)
    assert len(record) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="note 1"):
            Noisy().fit()


def test_elastic_net_cv_keeps_a_better_elastic_net():
    # Strongly correlated design with many nonzeros: the ElasticNet beats the Lasso
    # by 10 % (27.99 vs 31.06) and no restart from the Lasso is made.
    X, y, _ = make_correlated_regression(n_samples=100, n_features=300, rho=0.9,
                                         n_nonzero=100, random_state=0)
    enet = hl.ElasticNetCV().fit(X, y)
    lasso_values = [v for v, stage in zip(enet.history_["value"], enet.history_["stage"],
                                          strict=True) if stage == "lasso"]
    assert "elastic_net_from_lasso" not in enet.history_["stage"]
    assert enet.best_score_ < 0.95 * min(lasso_values)


def test_elastic_net_cv_with_alpha_init_has_one_stage(regression):
    X, y = regression
    enet = hl.ElasticNetCV(alpha_init=(0.05, 0.1), max_iter=5).fit(X, y)
    assert "lasso" not in enet.history_["stage"]
    np.testing.assert_allclose(enet.history_["alpha"][0], [0.05, 0.1])
