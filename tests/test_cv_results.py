"""``cv_results_``: one row per outer evaluation, one column per fold."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, make_classification
from sklearn.linear_model import Lasso
from sklearn.model_selection import KFold

import hyperlasso as hl


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def _split_columns(frame):
    return [c for c in frame.columns if c.startswith("split")]


def test_one_row_per_evaluation_and_one_column_per_fold(diabetes):
    X, y = diabetes
    est = hl.LassoCV(cv=5).fit(X, y)
    frame = pd.DataFrame(est.cv_results_)
    assert len(frame) == len(est.history_["value"]) >= 2
    assert _split_columns(frame) == [f"split{k}_test_criterion" for k in range(5)]
    folds = frame[_split_columns(frame)].to_numpy()
    # The criterion is the mean of the folds' (sums in another order: rounding only).
    np.testing.assert_allclose(folds.mean(axis=1), frame["mean_test_criterion"],
                               rtol=1e-13)
    np.testing.assert_allclose(folds.std(axis=1), frame["std_test_criterion"], rtol=1e-12)
    assert frame["mean_test_criterion"].min() == pytest.approx(est.best_score_, rel=1e-6)
    for column in ("param_alpha", "support_size", "n_inner", "time", "stage"):
        assert column in frame
    assert np.all(np.diff(frame["time"]) >= 0)
    assert np.all(frame["n_inner"] > 0)


def test_fold_scores_match_scikit_learn_lasso_on_the_same_folds(diabetes):
    X, y = diabetes
    est = hl.LassoCV(cv=5, tol=1e-10).fit(X, y)
    frame = pd.DataFrame(est.cv_results_)
    row = frame.iloc[len(frame) // 2]
    alpha = float(row["param_alpha"])
    for k, (train, test) in enumerate(KFold(5).split(X)):
        # tol 1e-12: sklearn's coefficients then agree with ours to ~1e-9, so the
        # held-out MSE (about 3e3) to far better than the 1e-8 relative asked.
        ref = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X[train], y[train])
        mse = np.mean((y[test] - ref.predict(X[test])) ** 2)
        assert row[f"split{k}_test_criterion"] == pytest.approx(mse, rel=1e-8)
    supports = [np.count_nonzero(Lasso(alpha=alpha, tol=1e-12, max_iter=100_000)
                                 .fit(X[train], y[train]).coef_)
                for train, _ in KFold(5).split(X)]
    assert row["support_size"] == pytest.approx(np.mean(supports))


def test_holdout_has_one_fold_and_sure_none(diabetes):
    X, y = diabetes
    holdout = pd.DataFrame(hl.LassoCV(criterion="holdout").fit(X, y).cv_results_)
    assert _split_columns(holdout) == ["split0_test_criterion"]
    np.testing.assert_allclose(holdout["split0_test_criterion"],
                               holdout["mean_test_criterion"], rtol=1e-15)
    sure = pd.DataFrame(hl.LassoCV(criterion="sure", sigma=50.0).fit(X, y).cv_results_)
    assert _split_columns(sure) == []
    assert sure["std_test_criterion"].isna().all()


def test_stages_and_monitor_are_columns(diabetes):
    X, y = diabetes
    est = hl.WeightedLassoCV(cv=3, max_iter=5).fit(X, y)
    frame = pd.DataFrame(est.cv_results_)
    assert set(frame["stage"]) == {"lasso", "weighted"}
    assert "monitor" in frame
    assert len(frame["param_alpha"].iloc[-1]) == X.shape[1]
    assert len(_split_columns(frame)) == 3


@pytest.mark.parametrize("make", [
    lambda: hl.SparseLogisticRegressionCV(cv=3),
    lambda: hl.MultiTaskLassoCV(cv=3),
    lambda: hl.GraphicalLassoCV(cv=3),
    lambda: hl.LassoCV(cv=3, optimizer="random", max_iter=4),
])
def test_every_cv_estimator_has_cv_results(make):
    rng = np.random.default_rng(0)
    est = make()
    if isinstance(est, hl.SparseLogisticRegressionCV):
        X, y = make_classification(120, 20, random_state=0)
        est.fit(X, y)
    elif isinstance(est, hl.MultiTaskLassoCV):
        X = rng.standard_normal((60, 15))
        est.fit(X, X[:, :3] @ rng.standard_normal((3, 4)) + rng.standard_normal((60, 4)))
    elif isinstance(est, hl.GraphicalLassoCV):
        est.fit(rng.standard_normal((80, 6)) @ rng.standard_normal((6, 6)))
    else:
        X, y = load_diabetes(return_X_y=True)
        est.fit(X, y)
    frame = pd.DataFrame(est.cv_results_)
    assert len(frame) == len(est.history_["value"])
    assert len(_split_columns(frame)) == 3
    assert np.isfinite(frame[_split_columns(frame)].to_numpy()).all()
