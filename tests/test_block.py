"""Block models (multi-task Lasso / ElasticNet, group Lasso): solutions and
hypergradients against independent witnesses.

Witnesses: scikit-learn's MultiTaskLasso / MultiTaskElasticNet, a proximal-gradient
(FISTA) group Lasso written here, central finite differences of the held-out MSE
computed with those solvers, and closed forms on an orthogonal design.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskLasso

import hyperlasso as hl

METHODS = ["polish", "implicit", "implicit_forward", "forward", "backward"]
BLOCK_NAMES = ["multitask_lasso", "weighted_multitask_lasso", "multitask_elastic_net",
               "group_lasso", "weighted_group_lasso"]
KINDS = ["dense", "shifted", "sparse"]
N, P, T, N_VAL = 40, 20, 3, 30
#: Uneven group sizes (sum P), so that v_g = sqrt(|g|) differs between groups.
GROUP_SIZES = (3, 1, 2, 4, 2, 3, 1, 2, 2)
#: Relative finite-difference step in alpha (see ``_fd_case`` for the error budget).
H = 1e-4
SK_TOL, SK_MAX_ITER = 1e-12, 1_000_000


# ---------------------------------------------------------------- data and models


def _group_labels(seed=0):
    """One label per feature, groups of GROUP_SIZES scattered over the features."""
    labels = np.repeat(np.arange(len(GROUP_SIZES)), GROUP_SIZES)
    return np.random.default_rng(seed + 100).permutation(labels)


def _data(kind="dense", seed=0, n=N, p=P, n_tasks=T, labels=None):
    """(X, Y, X_val, Y_val) with a row-sparse (or group-sparse) true W.

    kind: "dense"; "shifted" (dense, five columns with mean far above their spread,
    so that the solver works on the centered design when fitting an intercept);
    "sparse" (about 40 % zeros, CSR).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + N_VAL, p))
    if kind == "sparse":
        X *= rng.random(X.shape) < 0.6
    if kind == "shifted":
        X[:, :5] += 4.0
    W = np.zeros((p, n_tasks))
    if labels is None:
        W[:5] = rng.choice([-2.0, -1.0, 1.0, 2.0], (5, n_tasks))
    else:
        on = np.isin(labels, [0, 1, 2])
        W[on] = rng.choice([-2.0, -1.0, 1.0, 2.0], (int(on.sum()), n_tasks))
    Y = X @ W + 0.5 * rng.standard_normal((n + N_VAL, n_tasks)) + 1.0
    X_train, X_val = X[:n], X[n:]
    if kind == "sparse":
        X_train, X_val = sp.csr_matrix(X_train), sp.csr_matrix(X_val)
    return X_train, Y[:n], X_val, Y[n:]


def _model(name, fit_intercept=True, labels=None):
    if name == "multitask_lasso":
        return hl.MultiTaskLasso(fit_intercept=fit_intercept)
    if name == "weighted_multitask_lasso":
        return hl.WeightedMultiTaskLasso(fit_intercept=fit_intercept)
    if name == "multitask_elastic_net":
        return hl.MultiTaskElasticNet(fit_intercept=fit_intercept)
    if name == "group_lasso":  # groups as one label per feature
        return hl.GroupLasso(groups=labels, fit_intercept=fit_intercept)
    # groups as a list of index arrays
    members = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
    return hl.WeightedGroupLasso(groups=members, fit_intercept=fit_intercept)


def _is_group(name):
    return name in ("group_lasso", "weighted_group_lasso")


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _rel(a, b):
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _heldout_mse(X_val, Y_val, W, b):
    """The held-out MSE, written independently of hl.HeldOutMSE (mean of entries)."""
    return float(np.mean((_dense(X_val) @ W + b - Y_val) ** 2))


# ---------------------------------------------------------------- reference solvers


def _sklearn_multitask(X, Y, alpha, l1_ratio, fit_intercept):
    """scikit-learn's MultiTaskElasticNet (l1_ratio=1: MultiTaskLasso) as (W, b)."""
    common = dict(fit_intercept=fit_intercept, tol=SK_TOL, max_iter=SK_MAX_ITER)
    if l1_ratio == 1.0:
        est = MultiTaskLasso(alpha=alpha, **common)
    else:
        est = MultiTaskElasticNet(alpha=alpha, l1_ratio=l1_ratio, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a non-converged reference is no witness
        est.fit(_dense(X), Y)
    return est.coef_.T.copy(), np.broadcast_to(est.intercept_, (Y.shape[1],)).copy()


def _fista_group_lasso(X, y, labels, lam, fit_intercept, max_iter=200_000):
    """min ||y - Xw - b||^2/(2n) + sum_g lam_g ||w_g|| by FISTA with adaptive restart.

    The intercept is eliminated exactly by centering X and y. Runs until the iterate
    stops moving at rounding level, then asserts that the proximal-gradient
    fixed-point residual is at rounding level too (the reference's own certificate:
    on this strongly convex problem the coefficient error is at most
    residual * L / mu, a few 1e-15 here).
    """
    X, y = _dense(X).copy(), np.asarray(y, dtype=np.float64).copy()
    x_mean, y_mean = X.mean(axis=0), y.mean()
    if fit_intercept:
        X, y = X - x_mean, y - y_mean
    n, n_groups = X.shape[0], labels.max() + 1
    L = np.linalg.norm(X, 2) ** 2 / n

    def prox_grad(z):
        v = z - X.T @ (X @ z - y) / (n * L)
        norms = np.sqrt(np.bincount(labels, v**2, minlength=n_groups))
        scale = np.maximum(0.0, 1.0 - lam / (L * np.maximum(norms, 1e-300)))
        return v * scale[labels]

    w, z, t, still = np.zeros(X.shape[1]), np.zeros(X.shape[1]), 1.0, 0
    for _ in range(max_iter):
        w_new = prox_grad(z)
        if np.dot(z - w_new, w_new - w) > 0:  # gradient restart (O'Donoghue-Candes)
            t = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = w_new + (t - 1.0) / t_new * (w_new - w)
        change = np.max(np.abs(w_new - w))
        w, t = w_new, t_new
        still = still + 1 if change <= 1e-16 * np.max(np.abs(w)) else 0
        if still >= 20:
            break
    for _ in range(200):  # plain proximal-gradient steps: monotone, no momentum
        w = prox_grad(w)
    residual = np.max(np.abs(prox_grad(w) - w))
    assert residual <= 1e-14 * max(np.max(np.abs(w)), 1.0), residual
    b = y_mean - x_mean @ w if fit_intercept else 0.0
    return w[:, None], np.array([b])


def _reference_solve(name, alpha, X, Y, fit_intercept, labels=None):
    """The block model at alpha by a solver independent of hyperlasso: (W, b)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    if name == "multitask_lasso":
        return _sklearn_multitask(X, Y, float(alpha), 1.0, fit_intercept)
    if name == "weighted_multitask_lasso":
        # sum_j a_j ||W_j||: V_j = a_j W_j is the multi-task Lasso at alpha = 1 on the
        # design with column j divided by a_j.
        V, b = _sklearn_multitask(_dense(X) / alpha, Y, 1.0, 1.0, fit_intercept)
        return V / alpha[:, None], b
    if name == "multitask_elastic_net":
        a = alpha[0] + alpha[1]  # alpha = (a r, a (1 - r))
        return _sklearn_multitask(X, Y, a, alpha[0] / a, fit_intercept)
    v = np.sqrt(np.bincount(labels).astype(np.float64))
    return _fista_group_lasso(X, Y[:, 0], labels, alpha * v, fit_intercept)


def _support(W):
    return tuple(np.flatnonzero(np.any(W != 0, axis=1)))


# ---------------------------------------------------------------- 1. scikit-learn


@pytest.mark.parametrize("fraction", [0.05, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("kind", ["dense", "shifted", "csr", "csc"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.7], ids=["lasso", "enet"])
def test_matches_sklearn(l1_ratio, kind, fit_intercept, fraction):
    """Both solvers at tol 1e-12 (relative duality gap for hyperlasso, gap / ||Y||^2
    for scikit-learn): the strong-convexity bound on the support gives a coefficient
    error of at most ~sqrt(2 gap / mu) ~ 1e-6 (mu ~ 0.1 the smallest eigenvalue of
    X_S^T X_S / n), hence the 1e-6 tolerance; in practice both are at ~1e-12."""
    X, Y, _, _ = _data("sparse" if kind in ("csr", "csc") else kind, seed=1)
    if kind == "csc":
        X = sp.csc_matrix(X)
    amax = hl.alpha_max(hl.MultiTaskLasso(fit_intercept), X, Y)
    a = fraction * amax / l1_ratio
    if l1_ratio == 1.0:
        model, alpha = hl.MultiTaskLasso(fit_intercept=fit_intercept), a
    else:
        model = hl.MultiTaskElasticNet(fit_intercept=fit_intercept)
        alpha = np.array([a * l1_ratio, a * (1.0 - l1_ratio)])
    solution = hl.fit(model, alpha, X, Y, tol=1e-12)
    W_ref, b_ref = _sklearn_multitask(X, Y, a, l1_ratio, fit_intercept)
    assert solution.converged
    assert solution.coef.shape == (P, T) and solution.intercept.shape == (T,)
    assert 0 < solution.support.size < P
    np.testing.assert_allclose(solution.coef, W_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(solution.intercept, b_ref, rtol=0, atol=1e-6)
    assert tuple(solution.support) == _support(W_ref)
    np.testing.assert_array_equal(solution.active_groups, solution.support)
    if not fit_intercept:
        np.testing.assert_array_equal(solution.intercept, 0.0)


def test_alpha_max_multitask_formula():
    """alpha_max = max_j ||X_j^T (Y - mean(Y))|| / n (no centering without intercept)."""
    X, Y, _, _ = _data("shifted")
    for fit_intercept in (True, False):
        centered = Y - Y.mean(axis=0) if fit_intercept else Y
        expected = np.max(np.linalg.norm(X.T @ centered, axis=1)) / N
        got = hl.alpha_max(hl.MultiTaskLasso(fit_intercept), X, Y)
        assert got == pytest.approx(expected, rel=1e-12)
    assert hl.alpha_max("multitask_lasso", X, Y) == pytest.approx(
        hl.alpha_max(hl.MultiTaskLasso(), X, Y), rel=0)


# ---------------------------------------------------------------- 2. finite differences


@functools.cache
def _fd_case(name, kind, fit_intercept):
    """A problem, alpha, directions d and central differences of the held-out MSE.

    alpha moves as alpha * (1 +- H d), so (C+ - C-) / (2H) estimates
    grad . (alpha * d). Error budget of the estimate, relative to it:
    - truncation: C is analytic in alpha while the active set is fixed, and the
      central difference errs by H^2 |(alpha d . d/dalpha)^3 C| / 6, i.e. ~H^2 = 1e-8
      relative when the third log-derivative is of the order of the first;
    - rounding / reference accuracy: the reference solutions carry a relative
      error delta ~ 1e-13 (sklearn at tol 1e-12 in practice, FISTA to its fixed point)
      so C does too, and the difference divides it by H: delta / H / s with
      s = |grad . alpha d| / C >= 1e-2 (asserted below) gives <= 1e-7.
    Together well under the 1e-6 tolerance; H = 1e-4 balances the two terms.
    Observed: <= 3e-8 over all 150 cases (largest for the ElasticNet and the
    weighted group Lasso), <= 1e-9 for the unweighted models.
    The active set must not change within the step: the supports at alpha (1 +- H d)
    are asserted equal to the one at alpha.
    """
    labels = _group_labels() if _is_group(name) else None
    X, Y, X_val, Y_val = _data(kind, seed=2, labels=labels)
    if _is_group(name):
        Y, Y_val = Y[:, :1], Y_val[:, 0]
    model = _model(name, fit_intercept, labels)
    target = Y[:, 0] if _is_group(name) else Y
    scalar = hl.alpha_max(_model("group_lasso" if _is_group(name) else "multitask_lasso",
                                 fit_intercept, labels), X, target)
    rng = np.random.default_rng(3)
    if name in ("multitask_lasso", "group_lasso"):
        alpha, directions = 0.25 * scalar, [np.float64(1.0)]
    elif name == "multitask_elastic_net":
        alpha = np.array([0.25 * scalar, 0.4])
        directions = [rng.standard_normal(2) for _ in range(2)]
    else:
        size = P if name == "weighted_multitask_lasso" else len(GROUP_SIZES)
        alpha = 0.3 * scalar * rng.uniform(0.5, 1.5, size)
        directions = [rng.standard_normal(size) for _ in range(2)]

    def criterion_at(a):
        W, b = _reference_solve(name, a, X, Y, fit_intercept, labels)
        return _heldout_mse(X_val, Y_val if Y_val.ndim == 2 else Y_val[:, None], W, b), W

    value, W0 = criterion_at(alpha)
    assert 0 < len(_support(W0)) < P  # an informative point: some rows on, some off
    fds = []
    for d in directions:
        plus, W_plus = criterion_at(alpha * (1 + H * d))
        minus, W_minus = criterion_at(alpha * (1 - H * d))
        assert _support(W_plus) == _support(W0) == _support(W_minus)
        fd = (plus - minus) / (2 * H)
        assert abs(fd) >= 1e-2 * value  # s >= 1e-2 in the budget above
        fds.append(fd)
    criterion = hl.HeldOutMSE(X_val, Y_val)
    return model, criterion, alpha, X, target, directions, fds, value, _support(W0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_hypergradient_matches_finite_differences(name, kind, fit_intercept, method):
    model, criterion, alpha, X, y, directions, fds, value, support = _fd_case(
        name, kind, fit_intercept)
    result = hl.hypergradient(model, criterion, alpha, X, y, method=method)
    assert np.shape(result.gradient) == np.shape(alpha)
    assert tuple(result.solution.support) == support
    # The value: both solutions are accurate to ~1e-12, C is smooth in them.
    assert result.value == pytest.approx(value, rel=1e-9)
    for d, fd in zip(directions, fds, strict=True):
        directional = float(np.sum(result.gradient * alpha * d))
        assert directional == pytest.approx(fd, rel=1e-6), (directional, fd)


@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("name", ["multitask_lasso", "group_lasso"])
def test_wide_problem_with_working_sets(name, kind, fit_intercept):
    """p = 300 > n = 60 and more groups (300 or 150) than the solver's smallest
    working set (100), so the working-set iterations are exercised. Coefficients to
    1e-6 as in test_matches_sklearn (observed <= 1e-12), polish and implicit against
    central differences with the budget of ``_fd_case``."""
    X, Y, X_val, Y_val = _data(kind, seed=9, n=60, p=300)
    if name == "group_lasso":
        labels = np.random.default_rng(0).permutation(np.repeat(np.arange(150), 2))
        model = hl.GroupLasso(groups=labels, fit_intercept=fit_intercept)
        Y, Y_val = Y[:, :1], Y_val[:, :1]
        target, criterion = Y[:, 0], hl.HeldOutMSE(X_val, Y_val[:, 0])
    else:
        labels, model = None, hl.MultiTaskLasso(fit_intercept=fit_intercept)
        target, criterion = Y, hl.HeldOutMSE(X_val, Y_val)
    alpha = 0.3 * hl.alpha_max(model, X, target)
    solution = hl.fit(model, alpha, X, target, tol=1e-12)
    W, b = _reference_solve(name, alpha, X, Y, fit_intercept, labels)
    assert solution.converged and 0 < solution.support.size < 100
    np.testing.assert_allclose(solution.coef, W, rtol=0, atol=1e-6)
    np.testing.assert_allclose(solution.intercept, b, rtol=0, atol=1e-6)
    values, supports = [], []
    for a in (alpha * (1 + H), alpha * (1 - H)):
        W_a, b_a = _reference_solve(name, a, X, Y, fit_intercept, labels)
        values.append(_heldout_mse(X_val, Y_val, W_a, b_a))
        supports.append(_support(W_a))
    assert supports[0] == _support(W) == supports[1]
    fd = (values[0] - values[1]) / (2 * H)
    assert abs(fd) >= 1e-2 * _heldout_mse(X_val, Y_val, W, b)
    for method in ("polish", "implicit"):
        result = hl.hypergradient(model, criterion, alpha, X, target, method=method)
        assert result.gradient * alpha == pytest.approx(fd, rel=1e-6), method


# ---------------------------------------------------------------- 3. closed forms


def _orthogonal_case(name, seed=4):
    """Orthogonal design X = sqrt(n) Q (X^T X / n = I), no intercept, Z = X^T Y / n.

    Returns the model, alpha, data, lam (n_groups,), l2, v and the group labels.
    The held-out design is a generic (non-orthogonal) Gaussian matrix.
    """
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((N, P)))
    X = np.sqrt(N) * Q
    X_val = rng.standard_normal((N_VAL, P))
    group = _is_group(name)
    labels = _group_labels(seed) if group else np.arange(P)
    n_tasks = 1 if group else T
    W_true = rng.standard_normal((P, n_tasks)) * (rng.random((P, 1)) < 0.4)
    Y = X @ W_true + 0.5 * rng.standard_normal((N, n_tasks))
    Y_val = X_val @ W_true + 0.5 * rng.standard_normal((N_VAL, n_tasks))
    n_groups = labels.max() + 1
    v = np.sqrt(np.bincount(labels)) if group else np.ones(P)
    Z = X.T @ Y / N
    z_norms = np.sqrt(np.bincount(labels, np.sum(Z**2, axis=1), minlength=n_groups))
    ratio = np.median(z_norms / v)  # about half of the groups active
    model = _model(name, fit_intercept=False, labels=labels if group else None)
    l2 = 0.0
    if name in ("multitask_lasso", "group_lasso"):
        alpha = 0.9 * ratio
        lam = alpha * v
    elif name == "multitask_elastic_net":
        alpha, l2 = np.array([0.9 * ratio, 0.3]), 0.3
        lam = np.full(P, alpha[0])
    else:
        alpha = 0.9 * ratio * rng.uniform(0.7, 1.3, n_groups)
        lam = alpha * v
    # keep clear of the kinks: no group within 1 % of its threshold
    assert np.all(np.abs(z_norms / lam - 1) > 1e-2)
    y = Y[:, 0] if group else Y
    y_val = Y_val[:, 0] if group else Y_val
    return model, alpha, X, y, X_val, y_val, Z, z_norms, lam, l2, v, labels


def _closed_form(name, seed=4):
    """W = BST(Z_g, lam_g) / (1 + l2) and dC/dalpha through it.

    For an active group, W_g = (1 - lam_g / ||Z_g||) Z_g / (1 + l2), so
    dW_g/dlam_g = -Z_g / (||Z_g|| (1 + l2)) and dW/dl2 = -W / (1 + l2); with
    lam_g = alpha v_g (alpha_g v_g if weighted), dW_g/dalpha = -v_g Z_g / ||Z_g||
    (without l2). C = mean((X_val W - Y_val)^2) has dC/dW = 2 X_val^T (X_val W -
    Y_val) / (n_val T).
    """
    (model, alpha, X, y, X_val, y_val, Z, z_norms, lam, l2, v,
     labels) = _orthogonal_case(name, seed)
    active = z_norms > lam
    scale = np.where(active, 1 - lam / z_norms, 0.0) / (1 + l2)
    W = Z * scale[labels][:, None]
    Y_val = y_val.reshape(N_VAL, -1)
    G = 2 * X_val.T @ (X_val @ W - Y_val) / Y_val.size
    unit = Z / z_norms[labels][:, None]
    # dC/dlam_g = <G_g, dW_g/dlam_g>, zero for inactive groups
    g_lam = np.bincount(labels, np.sum(G * -unit, axis=1) / (1 + l2))
    g_lam = np.where(active, g_lam, 0.0)
    if name == "multitask_elastic_net":
        gradient = np.array([g_lam.sum(), np.sum(G * -W) / (1 + l2)])
    elif np.ndim(alpha) == 0:
        gradient = np.sum(g_lam * v)
    else:
        gradient = g_lam * v
    return model, alpha, X, y, X_val, y_val, W, gradient


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_closed_form_on_orthogonal_design(name, method):
    """On X^T X / n = I the groups decouple and block CD is exact after one epoch,
    so the solver and every method are exact up to rounding (observed <= 1e-14
    relative for coef and gradient); 1e-10 leaves a factor 1e4 for rounding only."""
    model, alpha, X, y, X_val, y_val, W, gradient = _closed_form(name)
    solution = hl.fit(model, alpha, X, y, tol=1e-13)
    np.testing.assert_allclose(solution.coef, W, rtol=0, atol=1e-10 * np.abs(W).max())
    result = hl.hypergradient(model, hl.HeldOutMSE(X_val, y_val), alpha, X, y,
                              method=method)
    np.testing.assert_allclose(result.solution.coef, W, rtol=0,
                               atol=1e-10 * np.abs(W).max())
    assert _rel(result.gradient, gradient) < 1e-10
    assert np.count_nonzero(gradient) > 0


# ---------------------------------------------------------------- 4. singletons = Lasso


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("kind", KINDS)
def test_singleton_groups_are_the_lasso(kind, fit_intercept, method):
    """T = 1 and one feature per group is the Lasso; the block step 1/L_g with
    L_g = ||x_j||^2/n is then exact coordinate minimization as in the Lasso solver.
    Both sides converge to ~1e-12; 1e-9 leaves a factor 1e3 of rounding room."""
    X, Y, X_val, Y_val = _data(kind, seed=5)
    y, y_val = Y[:, 0], Y_val[:, 0]
    group = hl.GroupLasso(groups=np.arange(P), weights=np.ones(P),
                          fit_intercept=fit_intercept)
    lasso = hl.Lasso(fit_intercept=fit_intercept)
    alpha = 0.2 * hl.alpha_max(lasso, X, y)
    assert hl.alpha_max(group, X, y) == pytest.approx(alpha / 0.2, rel=1e-12)
    fit_group = hl.fit(group, alpha, X, y, tol=1e-12)
    fit_lasso = hl.fit(lasso, alpha, X, y, tol=1e-12)
    assert fit_group.coef.shape == (P, 1)
    np.testing.assert_allclose(fit_group.coef[:, 0], fit_lasso.coef, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(fit_group.support, fit_lasso.support)
    criterion = hl.HeldOutMSE(X_val, y_val)
    hg_group = hl.hypergradient(group, criterion, alpha, X, y, method=method)
    hg_lasso = hl.hypergradient(lasso, criterion, alpha, X, y, method=method)
    assert hg_group.gradient == pytest.approx(hg_lasso.gradient, rel=1e-9)
    assert hg_group.value == pytest.approx(hg_lasso.value, rel=1e-9)
    np.testing.assert_allclose(hg_group.solution.coef[:, 0], hg_lasso.solution.coef,
                               rtol=0, atol=1e-9)
    # the string name of the Lasso gives the same
    if fit_intercept and method == "polish":
        by_name = hl.hypergradient("lasso", criterion, alpha, X, y)
        assert hg_group.gradient == pytest.approx(by_name.gradient, rel=1e-9)


def test_group_labels_and_index_lists_agree():
    labels = _group_labels()
    X, Y, _, _ = _data("dense", labels=labels)
    members = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
    by_labels, by_lists = hl.GroupLasso(groups=labels), hl.GroupLasso(groups=members)
    alpha = 0.2 * hl.alpha_max(by_labels, X, Y[:, 0])
    assert alpha == pytest.approx(0.2 * hl.alpha_max(by_lists, X, Y[:, 0]), rel=0)
    a = hl.fit(by_labels, alpha, X, Y[:, 0], tol=1e-12)
    b = hl.fit(by_lists, alpha, X, Y[:, 0], tol=1e-12)
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(a.active_groups, b.active_groups)
    # active groups are the groups of the support
    np.testing.assert_array_equal(np.unique(labels[a.support]), a.active_groups)


# ---------------------------------------------------------------- 5. above alpha_max


def _problem(name, kind="dense", fit_intercept=True, seed=6):
    labels = _group_labels() if _is_group(name) else None
    X, Y, X_val, Y_val = _data(kind, seed=seed, labels=labels)
    if _is_group(name):
        Y, Y_val = Y[:, 0], Y_val[:, 0]
    return _model(name, fit_intercept, labels), X, Y, X_val, Y_val


def _scaled_alpha(name, amax, factor):
    if name == "multitask_elastic_net":
        return np.array([factor * amax, 0.3])
    return factor * np.asarray(amax)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_above_alpha_max_is_all_zero(name, method):
    model, X, Y, X_val, Y_val = _problem(name, "sparse")
    amax = hl.alpha_max(model, X, Y)
    weighted = name.startswith("weighted")
    assert np.shape(amax) == ((P,) if name == "weighted_multitask_lasso" else
                              (len(GROUP_SIZES),) if weighted else ())
    criterion = hl.HeldOutMSE(X_val, Y_val)
    alpha = _scaled_alpha(name, amax, 1.01)
    solution = hl.fit(model, alpha, X, Y)
    assert not np.any(solution.coef) and solution.support.size == 0
    assert solution.active_groups.size == 0
    np.testing.assert_allclose(solution.intercept, np.mean(Y, axis=0).reshape(-1))
    with pytest.warns(hl.AllZeroWarning):
        result = hl.hypergradient(model, criterion, alpha, X, Y, method=method)
    assert not np.any(result.solution.coef)
    assert np.shape(result.gradient) == np.shape(alpha)
    assert np.all(np.asarray(result.gradient) == 0.0)
    null = _heldout_mse(X_val, Y_val.reshape(N_VAL, -1), np.zeros((P, 1)),
                        np.mean(Y, axis=0))
    assert result.value == pytest.approx(null, rel=1e-12)
    # alpha_max is tight: just below it, something is active
    below = hl.fit(model, _scaled_alpha(name, amax, 0.99), X, Y, tol=1e-10)
    assert below.support.size > 0


# ---------------------------------------------------------------- 6. bad input


def _bad_cases():
    X, Y, _, _ = _data("dense")
    y = Y[:, 0]
    rest = list(range(3, P))
    nan_Y = Y.copy()
    nan_Y[3, 1] = np.nan
    nan_y = y.copy()
    nan_y[0] = np.nan
    labels = _group_labels()
    return X, [
        ("overlap", hl.GroupLasso(groups=[[0, 1], [1, 2], rest]), 0.1, y,
         "groups overlap"),
        ("left_out", hl.GroupLasso(groups=[[0, 1], rest]), 0.1, y,
         r"groups leave feature\(s\) \[2\] out"),
        ("empty", hl.GroupLasso(groups=[[0, 1, 2], [], rest]), 0.1, y,
         r"groups\[1\] is empty"),
        ("out_of_range", hl.GroupLasso(groups=[[0, 1, 2, P], rest]), 0.1, y,
         r"groups\[0\] has indices outside"),
        ("no_groups", hl.GroupLasso(), 0.1, y, "needs groups="),
        ("nan_Y", hl.MultiTaskLasso(), 0.1, nan_Y, "Y contains NaN"),
        ("nan_y", hl.GroupLasso(groups=labels), 0.1, nan_y, "y contains NaN"),
        ("rows_Y", hl.MultiTaskLasso(), 0.1, Y[:-1], "Y has 39 samples but X has 40"),
        ("rows_y", hl.GroupLasso(groups=labels), 0.1, y[:-1],
         "y has 39 samples but X has 40"),
        ("one_d_y", hl.MultiTaskLasso(), 0.1, y, "Y must be 2-D"),
        ("weighted_mtl_len", hl.WeightedMultiTaskLasso(), np.full(P - 1, 0.1), Y,
         r"alpha must have shape \(20,\)"),
        ("weighted_gl_len", hl.WeightedGroupLasso(groups=labels), np.full(P, 0.1), y,
         r"alpha must have shape \(9,\)"),
        ("zero_alpha", hl.MultiTaskLasso(), 0.0, Y, "alpha must be positive"),
        ("negative_alpha", hl.GroupLasso(groups=labels), -1.0, y,
         "alpha must be positive"),
        ("weighted_zero", hl.WeightedMultiTaskLasso(),
         np.r_[np.full(P - 1, 0.1), 0.0], Y, "alpha must be positive"),
        ("enet_negative_l2", hl.MultiTaskElasticNet(), [0.1, -0.1], Y,
         "alpha must be positive"),
        ("enet_shape", hl.MultiTaskElasticNet(), 0.1, Y, "alpha must be a pair"),
        ("scalar_alpha_shape", hl.MultiTaskLasso(), [0.1, 0.2], Y,
         "alpha must be a single positive number"),
        ("weights_len", hl.GroupLasso(groups=labels, weights=np.ones(P)), 0.1, y,
         r"weights must have shape \(n_groups,\) = \(9,\)"),
        ("weights_sign", hl.GroupLasso(groups=labels, weights=-np.ones(9)), 0.1, y,
         "weights must be positive"),
    ]


_BAD_X, _BAD = _bad_cases()


@pytest.mark.parametrize("entry", ["fit", "hypergradient"])
@pytest.mark.parametrize("case", _BAD, ids=[c[0] for c in _BAD])
def test_bad_input_raises_naming_the_argument(case, entry):
    _, model, alpha, Y, match = case
    X = _BAD_X
    with pytest.raises(ValueError, match=match):
        if entry == "fit":
            hl.fit(model, alpha, X, Y)
        else:
            n_tasks = 1 if getattr(model, "single_task", False) else T
            Y_val = np.zeros((N_VAL, n_tasks)) if n_tasks > 1 else np.zeros(N_VAL)
            criterion = hl.HeldOutMSE(np.ones((N_VAL, P)), Y_val)
            hl.hypergradient(model, criterion, alpha, X, Y)


def test_bad_validation_target():
    X_val = np.ones((N_VAL, P))
    Y_val = np.zeros((N_VAL, T))
    Y_val[0, 0] = np.nan
    with pytest.raises(ValueError, match="y_val contains NaN"):
        hl.HeldOutMSE(X_val, Y_val)
    with pytest.raises(ValueError, match="y_val has 29 samples but X_val has 30"):
        hl.HeldOutMSE(X_val, np.zeros((N_VAL - 1, T)))


def test_criterion_with_wrong_task_count_names_the_mismatch():
    X, Y, X_val, Y_val = _data("dense")
    wrong_tasks = hl.HeldOutMSE(X_val, Y_val[:, :2])
    with pytest.raises(ValueError) as info:
        hl.hypergradient("multitask_lasso", wrong_tasks, 0.1, X, Y)
    assert "as many tasks" in str(info.value), str(info.value)


def test_one_task_multitask_lasso_is_the_lasso():
    X, Y, X_val, Y_val = _data("dense")
    alpha = 0.2 * hl.alpha_max("lasso", X, Y[:, 0])
    lasso = hl.hypergradient("lasso", hl.HeldOutMSE(X_val, Y_val[:, 0]), alpha, X,
                             Y[:, 0])
    one_task = hl.hypergradient("multitask_lasso", hl.HeldOutMSE(X_val, Y_val[:, :1]),
                                alpha, X, Y[:, :1])
    assert one_task.gradient == pytest.approx(lasso.gradient, rel=1e-9)


def test_group_lasso_fit_intercept_must_be_keyword():
    with pytest.raises(TypeError, match="pass the groups by name"):
        hl.GroupLasso(np.arange(P))


# ---------------------------------------------------------------- 7. methods agree


@pytest.mark.parametrize("case", ["sparse_group_lasso", "weighted_multitask"])
def test_all_methods_agree(case):
    """Each method at its default tolerance (polish 1e-8 then Newton to rounding;
    the others 1e-12, whose hypergradient error is linear in the inner error,
    ~1e-10 here): 1e-8 relative is the agreement that allows."""
    if case == "sparse_group_lasso":
        model, X, Y, X_val, Y_val = _problem("group_lasso", "sparse", True, seed=7)
        alpha = 0.15 * hl.alpha_max(model, X, Y)
    else:
        model, X, Y, X_val, Y_val = _problem("weighted_multitask_lasso", "shifted", True,
                                             seed=7)
        rng = np.random.default_rng(8)
        alpha = 0.3 * np.max(hl.alpha_max(model, X, Y)) * rng.uniform(0.5, 1.5, P)
    criterion = hl.HeldOutMSE(X_val, Y_val)
    results = {m: hl.hypergradient(model, criterion, alpha, X, Y, method=m)
               for m in METHODS}
    assert results["polish"].solution.support.size > 0
    assert np.any(results["polish"].gradient != 0)
    for a in METHODS:
        for b in METHODS:
            assert _rel(results[a].gradient, results[b].gradient) < 1e-8, (a, b)
            assert results[a].value == pytest.approx(results[b].value, rel=1e-9)
        np.testing.assert_array_equal(results[a].solution.support,
                                      results["polish"].solution.support)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", ["group_lasso", "multitask_lasso",
                                  "multitask_elastic_net"])
def test_dense_system_is_its_matvec(name, fit_intercept):
    """H formed densely (all groups' rank-one terms at once) equals H applied to the
    unit vectors, and the structured Woodbury solve inverts it: both are sums of
    O(1) terms, so rounding level (1e-12 relative) is the tolerance."""
    from hyperlasso.inner.block_system import ActiveGroupSystem, structured_solver
    from hyperlasso.inner.problem import Design
    from hyperlasso.inner.solver import solve

    model, X, Y, _, _ = _problem(name, "dense", fit_intercept, seed=9)
    alpha = model.check_alpha(_scaled_alpha(name, hl.alpha_max(model, X, Y), 0.2),
                              X.shape[1])
    problem = model.problem(alpha, Design.of(X, fit_intercept), model.check_target(
        Y, X.shape[0]))
    solution = solve(problem, tol=1e-10)
    system = ActiveGroupSystem.at(problem, solution.coef, solution.intercept)
    assert system.active.size > 1
    H = system.dense()
    columns = np.column_stack([system.matvec(e) for e in np.eye(system.size)])
    scale = np.max(np.abs(H))
    np.testing.assert_allclose(H, columns, rtol=0, atol=1e-12 * scale)
    r = np.random.default_rng(0).standard_normal(system.size)
    if system.n_tasks > 1:
        np.testing.assert_allclose(H @ structured_solver(system)(r), r, rtol=0,
                                   atol=1e-10 * np.max(np.abs(r)))


@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_low_rank_solve_inverts_the_dense_system(fit_intercept, l2, kind):
    """The one-task low-rank solve (Woodbury on [Xc / sqrt(n), U], intercept
    eliminated, one refinement step) against numpy's solve of the dense H, with
    more active features than samples plus groups (20 samples, 40 groups of 5).
    Backward error at rounding level (1e-13 of ||H|| ||x||, a few hundred units
    of rounding for sums of ~100 terms); forward error within cond(H) times that
    of a backward-stable solve (cond(H) <= 1e6 here)."""
    from dataclasses import replace

    from hyperlasso.inner.block import BlockProblem
    from hyperlasso.inner.block_system import (
        ActiveGroupSystem,
        low_rank_applies,
        low_rank_solver,
    )
    from hyperlasso.inner.groups import Groups
    from hyperlasso.inner.problem import Design
    from hyperlasso.inner.solver import solve

    rng = np.random.default_rng(3)
    n, n_groups, size = 20, 40, 5
    X = rng.standard_normal((n, n_groups * size)) + 0.5
    y = X[:, :10] @ rng.standard_normal(10) + 0.1 * rng.standard_normal(n) + 3.0
    X = sp.csc_matrix(X) if kind == "sparse" else X
    groups = Groups.of(np.repeat(np.arange(n_groups), size), n_groups * size)
    problem = BlockProblem(Design.of(X, fit_intercept), y[:, None], groups,
                           np.ones(n_groups), l2, fit_intercept)
    centered = y - y.mean() if fit_intercept else y
    lam_max = np.max(groups.norms(np.asarray(X.T @ centered)[:, None] / n))
    # small penalty: many active groups (|F| > 2 (n + |A|) at least with the l2 term)
    problem = replace(problem, lam=np.full(n_groups, 0.05 * lam_max))
    solution = solve(problem, tol=1e-12)
    system = ActiveGroupSystem.at(problem, solution.coef, solution.intercept)
    H = system.dense()
    condition = np.linalg.cond(H)
    assert condition < 1e6
    if l2 > 0:
        assert low_rank_applies(system)
    r = rng.standard_normal(system.size)
    x = low_rank_solver(system)(r)
    scale = np.linalg.norm(H, 2) * np.linalg.norm(x)
    assert np.linalg.norm(H @ x - r) <= 1e-13 * scale
    expected = np.linalg.solve(H, r)
    np.testing.assert_allclose(x, expected, rtol=0,
                               atol=1e-14 * condition * np.max(np.abs(expected)))
