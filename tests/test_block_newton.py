"""Newton steps of the block solver on the active groups (inner/block_newton.py)."""

import numpy as np
import pytest
from sklearn.linear_model import MultiTaskLasso as SkMultiTaskLasso

from hyperlasso.inner import block_newton
from hyperlasso.inner.block_models import GroupLasso, MultiTaskLasso
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import solve


def _correlated(n=40, p=120, T=8, rho=0.95, seed=0):
    """Toeplitz-correlated columns (corr(x_i, x_j) = rho^|i-j|), 4 active rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    for j in range(1, p):  # AR(1) across columns
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    W = np.zeros((p, T))
    W[[10, 40, 70, 100]] = rng.standard_normal((4, T))
    return X, X @ W + 0.3 * rng.standard_normal((n, T))


def _problem(model, X, Y, factor):
    design = Design.of(X, model.fit_intercept)
    Y = model.check_target(Y, X.shape[0])
    amax = model.alpha_max(design, Y)
    return model.problem(np.array(factor * amax), design, Y)


def _objective(problem, W, b_int):
    R = problem.residual(W, b_int)
    return 0.5 * np.sum(R**2) / problem.n_samples + problem.penalty_value(W)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_newton_from_a_loose_solve_reaches_rounding_level(fit_intercept):
    X, Y = _correlated()
    problem = _problem(MultiTaskLasso(fit_intercept=fit_intercept), X, Y, 0.1)
    loose = solve(problem, tol=1e-5)
    W, b_int = loose.coef.copy(), problem.internal_intercept(loose.coef, loose.intercept)
    state = (W, problem.residual(W, b_int), b_int)
    before = _objective(problem, W, b_int)
    steps = block_newton.newton_on_active_groups(problem, state)
    assert 1 <= steps <= block_newton.MAX_STEPS
    assert _objective(problem, W, b_int) <= before
    # The state is consistent: R is the residual of (W, b).
    np.testing.assert_allclose(state[1], problem.residual(W, b_int), atol=1e-12)
    start = (W, problem.external_intercept(W, b_int))
    tight = solve(problem, tol=1e-14, warm_start=start)
    # From the Newton point the solver has nothing left to do but to certify it.
    assert tight.n_epochs == 0 and tight.gap < 1e-13


def test_solver_with_newton_matches_sklearn_on_correlated_design():
    X, Y = _correlated(seed=1)
    problem = _problem(MultiTaskLasso(fit_intercept=False), X, Y, 0.05)
    solution = solve(problem, tol=1e-12)
    alpha = float(problem.lam[0])
    reference = SkMultiTaskLasso(alpha=alpha, fit_intercept=False, tol=1e-14,
                                 max_iter=200_000).fit(X, Y).coef_.T
    # sklearn's tol is on the duality gap relative to ||Y||^2 / n: 1e-14 leaves
    # coefficients exact to ~1e-7 on this conditioning; ours is at rounding level.
    np.testing.assert_allclose(solution.coef, reference,
                               atol=1e-6 * np.abs(reference).max())
    assert solution.gap < 1e-12


def test_newton_leaves_an_optimal_state_unchanged():
    X, Y = _correlated(seed=2)
    problem = _problem(MultiTaskLasso(fit_intercept=False), X, Y, 0.2)
    solution = solve(problem, tol=1e-14)
    W = solution.coef.copy()
    b_int = np.zeros(W.shape[1])
    state = (W, problem.residual(W, b_int), b_int)
    assert block_newton.newton_on_active_groups(problem, state) == 0
    np.testing.assert_array_equal(W, solution.coef)


def test_newton_never_raises_the_objective_from_a_spurious_row():
    """From the solution plus a small spurious row, the objective never rises."""
    X, Y = _correlated(seed=3)
    problem = _problem(MultiTaskLasso(fit_intercept=False), X, Y, 0.1)
    solution = solve(problem, tol=1e-14)
    W = solution.coef.copy()
    zero_row = np.flatnonzero(np.linalg.norm(W, axis=1) == 0)[0]
    W[zero_row] = 1e-3
    b_int = np.zeros(W.shape[1])
    state = (W, problem.residual(W, b_int), b_int)
    before = _objective(problem, W, b_int)
    block_newton.newton_on_active_groups(problem, state)
    assert _objective(problem, W, b_int) <= before
    final = solve(problem, tol=1e-13, warm_start=(W, np.zeros(W.shape[1])))
    np.testing.assert_allclose(final.coef, solution.coef,
                               atol=1e-9 * np.abs(solution.coef).max())


def test_newton_on_a_group_lasso_with_one_task():
    X, Y = _correlated(T=1, seed=4)
    labels = np.repeat(np.arange(X.shape[1] // 4), 4)
    problem = _problem(GroupLasso(groups=labels, fit_intercept=True), X, Y[:, 0], 0.1)
    loose = solve(problem, tol=1e-5)
    W, b_int = loose.coef.copy(), problem.internal_intercept(loose.coef, loose.intercept)
    state = (W, problem.residual(W, b_int), b_int)
    before = _objective(problem, W, b_int)
    block_newton.newton_on_active_groups(problem, state)
    assert _objective(problem, W, b_int) <= before
    tight = solve(problem, tol=1e-13)
    np.testing.assert_allclose(
        solve(problem, tol=1e-13,
                    warm_start=(W, problem.external_intercept(W, b_int))).coef,
        tight.coef, atol=1e-9 * np.abs(tight.coef).max())


@pytest.mark.parametrize("model", [MultiTaskLasso(fit_intercept=True),
                                   GroupLasso(groups=np.repeat(np.arange(40), 3))])
def test_active_group_objective_equals_the_problems(model):
    """The Newton steps compare objectives computed from the active groups alone;
    they must be the problem's (every other group is zero), to rounding."""
    from hyperlasso.inner.block_system import ActiveGroupSystem
    X, Y = _correlated()
    Y = Y if isinstance(model, MultiTaskLasso) else Y[:, 0]
    problem = _problem(model, X, Y, 0.1)
    solution = solve(problem, tol=1e-6)
    system = ActiveGroupSystem.at(problem, solution.coef, solution.intercept)
    assert 0 < system.active.size < problem.groups.n_groups
    step = np.random.default_rng(0).standard_normal(system.size) * 1e-3
    for point in (system, system.at_point(*system.moved(step))):
        b_int = problem.internal_intercept(point.coef, point.intercept)
        expected = _objective(problem, point.coef, b_int)
        assert point.objective() == pytest.approx(expected, rel=1e-14)
        np.testing.assert_allclose(point.active_norms,
                                   problem.groups.norms(point.coef)[point.active],
                                   rtol=1e-14)
