"""One kernel for every penalty: the unit forms, task layouts and datafits of
``inner/_cd.py`` agree with each other and with independent solvers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import MultiTaskLasso

from conftest import l1_logistic
from hyperlasso.inner import _cd, datafits
from hyperlasso.inner._design import as_design
from hyperlasso.inner.penalties import L1L2, GroupL2

RNG = np.random.default_rng(42)
N, P = 60, 25


def _run(X, datafit, penalty, units, W, S, fit_intercept=False):
    """The kernel on every unit to a violation of 1e-13 (a few thousand epochs at
    most on these sizes); returns W and the epochs."""
    ws = np.arange(units[1].shape[0] - 1)
    b = np.zeros(1 if W.ndim == 1 else W.shape[1])
    epochs = _cd.solve_subproblem(as_design(X), datafit, penalty, units, (W, S, b), ws,
                                  (fit_intercept, 1e-13, 20_000, False))
    assert epochs < 20_000
    return W, b


def _singletons(lipschitz):
    p = lipschitz.shape[0]
    return np.arange(p), np.arange(p + 1), np.ascontiguousarray(lipschitz)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_one_feature_groups_on_a_logistic_datafit_are_sparse_logistic_regression(sparse):
    """The group form with one-feature groups and the feature form give the same
    logistic-loss solution (the block prox of one coordinate is its coordinate
    prox), which is scikit-learn's liblinear L1 solution (C = 1 / (n lam), no
    intercept, tol 1e-12): agreement to 1e-7 (liblinear's own accuracy)."""
    X = RNG.standard_normal((N, P))
    y = np.where(X[:, :3].sum(axis=1) + 0.3 * RNG.standard_normal(N) > 0, 1.0, -1.0)
    if sparse:
        X = sp.csc_matrix(X * (RNG.random(X.shape) < 0.5))
    col_sq = np.asarray(X.power(2).sum(axis=0)).ravel() if sparse else (X**2).sum(axis=0)
    lipschitz = datafits.Logistic.get_lipschitz(col_sq, N)
    datafit = datafits.Logistic(y, lipschitz)
    lam = 0.05
    by_feature, _ = _run(X, datafit, L1L2(np.full(P, lam), 0.0), _singletons(lipschitz),
                         np.zeros(P), np.zeros(N))
    by_group, _ = _run(X, datafit, GroupL2(np.full(P, lam), 0.0), _singletons(lipschitz),
                       np.zeros(P), np.zeros(N))
    np.testing.assert_allclose(by_group, by_feature, rtol=0, atol=1e-11)
    reference = l1_logistic(C=1.0 / (N * lam), solver="liblinear", fit_intercept=False,
                            tol=1e-12, max_iter=100_000)
    reference.fit(X, y)
    assert np.count_nonzero(by_feature) > 2
    np.testing.assert_allclose(by_feature, reference.coef_.ravel(), rtol=0, atol=1e-7)


@pytest.mark.parametrize("T", [1, 3, 12], ids=["vector", "task-major", "sample-major"])
def test_multi_task_layouts_give_scikit_learns_multi_task_lasso(T):
    """One task as vectors, T = 3 in Fortran order and T = 12 in C order (the
    storages ``_design.TASK_MAJOR_BELOW`` picks) run the same source to
    scikit-learn's MultiTaskLasso (tol 1e-12): agreement to 1e-8."""
    X = RNG.standard_normal((N, P))
    Y = X[:, :4] @ RNG.standard_normal((4, T)) + 0.5 * RNG.standard_normal((N, T))
    alpha = 0.1
    lipschitz = (X**2).sum(axis=0) / N
    order = "F" if T < 8 else "C"
    if T == 1:
        W, S, y = np.zeros(P), -Y[:, 0].copy(), Y[:, 0].copy()
    else:
        W, S, y = np.zeros((P, T)), np.array(-Y, order=order), np.ascontiguousarray(Y)
    datafit = datafits.Quadratic(y, lipschitz)
    W, _ = _run(X, datafit, GroupL2(np.full(P, alpha), 0.0), _singletons(lipschitz), W, S)
    reference = MultiTaskLasso(alpha=alpha, fit_intercept=False, tol=1e-12,
                               max_iter=100_000).fit(X, Y)
    assert np.count_nonzero(np.any(np.atleast_2d(W.T).T != 0, axis=1)) >= 2
    np.testing.assert_allclose(W.reshape(P, T), reference.coef_.T, rtol=0, atol=1e-8)
