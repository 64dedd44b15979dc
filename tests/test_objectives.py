"""Objectives in alpha: K-fold CV, hold-out, SURE; witnesses for their gradients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import hyperlasso as hl
from conftest import classification_data, regression_data
from hyperlasso.criteria import make_objective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.models import make_model

#: Inner solutions at an optimality violation of 1e-13: values exact to ~1e-12,
#: so central differences (step 1e-4 in log alpha) are good to ~1e-7; 1e-6
#: relative is the bar, as for the hypergradients. (A relative duality gap of
#: 1e-12 is not enough here: value errors scale like its square root.)
TIGHT = Settings(tol=1e-13, stop="kkt")


def _objective(model_name, criterion, sparse=False, **kwargs):
    make = classification_data if model_name == "sparse_logreg" else regression_data
    X, y, X_val, y_val = make(n_samples=60, sparse=sparse)
    X = sp.csc_matrix(X) if sparse else X
    model = make_model(model_name)
    return make_objective(criterion, model, X, model.check_target(y), TIGHT, **kwargs), X, y


def _fd(objective, alpha, k, h=1e-4):
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    plus, minus = alpha.copy(), alpha.copy()
    plus[k] *= np.exp(h)
    minus[k] *= np.exp(-h)
    shape = (lambda a: float(a[0])) if alpha.size == 1 else (lambda a: a)
    values = [objective.value(shape(a)).value for a in (plus, minus)]
    return (values[0] - values[1]) / (2 * h * alpha[k])


@pytest.mark.parametrize("model_name,alpha", [("lasso", 0.05), ("elastic_net", [0.05, 0.2]),
                                              ("sparse_logreg", 0.01)])
@pytest.mark.parametrize("criterion", ["cv", "holdout"])
def test_cv_gradient_matches_finite_differences(model_name, alpha, criterion, sparse):
    objective, _, _ = _objective(model_name, criterion, sparse=sparse, cv=4)
    evaluation = objective.value_and_grad(alpha)
    fd = [_fd(objective, alpha, k) for k in range(np.size(alpha))]
    np.testing.assert_allclose(np.atleast_1d(evaluation.gradient), fd, rtol=1e-6)
    assert evaluation.value == pytest.approx(objective.value(alpha).value, rel=1e-10)


def test_cv_is_the_mean_of_the_folds():
    objective, X, y = _objective("lasso", "cv", cv=3)
    folds = objective.folds
    assert len(folds) == 3
    assert sum(f.y.shape[0] for f in folds) == 2 * X.shape[0]  # each sample trains twice
    values = []
    for fold in folds:
        design = fold.design
        X_train = design.matrix if design.offset is None else design.matrix + design.offset
        solution = hl.fit("lasso", 0.05, X_train, fold.y, tol=1e-12)
        values.append(fold.criterion.value(solution.coef, solution.intercept))
    assert objective.value(0.05).value == pytest.approx(np.mean(values), rel=1e-9)


def test_parallel_folds_give_the_same_result():
    serial, _, _ = _objective("lasso", "cv", cv=4)
    parallel, _, _ = _objective("lasso", "cv", cv=4, n_jobs=2)
    a, b = serial.value_and_grad(0.05), parallel.value_and_grad(0.05)
    assert a.value == pytest.approx(b.value, rel=1e-12)
    assert a.gradient == pytest.approx(b.gradient, rel=1e-10)


@pytest.mark.parametrize("model_name,alpha",
                         [("lasso", 0.05), ("elastic_net", [0.05, 0.2])])
def test_sure_gradient_matches_finite_differences(model_name, alpha, sparse):
    objective, _, _ = _objective(model_name, "sure", sparse=sparse, sigma=0.5)
    evaluation = objective.value_and_grad(alpha)
    fd = [_fd(objective, alpha, k) for k in range(np.size(alpha))]
    np.testing.assert_allclose(np.atleast_1d(evaluation.gradient), fd, rtol=1e-6)


def test_sure_degrees_of_freedom_are_the_lasso_support_size():
    """Closed form (Zou et al. 2007): the Lasso's dof is |S| (+1 for the intercept).

    delta^T J delta has mean trace(J) = |S| + 1 and variance 2 (|S| + 1) for a
    projection J; the mean of 200 draws is within 5 standard errors."""
    X, y, _, _ = regression_data(n_samples=60)
    model = make_model("lasso")
    solution = hl.fit("lasso", 0.05, X, y, tol=1e-12)
    sigma, n = 0.5, X.shape[0]
    residual = y - X @ solution.coef - solution.intercept
    dofs = []
    for seed in range(200):
        objective = make_objective("sure", model, X, y, TIGHT, sigma=sigma)
        objective_seeded = _reseeded(objective, model, X, y, sigma, seed)
        sure = objective_seeded.value(0.05).value
        dofs.append((sure - np.dot(residual, residual) / n + sigma**2) * n / (2 * sigma**2))
    expected = solution.support.size + 1
    assert abs(np.mean(dofs) - expected) < 5 * np.sqrt(2 * expected / len(dofs))


def _reseeded(objective, model, X, y, sigma, seed):
    from hyperlasso.criteria import sure_objective
    from hyperlasso.inner.problem import Design

    return sure_objective(model, Design.of(X, True), X, y, sigma, TIGHT, random_state=seed)


def test_bad_criteria():
    X, y, _, _ = classification_data()
    logistic = make_model("sparse_logreg")
    with pytest.raises(ValueError, match="criterion='sure' needs a quadratic datafit"):
        make_objective("sure", logistic, X, logistic.check_target(y), TIGHT, sigma=1.0)
    lasso = make_model("lasso")
    with pytest.raises(ValueError, match="needs the noise level"):
        make_objective("sure", lasso, X, y.astype(float), TIGHT)
    with pytest.raises(ValueError, match="criterion must be one of"):
        make_objective("aic", lasso, X, y.astype(float), TIGHT)
    with pytest.raises(ValueError, match="cv must be between 2 and n_samples=60"):
        make_objective("cv", lasso, X, y.astype(float), TIGHT, cv=61)


def test_single_class_training_fold_is_an_error():
    X, y, _, _ = classification_data(n_samples=20)
    y = np.zeros(20)
    y[:4] = 1  # a plain (unshuffled) KFold(5) puts all positives in fold 0
    model = make_model("sparse_logreg")
    from sklearn.model_selection import KFold

    with pytest.raises(ValueError, match="fold 0 of cv has a single class in its training"):
        make_objective("cv", model, X, model.check_target(y), TIGHT,
                       cv=KFold(5).split(X))


@pytest.mark.parametrize("combine", [np.mean, np.sum])
def test_sparse_fold_gradients_combine_as_the_dense_ones(combine):
    """Per-feature gradients, non-zero on each fold's support only, are held as
    their non-zero entries (``NonZeros``) and combined in fold order: the dense
    mean or sum bit for bit, mixed with dense folds too."""
    from hyperlasso.criteria.objectives import NonZeros, _combined

    rng = np.random.default_rng(0)
    size = 3 * NonZeros.FROM
    dense = []
    for k in range(5):
        g = np.zeros(size)
        support = rng.choice(size, 50 + 10 * k, replace=False)
        g[support] = rng.standard_normal(support.size) * 10.0 ** rng.integers(-8, 3)
        dense.append(g)
    dense.append(rng.standard_normal(size))  # a dense fold stays dense
    held = [NonZeros.of(g) for g in dense]
    assert [isinstance(g, NonZeros) for g in held] == [True] * 5 + [False]
    np.testing.assert_array_equal(_combined(held, combine), combine(dense, axis=0))


def test_only_long_sparse_vectors_are_held_as_non_zeros():
    from hyperlasso.criteria.objectives import NonZeros

    short = np.zeros(NonZeros.FROM - 1)
    short[0] = 1.0
    assert NonZeros.of(short) is short
    assert NonZeros.of(0.5) == 0.5
    matrix = np.zeros((NonZeros.FROM, 2))
    assert NonZeros.of(matrix) is matrix
    filled = np.ones(NonZeros.FROM)
    assert NonZeros.of(filled) is filled
    sparse_enough = np.zeros(NonZeros.FROM)
    sparse_enough[[3, 7]] = [2.0, -1.0]
    held = NonZeros.of(sparse_enough)
    assert held.size == NonZeros.FROM and held.indices.tolist() == [3, 7]
