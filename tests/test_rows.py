"""Fold parts copied out of X: the one-pass CSC row split and folds built on use."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import KFold

import hyperlasso as hl
from hyperlasso.criteria import splits
from hyperlasso.criteria._rows import split_rows
from hyperlasso.criteria.objectives import Fold
from hyperlasso.datasets import make_sparse_tfidf_regression
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.models import Lasso


@pytest.fixture(scope="module")
def sparse_data():
    X, y, _ = make_sparse_tfidf_regression(120, 300, density=0.03, n_nonzero=5,
                                           random_state=3)
    return X, y


def _same_matrix(A, B):
    """Same stored arrays, entry for entry (not only the same dense matrix)."""
    return all(np.array_equal(getattr(A, name), getattr(B, name))
               for name in ("data", "indices", "indptr")) and A.shape == B.shape


@pytest.mark.parametrize("shuffle", [False, True])
def test_split_rows_matches_scipy_row_indexing(sparse_data, shuffle):
    X, _ = sparse_data
    rows = X.tocsr()
    folds = KFold(4, shuffle=shuffle, random_state=0 if shuffle else None)
    for train, test in folds.split(X):
        X_train, X_test = split_rows(X, train, test)
        assert _same_matrix(X_train, sp.csc_matrix(rows[train]))
        assert _same_matrix(X_test, sp.csc_matrix(rows[test]))
        assert X_train.has_canonical_format and X_test.has_canonical_format


def test_split_rows_leaves_out_rows_in_neither_part(sparse_data):
    X, _ = sparse_data
    train, test = np.arange(0, 50), np.arange(70, 90)
    X_train, X_test = split_rows(X, train, test)
    assert np.array_equal(X_train.toarray(), X.toarray()[train])
    assert np.array_equal(X_test.toarray(), X.toarray()[test])


def _objective(X, y, cv=5):
    model = Lasso()
    return splits.make_objective("cv", model, X, y, Settings(), cv=cv)


def test_folds_stored_below_the_budget_and_built_on_use_above(sparse_data, monkeypatch):
    X, y = sparse_data
    assert all(isinstance(fold, Fold) for fold in _objective(X, y).folds)
    monkeypatch.setattr(splits, "STORED_FOLDS_MAX_BYTES", splits.matrix_bytes(X))
    assert all(isinstance(fold, splits.RowFold) for fold in _objective(X, y).folds)
    # a single split is always stored: building it on use would save nothing
    holdout = splits.make_objective("holdout", Lasso(), X, y,
                                    Settings())
    assert isinstance(holdout.folds[0], Fold)


@pytest.mark.parametrize("dense", [False, True])
def test_folds_built_on_use_give_the_same_digits(sparse_data, monkeypatch, dense):
    X, y = sparse_data
    X = X.toarray() if dense else X
    stored = hl.LassoCV(cv=4).fit(X, y)
    monkeypatch.setattr(splits, "STORED_FOLDS_MAX_BYTES", 0)
    built = hl.LassoCV(cv=4).fit(X, y)
    # same rows in the same order: the same floating-point operations
    assert built.alpha_ == stored.alpha_
    assert np.array_equal(built.coef_, stored.coef_)
    assert np.array_equal(built.cv_results_["mean_test_criterion"],
                          stored.cv_results_["mean_test_criterion"])


def test_split_rows_with_repeated_rows(sparse_data):
    X, _ = sparse_data
    train, test = np.array([0, 0, 5, 3]), np.array([3, 7])
    X_train, X_test = split_rows(X, train, test)
    assert np.array_equal(X_train.toarray(), X.toarray()[train])
    assert np.array_equal(X_test.toarray(), X.toarray()[test])
