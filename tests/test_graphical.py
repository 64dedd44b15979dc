"""The weighted graphical lasso: solver, hypergradients (scalar and matrix), inputs."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.covariance import graphical_lasso

import hyperlasso as hl
from hyperlasso.datasets import make_random_graph_precision
from hyperlasso.hypergradients.graphical import forward_directional

#: Central differences (step 1e-4 in log alpha) of values computed at an
#: optimality violation of 1e-13 (then polished): ~1e-8 relative, below the bar.
FD_RTOL = 1e-6


def _samples(p=20, n=60, seed=0):
    rng = np.random.default_rng(seed)
    precision = (2 * np.eye(p) + np.diag(np.full(p - 1, 0.6), 1)
                 + np.diag(np.full(p - 1, 0.6), -1))
    covariance = np.linalg.inv(precision)
    return (rng.multivariate_normal(np.zeros(p), covariance, size=n),
            rng.multivariate_normal(np.zeros(p), covariance, size=n))


def _value(model, criterion, alpha, X):
    return hl.hypergradient(model, criterion, alpha, X, tol=1e-13).value


def test_solution_matches_scikit_learn():
    X, _ = _samples()
    S = np.cov(X, rowvar=False, bias=True)
    for alpha in (0.05, 0.2):
        _, reference = graphical_lasso(S, alpha, tol=1e-12, enet_tol=1e-12, max_iter=1000)
        ours = hl.hypergradient("graphical_lasso", hl.HeldOutGaussianNLL(X), alpha, X,
                                tol=1e-12).solution.precision
        assert np.max(np.abs(ours - reference)) / np.max(np.abs(reference)) < 1e-6


@pytest.mark.parametrize("method", ["polish", "implicit"])
def test_scalar_gradient_matches_finite_differences(method):
    X, X_val = _samples()
    criterion = hl.HeldOutGaussianNLL(X_val)
    alpha, h = 0.1, 1e-4
    result = hl.hypergradient("graphical_lasso", criterion, alpha, X, method=method,
                              tol=1e-12)
    values = [_value("graphical_lasso", criterion, alpha * np.exp(s * h), X)
              for s in (1, -1)]
    fd = (values[0] - values[1]) / (2 * h * alpha)
    assert abs(result.gradient - fd) < FD_RTOL * abs(fd)
    assert isinstance(result.gradient, float)


def test_matrix_gradient_matches_finite_differences_and_forward():
    X, X_val = _samples()
    criterion = hl.HeldOutGaussianNLL(X_val)
    model = hl.GraphicalLasso(penalty="matrix")
    rng = np.random.default_rng(1)
    A = 0.1 * np.exp(0.2 * rng.standard_normal((20, 20)))
    A = (A + A.T) / 2
    result = hl.hypergradient(model, criterion, A, X, tol=1e-12)
    G, support, h = result.gradient, result.solution.support, 1e-4
    on_support = [(i, j) for i, j in zip(*np.nonzero(support), strict=True) if i < j][:4]
    off_support = [(i, j) for i, j in zip(*np.nonzero(~support), strict=True) if i < j][:2]
    assert len(on_support) == 4 and len(off_support) == 2
    for i, j in on_support + off_support:
        plus, minus = A.copy(), A.copy()
        plus[i, j] = plus[j, i] = A[i, j] * np.exp(h)
        minus[i, j] = minus[j, i] = A[i, j] * np.exp(-h)
        fd = (_value(model, criterion, plus, X) - _value(model, criterion, minus, X)) / (
            2 * h * A[i, j])
        # Values are exact to ~1e-13, so the differences carry an absolute error of
        # ~1e-13 / (2 h alpha_ij) = 5e-9 on top of the relative bar.
        assert abs(G[i, j] + G[j, i] - fd) <= FD_RTOL * abs(fd) + 1e-8
    # Implicit agrees with forward differentiation of proximal gradient.
    direction = rng.standard_normal((20, 20))
    direction = (direction + direction.T) * (1 - np.eye(20))
    d_theta = forward_directional(result.solution, direction)
    grad_theta = criterion.value_and_grad(result.solution.precision)[1]
    assert np.sum(grad_theta * d_theta) == pytest.approx(np.sum(G * direction), rel=1e-8)


def test_no_p2_by_p2_array_at_p_300():
    """One hypergradient at p = 300 allocates far less than a p^2 x p^2 matrix
    (8.1 GB): the peak stays under 100 MB (a few p x p matrices of 0.7 MB)."""
    X, X_val = _samples(p=300, n=400, seed=2)
    criterion = hl.HeldOutGaussianNLL(X_val)
    tracemalloc.start()
    result = hl.hypergradient("graphical_lasso", criterion, 0.3, X, tol=1e-8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.isfinite(result.gradient)
    assert peak < 100e6


def test_bad_input():
    X, X_val = _samples()
    criterion = hl.HeldOutGaussianNLL(X_val)
    with pytest.raises(ValueError, match="needs at least 2 samples"):
        hl.hypergradient("graphical_lasso", criterion, 0.1, X[:1])
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        hl.hypergradient("graphical_lasso", criterion, 0.1, np.where(X > 2, np.nan, X))
    model = hl.GraphicalLasso(penalty="matrix")
    with pytest.raises(ValueError, match=r"alpha must be a \(20, 20\) penalty matrix"):
        hl.hypergradient(model, criterion, np.ones((3, 3)), X)
    asymmetric = np.triu(np.full((20, 20), 0.1))
    with pytest.raises(ValueError, match="alpha must be a symmetric matrix"):
        hl.hypergradient(model, criterion, asymmetric, X)
    with pytest.raises(ValueError, match="alpha must be finite and non-negative"):
        hl.hypergradient(model, criterion, -np.ones((20, 20)), X)
    with pytest.raises(ValueError, match="alpha must be a positive finite number"):
        hl.hypergradient("graphical_lasso", criterion, 0.0, X)
    with pytest.raises(ValueError, match="pass y=None"):
        hl.hypergradient("graphical_lasso", criterion, 0.1, X, np.ones(60))
    from hyperlasso.inner.graphical import check_covariance
    with pytest.raises(ValueError, match="must be symmetric"):
        check_covariance(np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match="positive semi-definite"):
        check_covariance(np.diag([1.0, -1.0]))


def test_unsolved_inner_problem_warns_or_refuses_never_silent():
    from hyperlasso.inner.graphical import solve_graphical

    X, X_val = _samples(p=30, n=20)  # p > n: S is singular
    S = np.cov(X, rowvar=False, bias=True)
    with pytest.warns(hl.InnerConvergenceWarning, match="optimality violation") as record:
        solution = solve_graphical(S, 0.05 * (1 - np.eye(30)), tol=1e-14, max_iter=1)
    assert record[0].message.kkt == pytest.approx(solution.kkt)
    assert not solution.converged
    # So small a penalty that the sweeps lose positive definiteness: the start
    # point comes back with a warning carrying its violation, never a crash.
    with pytest.warns(hl.InnerConvergenceWarning, match="positive definiteness") as record:
        result = hl.hypergradient("graphical_lasso", hl.HeldOutGaussianNLL(X_val), 1e-4,
                                  X)
    assert not result.solution.converged
    assert record[0].message.kkt == pytest.approx(result.solution.kkt)
    assert result.solution.kkt > 1e-3
    assert np.isfinite(result.value) and np.all(np.isfinite(result.gradient))


def test_graphical_lasso_cv_scalar_matches_a_fine_grid():
    """Scalar HO reaches the best mean held-out NLL of a 50-value grid (same folds)
    to 0.5 %, and its refit equals the inner solution at alpha_."""
    from sklearn.model_selection import KFold

    from hyperlasso.criteria.gaussian import GraphicalObjective

    X, _ = _samples(p=20, n=80)
    estimator = hl.GraphicalLassoCV().fit(X)
    objective = GraphicalObjective(hl.GraphicalLasso(), X, list(KFold(5).split(X)), 1e-8)
    amax = hl.GraphicalLasso().alpha_max(np.cov(X, rowvar=False, bias=True))
    grid = [objective.value(a).value for a in np.geomspace(amax, 1e-2 * amax, 50)]
    assert estimator.best_score_ <= min(grid) + 0.005 * abs(min(grid))
    assert estimator.precision_.shape == (20, 20)
    np.testing.assert_allclose(estimator.covariance_ @ estimator.precision_, np.eye(20),
                               atol=1e-8)
    history = estimator.history_
    assert len(history["value"]) == len(history["alpha"]) == len(history["time"])


def test_graphical_lasso_cv_matrix_penalty_runs_with_monitor():
    X, _ = _samples(p=10, n=60)
    estimator = hl.GraphicalLassoCV(penalty="matrix", max_iter=5).fit(X)
    alpha = estimator.alpha_
    assert alpha.shape == (10, 10) and np.allclose(alpha, alpha.T)
    stages = np.array(estimator.history_["stage"])
    assert stages[0] == "scalar" and stages[-1] == "matrix"
    monitor = np.array(estimator.history_["monitor"])[stages == "matrix"]
    assert np.all(np.isfinite(monitor))


def test_matrix_stage_is_a_monitored_path_of_small_steps():
    from hyperlasso.estimators.graphical import MATRIX_PATIENCE, MATRIX_STEP

    X, _ = _samples(p=12, n=80, seed=3)
    estimator = hl.GraphicalLassoCV(penalty="matrix", max_iter=30,
                                    monitor_fraction=0.25).fit(X)
    history = estimator.history_
    matrix = np.array(history["stage"]) == "matrix"
    log_alphas = np.log([a for a, m in zip(history["alpha"], matrix, strict=True) if m])
    steps = np.max(np.abs(np.diff(log_alphas, axis=0)), axis=(1, 2))
    assert np.all(steps <= MATRIX_STEP + 1e-12)  # each step at most 0.1 in log
    monitor = np.array(history["monitor"])[matrix]
    best = int(np.argmin(monitor))
    # Kept: the lowest monitor NLL; stopped: PATIENCE steps after it (or max_iter).
    np.testing.assert_allclose(np.log(estimator.cv_alpha_), log_alphas[best])
    # Refit on all 80 samples: the monitor's training rows (60 of them; the path's
    # folds train on 48) set the scale, once the path moved.
    assert best > 0
    assert estimator.n_fit_ == 60
    np.testing.assert_allclose(estimator.alpha_, estimator.cv_alpha_ * np.sqrt(60 / 80))
    assert len(monitor) in (best + 1 + MATRIX_PATIENCE, 30)
    # The scalar stage used every sample: it equals the scalar estimator's.
    scalar = hl.GraphicalLassoCV(monitor_fraction=0.25).fit(X)
    scalar_values = np.array(history["value"])[~matrix]
    np.testing.assert_allclose(scalar_values, scalar.history_["value"])


def test_matrix_stage_without_monitor_keeps_the_lowest_criterion():
    X, _ = _samples(p=8, n=60, seed=4)
    estimator = hl.GraphicalLassoCV(penalty="matrix", max_iter=6,
                                    monitor_fraction=None).fit(X)
    history = estimator.history_
    matrix = np.array(history["stage"]) == "matrix"
    assert np.sum(matrix) == 6 and np.all(np.isnan(np.array(history["monitor"])[matrix]))
    assert estimator.best_score_ == pytest.approx(min(np.array(history["value"])[matrix]))


def test_scalar_ho_at_p_100_is_within_half_a_percent_of_the_grid_test_nll():
    """The issue's p = 100 check, read strictly: the test NLL of the tuned
    estimator against the best test NLL of the refit at any of 50 grid penalties
    (an oracle that looks at the test set), and against the refit at the penalty a
    50-value grid search selects on the same 5-fold criterion."""
    from sklearn.model_selection import KFold

    from hyperlasso.criteria.gaussian import GraphicalObjective
    from hyperlasso.inner.graphical import empirical_covariance, solve_graphical

    rng = np.random.default_rng(7)
    p = 100
    precision = make_random_graph_precision(p, random_state=rng)
    samples = rng.multivariate_normal(np.zeros(p), np.linalg.inv(precision), size=2200)
    X, X_test = samples[:200], samples[200:]
    test = hl.HeldOutGaussianNLL(X_test)
    tuned = test.value(hl.GraphicalLassoCV().fit(X).precision_)
    S = empirical_covariance(X)
    amax = hl.GraphicalLasso().alpha_max(S)
    grid = np.geomspace(amax, 1e-2 * amax, 50)

    def refit(alpha):
        return test.value(solve_graphical(S, alpha * (1 - np.eye(p))).precision)

    best_on_test = min(refit(a) for a in grid)
    assert tuned <= best_on_test + 0.005 * abs(best_on_test)
    objective = GraphicalObjective(hl.GraphicalLasso(), X, list(KFold(5).split(X)), 1e-8)
    chosen = grid[int(np.argmin([objective.value(a).value for a in grid]))]
    assert tuned <= refit(chosen) + 0.005 * abs(refit(chosen))


def _two_by_two_closed_form(S, S_val, Lam, penalize_diagonal):
    """p = 2: the optimality conditions W - S = Lam * sign(Theta) on the support
    (W = inv(Theta), Theta_ii > 0, sign(Theta_12) = -sign(W_12)) give W in closed
    form; C = logdet W + tr(S_val inv(W)) and dC/dW = inv(W) - inv(W) S_val inv(W).
    Returns Theta and dC/dLam (2, 2), assuming |S_12| > Lam_12."""
    sign = np.sign(S[0, 1])
    W = S.copy()
    W[0, 1] = W[1, 0] = sign * (abs(S[0, 1]) - Lam[0, 1])
    if penalize_diagonal:
        W[np.diag_indices(2)] += np.diag(Lam)
    W_inv = np.linalg.inv(W)
    dC_dW = W_inv - W_inv @ S_val @ W_inv
    # dW/dLam_12 = dW/dLam_21 = -sign (each entry carries its own), dW_ii/dLam_ii = 1.
    gradient = np.array([[dC_dW[0, 0], -sign * dC_dW[0, 1]],
                         [-sign * dC_dW[1, 0], dC_dW[1, 1]]])
    if not penalize_diagonal:
        gradient[np.diag_indices(2)] = 0.0
    return W_inv, gradient


@pytest.mark.parametrize("penalize_diagonal", [False, True])
def test_p_2_matches_the_closed_form(penalize_diagonal):
    """Third witness, independent of every solver: at p = 2 the solution and the
    hypergradient have a closed form. Both must agree to 1e-10 (inner tolerance
    1e-13, then polished: the only error left is rounding in a 2 x 2 inverse)."""
    rng = np.random.default_rng(5)
    covariance = np.array([[1.0, 0.6], [0.6, 2.0]])
    X = rng.multivariate_normal(np.zeros(2), covariance, size=40)
    X_val = rng.multivariate_normal(np.zeros(2), covariance, size=40)
    criterion = hl.HeldOutGaussianNLL(X_val)
    S = np.cov(X, rowvar=False, bias=True)
    alpha = 0.3 * abs(S[0, 1])
    scalar = hl.GraphicalLasso("scalar", penalize_diagonal)
    result = hl.hypergradient(scalar, criterion, alpha, X, tol=1e-13)
    precision, gradient = _two_by_two_closed_form(
        S, criterion.covariance, scalar.penalty_matrix(np.asarray(alpha), 2),
        penalize_diagonal)
    np.testing.assert_allclose(result.solution.precision, precision, rtol=1e-10)
    assert result.gradient == pytest.approx(np.sum(gradient), rel=1e-10)

    matrix = hl.GraphicalLasso("matrix", penalize_diagonal)
    Lam = np.array([[0.05, 0.4 * abs(S[0, 1])], [0.4 * abs(S[0, 1]), 0.2]])
    result = hl.hypergradient(matrix, criterion, Lam, X, tol=1e-13)
    precision, gradient = _two_by_two_closed_form(
        S, criterion.covariance, matrix.penalty_matrix(Lam, 2), penalize_diagonal)
    np.testing.assert_allclose(result.solution.precision, precision, rtol=1e-10)
    np.testing.assert_allclose(result.gradient, gradient, rtol=1e-10, atol=1e-14)


def test_p_2_above_alpha_max_has_a_zero_gradient_with_an_unpenalized_diagonal():
    """|S_12| <= alpha: Theta = diag(1 / S_ii), locally constant in alpha."""
    rng = np.random.default_rng(6)
    X = rng.multivariate_normal(np.zeros(2), [[1.0, 0.5], [0.5, 1.0]], size=40)
    S = np.cov(X, rowvar=False, bias=True)
    result = hl.hypergradient("graphical_lasso", hl.HeldOutGaussianNLL(X[::-1] ** 2),
                              2 * abs(S[0, 1]), X, tol=1e-13)
    np.testing.assert_allclose(result.solution.precision, np.diag(1 / np.diag(S)),
                               rtol=1e-12)
    assert result.gradient == 0.0


def test_held_out_covariance_is_unbiased_by_default():
    _, X_val = _samples(p=5, n=12)
    np.testing.assert_allclose(hl.HeldOutGaussianNLL(X_val).covariance,
                               np.cov(X_val, rowvar=False), rtol=1e-14)
    np.testing.assert_allclose(hl.HeldOutGaussianNLL(X_val, ddof=0).covariance,
                               np.cov(X_val, rowvar=False, bias=True), rtol=1e-14)
    with pytest.raises(ValueError, match="ddof must be 0 or 1"):
        hl.HeldOutGaussianNLL(X_val, ddof=2)


def test_refit_penalty_is_rescaled_to_the_number_of_samples():
    """5 folds of 80 samples train on 64: alpha_ = cv_alpha_ * sqrt(64 / 80), and
    precision_ is the solution at alpha_; refit_alpha="cv" keeps cv_alpha_."""
    from hyperlasso.inner.graphical import empirical_covariance, solve_graphical

    X, _ = _samples(p=12, n=80, seed=8)
    rescaled = hl.GraphicalLassoCV().fit(X)
    assert rescaled.n_fit_ == 64
    assert rescaled.alpha_ == pytest.approx(rescaled.cv_alpha_ * np.sqrt(0.8), rel=1e-14)
    expected = solve_graphical(empirical_covariance(X), rescaled.alpha_ * (1 - np.eye(12)),
                               tol=1e-10).precision
    np.testing.assert_allclose(rescaled.precision_, expected, rtol=1e-6, atol=1e-9)
    plain = hl.GraphicalLassoCV(refit_alpha="cv").fit(X)
    assert plain.alpha_ == plain.cv_alpha_ == rescaled.cv_alpha_
    assert plain.best_score_ == rescaled.best_score_


def test_scikit_learn_criterion_is_reproduced_and_better_optimized():
    """With validation_ddof=0 the criterion is scikit-learn's GraphicalLassoCV's:
    its fold scores are minus half our fold NLL minus p log(2 pi) / 2 (to 1e-3: its
    folds are solved to tol 1e-4), and our cross-validated penalty scores at least
    as well on that criterion as scikit-learn's grid-refined one."""
    from sklearn.covariance import GraphicalLassoCV as SklearnGraphicalLassoCV
    from sklearn.model_selection import KFold

    from hyperlasso.criteria.gaussian import GraphicalObjective

    X, _ = _samples(p=15, n=90, seed=9)
    theirs = SklearnGraphicalLassoCV(cv=5).fit(X)
    ours = hl.GraphicalLassoCV(validation_ddof=0, refit_alpha="cv").fit(X)
    objective = GraphicalObjective(hl.GraphicalLasso(), X, list(KFold(5).split(X)), 1e-10,
                                   ddof=0)
    constant = 15 * np.log(2 * np.pi)
    alphas = theirs.cv_results_["alphas"]
    for alpha, score in zip(alphas, theirs.cv_results_["mean_test_score"], strict=True):
        if alpha > 0:
            assert objective.value(alpha).value == pytest.approx(-2 * score - constant,
                                                                 rel=1e-3)
    assert ours.best_score_ <= objective.value(theirs.alpha_).value + 1e-9


def test_support_system_direct_refined_and_conjugate_gradient_agree(monkeypatch):
    """The factorized system on the entries i <= j solves P_E(Sigma W Sigma) = P_E(R)
    (checked by the product itself, to 1e-12), a solve for a nearby Sigma refined
    from the old factorization equals a fresh one, and CG (forced) agrees."""
    import warnings

    import hyperlasso.hypergradients.graphical as graphical
    from hyperlasso.hypergradients import linear
    from hyperlasso.inner.graphical import empirical_covariance, solve_graphical

    X, X_val = _samples(p=25, n=70, seed=10)
    solution = solve_graphical(empirical_covariance(X), 0.08 * (1 - np.eye(25)), tol=1e-12)
    Sigma, mask = solution.covariance, solution.support
    assert 25 < mask.sum() < 25 * 25  # a real support, diagonal and some edges
    R = hl.HeldOutGaussianNLL(X_val).value_and_grad(solution.precision)[1]
    system = graphical.SupportSystem(Sigma, mask)
    assert system.factor is not None
    W = system.solve(R)
    np.testing.assert_array_equal(W, W.T)
    assert np.all(W[~mask] == 0)
    scale = np.max(np.abs(R[mask]))
    assert np.max(np.abs((Sigma @ W @ Sigma - R)[mask])) < 1e-12 * scale

    rng = np.random.default_rng(0)
    noise = 1e-7 * rng.standard_normal((25, 25))
    nearby = Sigma + (noise + noise.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refined = system.solve(R, nearby)
    fresh = graphical.SupportSystem(nearby, mask).solve(R)
    np.testing.assert_allclose(refined, fresh, rtol=1e-11, atol=1e-13 * np.abs(fresh).max())
    assert np.max(np.abs(refined - W)) > 1e-9 * np.abs(W).max()  # Sigma did change W

    # Only the symmetric part of the right-hand side counts, as in the full system.
    skew = rng.standard_normal((25, 25))
    np.testing.assert_allclose(system.solve(R + skew - skew.T), W, rtol=1e-12,
                               atol=1e-12 * np.abs(W).max())

    by_cg = graphical.SupportSystem(Sigma, mask, linear_solver="cg")
    assert by_cg.factor is None
    np.testing.assert_allclose(by_cg.solve(R), W, rtol=1e-9, atol=1e-11 * np.abs(W).max())
    # the system's matvec is its dense matrix (what CG and Cholesky each use)
    u = rng.standard_normal(system.size)
    np.testing.assert_allclose(system.matvec(u), system.dense() @ u, rtol=1e-12,
                               atol=1e-12 * np.abs(system.dense() @ u).max())

    monkeypatch.setattr(linear, "MAX_DIRECT_SIZE", 0)  # "auto" above the limit: CG
    assert graphical.SupportSystem(Sigma, mask).factor is None


def test_warm_start_far_from_the_solution_falls_back_to_a_cold_start():
    """An outer step from 0.8 alpha_max to 0.01 alpha_max: sweeps warm-started at the
    old solution lose positive definiteness (seen on this problem), so the solver
    starts again cold and converges, silently, to the cold solution."""
    import warnings

    from hyperlasso.inner.graphical import _sweeps, empirical_covariance, solve_graphical

    rng = np.random.default_rng(14)
    precision = make_random_graph_precision(10, 3.0, (0.2, 0.5), 0.3, rng)
    X = rng.multivariate_normal(np.zeros(10), np.linalg.inv(precision), size=80)
    S, mask = empirical_covariance(X), 1 - np.eye(10)
    amax = hl.GraphicalLasso().alpha_max(S)
    warm = solve_graphical(S, 0.8 * amax * mask).precision
    assert _sweeps(S, 0.01 * amax * mask, 1e-10, 1000, warm)[3]  # definiteness lost
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solution = solve_graphical(S, 0.01 * amax * mask, tol=1e-10, warm_start=warm)
    cold = solve_graphical(S, 0.01 * amax * mask, tol=1e-10)
    assert solution.converged
    np.testing.assert_allclose(solution.precision, cold.precision, rtol=1e-7,
                               atol=1e-9 * np.abs(cold.precision).max())


def test_random_graph_precision_generator():
    """Symmetric, smallest eigenvalue at least the shift (the largest |eigenvalue|
    of the off-diagonal part is added), about ``degree`` edges per node, weights
    in range, reproducible; a Generator is advanced in place; bad input refused."""
    precision = make_random_graph_precision(200, degree=2.0, weights=(0.3, 0.6),
                                            shift=0.5, random_state=3)
    np.testing.assert_array_equal(precision, precision.T)
    assert np.linalg.eigvalsh(precision)[0] >= 0.5 - 1e-10
    off = precision[np.triu_indices(200, 1)]
    edges = off[off != 0]
    assert 150 <= edges.size <= 250  # 2 * 200 / 2 = 200 expected
    assert np.all((np.abs(edges) >= 0.3) & (np.abs(edges) <= 0.6))
    again = make_random_graph_precision(200, random_state=3)
    np.testing.assert_array_equal(precision, again)
    rng = np.random.default_rng(0)
    first = make_random_graph_precision(10, random_state=rng)
    assert not np.array_equal(first, make_random_graph_precision(10, random_state=rng))
    with pytest.raises(ValueError, match="shift must be a positive"):
        make_random_graph_precision(10, shift=0.0)
    with pytest.raises(ValueError, match="weights must be"):
        make_random_graph_precision(10, weights=(0.6, 0.3))


def test_support_system_diagonal_is_the_dense_diagonal():
    """The Jacobi preconditioner of CG reads G's diagonal without forming G."""
    import hyperlasso.hypergradients.graphical as graphical
    from hyperlasso.inner.graphical import empirical_covariance, solve_graphical

    X, _ = _samples(p=12, n=40, seed=3)
    solution = solve_graphical(empirical_covariance(X), 0.1 * (1 - np.eye(12)), tol=1e-12)
    system = graphical.SupportSystem(solution.covariance, solution.support)
    np.testing.assert_allclose(system.diagonal(), np.diag(system.dense()), rtol=1e-14)
