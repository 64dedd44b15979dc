"""Histories of many hyperparameters kept compact (outer/rows.py)."""

import numpy as np
import pytest

import hyperlasso as hl
from hyperlasso.datasets import make_correlated_regression
from hyperlasso.outer import rows
from hyperlasso.outer.rows import CompactRows


def test_compact_rows_give_back_every_row():
    rng = np.random.default_rng(0)
    base = np.full(1000, -2.5)
    moved = base.copy()
    moved[rng.choice(1000, 7, replace=False)] = rng.standard_normal(7)
    sparse_grad = np.zeros(1000)
    sparse_grad[[3, 500]] = [1.5, -2.0]
    dense = rng.standard_normal(1000)
    examples = [base, moved, sparse_grad, np.full(1000, np.nan), dense,
                np.full(1000, 3.0)]
    store = CompactRows(examples)
    assert store.shape == (6, 1000)
    for got, want in zip(store, examples, strict=True):
        np.testing.assert_array_equal(got, want)  # NaN equal to NaN
    np.testing.assert_array_equal(np.asarray(store), np.array(examples))
    # one value almost everywhere: only the exceptions are stored
    assert CompactRows(examples[:4] + examples[5:]).nbytes <= 9 * 16
    assert len(store[1:3]) == 2
    np.testing.assert_array_equal(store[1:3][0], moved)


def test_compact_rows_keep_the_shape_and_refuse_another():
    store = CompactRows([np.arange(6.0).reshape(2, 3)])
    assert store[0].shape == (2, 3)
    with pytest.raises(ValueError, match="shape"):
        store.append(np.zeros(6))


def test_weighted_history_compact_gives_the_same_fit(monkeypatch):
    X, y, _ = make_correlated_regression(80, 40, n_nonzero=5, random_state=0)
    dense = hl.WeightedLassoCV(cv=3, max_iter=8).fit(X, y)
    monkeypatch.setattr(rows, "COMPACT_FROM", 1)
    compact = hl.WeightedLassoCV(cv=3, max_iter=8).fit(X, y)
    assert isinstance(compact.history_["alpha"], CompactRows)
    np.testing.assert_array_equal(compact.alpha_, dense.alpha_)
    np.testing.assert_array_equal(compact.coef_, dense.coef_)
    assert compact.history_["value"] == dense.history_["value"]
    for key in ("alpha", "gradient"):
        np.testing.assert_array_equal(np.asarray(compact.history_[key]),
                                      np.array(dense.history_[key]))
    assert len(compact.cv_results_["param_alpha"]) == len(dense.history_["value"])
