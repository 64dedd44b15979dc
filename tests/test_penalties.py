"""Penalties as types: proxes, distances and derivatives against closed forms,
brute-force minimization and finite differences; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError
from scipy.optimize import minimize, minimize_scalar
from sklearn.linear_model import Lasso, MultiTaskLasso

from hyperlasso.inner import _cd, _penalty_calls, penalties
from hyperlasso.inner.box import Box
from hyperlasso.inner.groups import Groups
from hyperlasso.inner.penalties import L1L2, GroupL2

RNG = np.random.default_rng(0)


@njit
def _prox(penalty, u, step, j):
    return _penalty_calls.prox(penalty, u, step, j)


@njit
def _distance(penalty, w, g, j):
    return _penalty_calls.distance(penalty, w, g, j)


@njit
def _prox_derivatives(penalty, new, step, j):
    return _penalty_calls.prox_derivatives(penalty, new, step, j)


@njit
def _support_derivatives(penalty, w, j):
    return _penalty_calls.support_derivatives(penalty, w, j)


@njit
def _unit_prox(penalty, U, step, g):
    _penalty_calls.unit_prox(penalty, U, step, g)


L1 = L1L2(np.array([0.3, 1.2, 0.05]), 0.0)
ENET = L1L2(np.array([0.3, 1.2, 0.05]), 0.7)


def _scalar_objective(penalty, u, step, j):
    lam, l2 = penalty.lam[j], penalty.l2
    return lambda x: 0.5 * (x - u) ** 2 + step * (lam * abs(x) + 0.5 * l2 * x * x)


@pytest.mark.parametrize("penalty", [L1, ENET], ids=["l1", "enet"])
@pytest.mark.parametrize("u", [-2.0, -0.31, 0.0, 0.2, 1.7])
def test_coordinate_prox_minimizes_the_prox_objective(penalty, u):
    """Brent's method to xtol 1e-12 on a strongly convex scalar function: the
    minimizer is found to ~1e-8 (sqrt of machine precision bounds it in x)."""
    step = 0.8
    for j in range(3):
        found = minimize_scalar(_scalar_objective(penalty, u, step, j),
                                bracket=(-5, 5), tol=1e-12).x
        assert _prox(penalty, u, step, j) == pytest.approx(found, abs=1e-7)
        assert penalty.prox(np.full(3, u), step)[j] == _prox(penalty, u, step, j)


@pytest.mark.parametrize("penalty", [L1, ENET], ids=["l1", "enet"])
def test_distance_is_zero_at_a_lasso_solution_and_positive_elsewhere(penalty):
    """scikit-learn's solution at tol 1e-14: the distances are below 1e-9 (the
    gradient is O(1)); a moved coefficient gives a distance of its move's size."""
    X = RNG.standard_normal((40, 3))
    y = X @ np.array([1.0, -0.5, 0.0]) + 0.1 * RNG.standard_normal(40)
    n = X.shape[0]
    # sklearn's ElasticNet scales both terms by alpha; its Lasso with weights
    # lam_j is the unweighted problem on X_j / lam_j.
    Xs = X / penalty.lam
    model = Lasso(alpha=1.0, fit_intercept=False, tol=1e-14, max_iter=100_000)
    if penalty.l2 > 0:  # augment the design: l2/2 ||w||^2 = ||sqrt(n l2) D w||^2 / 2n
        Xs = np.vstack([Xs, np.sqrt(n * penalty.l2) * np.diag(1 / penalty.lam)])
        y_fit = np.concatenate([y, np.zeros(3)])
        model.set_params(alpha=n / (n + 3))
    else:
        y_fit = y
    w = model.fit(Xs, y_fit).coef_ / penalty.lam
    grad = X.T @ (X @ w - y) / n
    distances = [_distance(penalty, w[j], grad[j], j) for j in range(3)]
    assert np.max(distances) < 1e-9
    moved = w.copy()
    moved[0] += 0.01
    grad = X.T @ (X @ moved - y) / n
    assert _distance(penalty, moved[0], grad[0], 0) > 1e-3


@pytest.mark.parametrize("penalty", [L1, ENET], ids=["l1", "enet"])
@pytest.mark.parametrize("u", [-2.0, 0.9, 1.7])
def test_prox_derivatives_match_finite_differences(penalty, u):
    """Central differences of step 1e-6 away from the kinks (|u| - step lam_j >
    0.1 or < -0.1): the prox is piecewise rational there, error ~1e-10."""
    step, h = 0.8, 1e-6
    for j in range(3):
        if abs(abs(u) - step * penalty.lam[j]) < 0.1:
            continue
        new = _prox(penalty, u, step, j)
        d_u, d_lam, d_l2 = _prox_derivatives(penalty, new, step, j)
        fd_u = (_prox(penalty, u + h, step, j) - _prox(penalty, u - h, step, j)) / (2 * h)
        lam_p, lam_m = penalty.lam.copy(), penalty.lam.copy()
        lam_p[j] += h
        lam_m[j] -= h
        fd_lam = (_prox(L1L2(lam_p, penalty.l2), u, step, j)
                  - _prox(L1L2(lam_m, penalty.l2), u, step, j)) / (2 * h)
        fd_l2 = (_prox(L1L2(penalty.lam, penalty.l2 + h), u, step, j)
                 - _prox(L1L2(penalty.lam, penalty.l2 - h), u, step, j)) / (2 * h)
        np.testing.assert_allclose([d_u, d_lam, d_l2], [fd_u, fd_lam, fd_l2],
                                   atol=1e-8)


def test_support_terms_are_the_derivatives_of_the_support_gradient():
    """The support gradient lam_S sign(w_S) + l2 w_S is linear in (w_S, lam, l2):
    central differences are exact up to rounding (1e-9 with step 1e-6)."""
    w_S, support, h = np.array([0.4, -1.3]), np.array([0, 2]), 1e-6
    for j, w in zip(support, w_S, strict=True):
        curvature, d_lam, d_l2 = _support_derivatives(ENET, w, j)
        assert curvature == pytest.approx(ENET.support_curvature(w_S), abs=1e-15)
        grad = lambda w_, lam, l2, j=j: L1L2(lam, l2).support_gradient(  # noqa: E731
            np.array([w_]), np.array([j]))[0]
        lam_p, lam_m = ENET.lam.copy(), ENET.lam.copy()
        lam_p[j] += h
        lam_m[j] -= h
        np.testing.assert_allclose(
            [curvature, d_lam, d_l2],
            [(grad(w + h, ENET.lam, ENET.l2) - grad(w - h, ENET.lam, ENET.l2)) / (2 * h),
             (grad(w, lam_p, ENET.l2) - grad(w, lam_m, ENET.l2)) / (2 * h),
             (grad(w, ENET.lam, ENET.l2 + h) - grad(w, ENET.lam, ENET.l2 - h)) / (2 * h)],
            atol=1e-9)
    v = np.array([2.0, -1.0])
    g_lam, g_l2 = ENET.pullback(w_S, support, v)
    np.testing.assert_array_equal(g_lam, [-2.0, 0.0, -1.0])
    assert g_l2 == pytest.approx(-(0.4 * 2.0 + 1.3 * 1.0), rel=1e-15)


GROUPS = Groups.of([[0, 1], [2], [3, 4, 5]], 6)
GROUP_PENALTY = GroupL2(np.array([0.4, 0.1, 0.9]), 0.3)


def test_group_prox_minimizes_the_prox_objective():
    """BFGS to gtol 1e-12 on the (smooth where the block is non-zero) prox
    objective of each group: the minimizer agrees to 1e-6."""
    U = RNG.standard_normal((6, 2))
    step = 0.7
    for g in range(GROUPS.n_groups):
        members = GROUPS.members(g)
        block = U[members]
        lam, l2 = GROUP_PENALTY.lam[g], GROUP_PENALTY.l2

        def objective(x, block=block, lam=lam, l2=l2):
            x = x.reshape(block.shape)
            return (0.5 * np.sum((x - block) ** 2)
                    + step * (lam * np.linalg.norm(x) + 0.5 * l2 * np.sum(x**2)))

        found = minimize(objective, block.ravel(), method="BFGS",
                         options={"gtol": 1e-12}).x.reshape(block.shape)
        prox = block.copy()  # the prox is taken in place
        _unit_prox(GROUP_PENALTY, prox, step, g)
        np.testing.assert_allclose(prox, found, atol=1e-6)
        step_obj = GROUP_PENALTY.prox_step(block, step, g)
        np.testing.assert_allclose(step_obj.new, prox, rtol=1e-15)


def test_group_prox_derivatives_match_finite_differences():
    """Central differences of step 1e-6 on a block well outside the threshold
    (||U|| = 3 > step lam = 0.63): smooth there, error ~1e-10."""
    U = np.array([[1.0, -2.0], [0.5, 2.0]])
    step, g, h = 0.7, 2, 1e-6
    lam, l2 = GROUP_PENALTY.lam, GROUP_PENALTY.l2
    prox = lambda U_, lam_, l2_: GroupL2(lam_, l2_).prox_step(U_, step, g).new  # noqa: E731
    ps = GROUP_PENALTY.prox_step(U, step, g)
    V = RNG.standard_normal(U.shape)
    fd = (prox(U + h * V, lam, l2) - prox(U - h * V, lam, l2)) / (2 * h)
    np.testing.assert_allclose(ps.jacobian_apply(V), fd, atol=1e-8)
    lam_p, lam_m = lam.copy(), lam.copy()
    lam_p[g] += h
    lam_m[g] -= h
    np.testing.assert_allclose(ps.d_lam(), (prox(U, lam_p, l2) - prox(U, lam_m, l2))
                               / (2 * h), atol=1e-8)
    np.testing.assert_allclose(ps.d_l2(), (prox(U, lam, l2 + h) - prox(U, lam, l2 - h))
                               / (2 * h), atol=1e-8)


def test_group_curvature_is_the_derivative_of_the_group_gradient():
    """lam_g W_g / ||W_g|| differentiated along V by central differences (step
    1e-6, W_g of norm ~1): agreement to 1e-8."""
    W = np.array([[0.3, -0.8], [0.6, 0.1]])
    lam_g, V, h = 0.9, RNG.standard_normal((2, 2)), 1e-6
    grad = lambda W_: lam_g * W_ / np.linalg.norm(W_)  # noqa: E731
    norm = np.linalg.norm(W)
    U = W / norm
    along = np.full(2, np.sum(U * V))
    curvature = GroupL2(np.array([lam_g]), 0.0).support_curvature(
        U, np.full(2, lam_g / norm), along, V)
    np.testing.assert_allclose(curvature, (grad(W + h * V) - grad(W - h * V)) / (2 * h),
                               atol=1e-8)


def test_group_distances_vanish_at_a_multitask_lasso_solution():
    """scikit-learn's MultiTaskLasso at tol 1e-14 (rows as groups): every
    distance below 1e-9; the penalty value is sum_j alpha ||W_j||."""
    X = RNG.standard_normal((30, 5))
    Y = X @ RNG.standard_normal((5, 3)) + 0.1 * RNG.standard_normal((30, 3))
    alpha = 0.3
    est = MultiTaskLasso(alpha=alpha, fit_intercept=False, tol=1e-14,
                         max_iter=100_000).fit(X, Y)
    W = est.coef_.T
    rows = Groups.singletons(5)
    penalty = GroupL2(np.full(5, alpha), 0.0)
    grad = X.T @ (X @ W - Y) / 30
    assert np.max(penalty.distances(W, grad, rows)) < 1e-9
    assert penalty.value(W, rows) == pytest.approx(
        alpha * np.sum(np.linalg.norm(W, axis=1)), rel=1e-14)


def test_an_unregistered_penalty_fails_to_compile_with_a_clear_error():
    """A plain tuple (lam, l2) is not a penalty type: the kernel refuses it."""
    with pytest.raises(TypingError, match="not a registered penalty"):
        _cd.violations(np.zeros(3), np.zeros(3), (np.ones(3), 0.0),
                       (np.arange(3), np.arange(4), np.ones(3)))


def test_check_penalty_names_the_registered_penalties():
    assert penalties.check_penalty("l1_l2") is L1L2
    assert penalties.check_penalty(GroupL2) is GroupL2
    assert penalties.check_penalty("box") is Box
    with pytest.raises(ValueError, match=r"penalty must be one of the penalties "
                                         r"\['box', 'class_l1', 'group_l2', 'l1_l2'\]"):
        penalties.check_penalty("l0")
    with pytest.raises(ValueError,
                       match=r"separable penalties \['box', 'l1_l2'\] .*, got 'group_l2'"):
        penalties.check_penalty("group_l2", separable=True)


def test_the_inner_problem_takes_only_separable_penalties():
    from hyperlasso.inner.problem import Design, InnerProblem

    X, y = RNG.standard_normal((5, 2)), RNG.standard_normal(5)
    problem = InnerProblem(Design.of(X, True), y, "quadratic", np.ones(2), 0.5)
    assert type(problem.kernel_penalty) is L1L2
    np.testing.assert_array_equal(problem.kernel_penalty.lam, [1.0, 1.0])
    assert problem.kernel_penalty.l2 == 0.5
    with pytest.raises(ValueError, match="separable penalties"):
        InnerProblem(Design.of(X, True), y, "quadratic", np.ones(2),
                     penalty_type=GroupL2)
