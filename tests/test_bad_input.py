"""Bad input gets a clear error naming the argument; alpha >= alpha_max a warning."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import hyperlasso as hl
from conftest import classification_data, regression_data


@pytest.fixture
def data():
    X, y, X_val, y_val = regression_data()
    return X, y, hl.HeldOutMSE(X_val, y_val)


def _hg(model, alpha, X, y, criterion, **kwargs):
    return hl.hypergradient(model, criterion, alpha, X, y, **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X(data, bad):
    X, y, crit = data
    X = X.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        _hg("lasso", 0.1, X, y, crit)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        _hg("lasso", 0.1, sp.csr_matrix(X), y, crit)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y(data, bad):
    X, y, crit = data
    y = y.copy()
    y[0] = bad
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        _hg("lasso", 0.1, X, y, crit)
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        hl.fit("sparse_logreg", 0.1, X, np.where(np.isfinite(y), y > 1, y))


def test_non_finite_validation_data():
    X, y, X_val, y_val = regression_data()
    X_val[0, 0] = np.nan
    with pytest.raises(ValueError, match="X_val contains NaN or inf"):
        hl.HeldOutMSE(X_val, y_val)
    with pytest.raises(ValueError, match="y_val has 3 samples"):
        hl.HeldOutMSE(X, y[:3])


def test_shape_mismatch(data):
    X, y, crit = data
    with pytest.raises(ValueError, match="y has 39 samples but X has 40"):
        _hg("lasso", 0.1, X, y[:-1], crit)
    with pytest.raises(ValueError, match="criterion expects 30 features but X has 29"):
        _hg("lasso", 0.1, X[:, :-1], y, crit)
    with pytest.raises(ValueError, match="X must be 2-D"):
        hl.fit("lasso", 0.1, X[:, 0], y)
    with pytest.raises(ValueError, match="y must be 1-D"):
        hl.fit("lasso", 0.1, X, np.column_stack([y, y]))


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.nan, np.inf])
def test_non_positive_or_non_finite_alpha(data, alpha):
    X, y, crit = data
    with pytest.raises(ValueError, match="alpha must be"):
        _hg("lasso", alpha, X, y, crit)
    with pytest.raises(ValueError, match="alpha must be"):
        _hg("elastic_net", [0.1, alpha], X, y, crit)
    weights = np.full(X.shape[1], 0.1)
    weights[4] = alpha
    with pytest.raises(ValueError, match="alpha must be"):
        _hg("weighted_lasso", weights, X, y, crit)


def test_alpha_of_the_wrong_shape(data):
    X, y, crit = data
    expected = r"alpha must have shape \(n_features,\) = \(30,\)"
    with pytest.raises(ValueError, match=expected):
        _hg("weighted_lasso", np.ones(29), X, y, crit)
    with pytest.raises(ValueError, match="alpha must be a pair"):
        _hg("elastic_net", 0.1, X, y, crit)
    with pytest.raises(ValueError, match="alpha must be a single positive number"):
        _hg("lasso", [0.1, 0.2], X, y, crit)


def test_non_binary_target_for_logistic():
    X, y, X_val, y_val = classification_data()
    crit = hl.HeldOutLogistic(X_val, y_val)
    with pytest.raises(ValueError, match="y must be binary"):
        _hg("sparse_logreg", 0.01, X, np.arange(X.shape[0]) % 3, crit)
    with pytest.raises(ValueError, match="y_val must be binary"):
        hl.HeldOutLogistic(X_val, np.arange(X_val.shape[0]) % 3)
    with pytest.raises(ValueError, match="y must hold two classes"):
        _hg("sparse_logreg", 0.01, X, np.full(X.shape[0], 7), crit)


def test_string_labels_are_accepted_for_logistic():
    X, y, X_val, y_val = classification_data()
    names = np.array(["no", "yes"])
    as_int = _hg("sparse_logreg", 0.02, X, y, hl.HeldOutLogistic(X_val, y_val))
    crit_str = hl.HeldOutLogistic(X_val, names[y_val])
    as_str = _hg("sparse_logreg", 0.02, X, names[y], crit_str)
    assert as_str.gradient == pytest.approx(as_int.gradient, rel=1e-12)


@pytest.mark.parametrize("model", ["lasso", "elastic_net", "weighted_lasso",
                                   "sparse_logreg"])
@pytest.mark.parametrize("method", ["polish", "implicit", "implicit_forward",
                                    "forward", "backward"])
def test_alpha_above_alpha_max_gives_zero_gradient_and_warns(model, method):
    if model == "sparse_logreg":
        X, y, X_val, y_val = classification_data()
        crit = hl.HeldOutLogistic(X_val, y_val)
    else:
        X, y, X_val, y_val = regression_data()
        crit = hl.HeldOutMSE(X_val, y_val)
    amax = hl.alpha_max(model, X, y)
    alpha = {"elastic_net": [2 * np.max(amax), 0.5]}.get(model, 2 * amax)
    with pytest.warns(hl.AllZeroWarning, match="alpha_max"):
        result = _hg(model, alpha, X, y, crit, method=method)
    assert np.all(np.asarray(result.gradient) == 0.0)
    assert np.shape(result.gradient) == np.shape(alpha)
    assert result.solution.support.size == 0
    assert np.isfinite(result.value)


def test_unknown_names(data):
    X, y, crit = data
    with pytest.raises(ValueError, match="model must be one of"):
        _hg("ridge_lasso", 0.1, X, y, crit)
    with pytest.raises(ValueError, match="method must be 'auto' or one of"):
        _hg("lasso", 0.1, X, y, crit, method="magic")
    with pytest.raises(ValueError, match="linear_solver must be one of"):
        _hg("lasso", 0.1, X, y, crit, linear_solver="qr")
    with pytest.raises(ValueError, match="stop must be one of"):
        _hg("lasso", 0.1, X, y, crit, stop="never")
    with pytest.raises(ValueError, match="tol must be a positive finite number"):
        _hg("lasso", 0.1, X, y, crit, tol=-1.0)
    with pytest.raises(TypeError, match="criterion must have a method value_and_grad"):
        _hg("lasso", 0.1, X, y, object())


def test_given_point_errors(data):
    X, y, crit = data
    with pytest.raises(ValueError, match="coef= cannot be used with method='forward'"):
        _hg("lasso", 0.1, X, y, crit, method="forward", coef=np.zeros(30))
    with pytest.raises(ValueError, match=r"coef must have shape \(30,\)"):
        _hg("lasso", 0.1, X, y, crit, coef=np.zeros(3))


def test_unconverged_hypergradient_warns():
    # More features than the first working set, so one iteration cannot finish.
    X, y, X_val, y_val = regression_data(n_samples=60, n_features=300)
    with pytest.warns(hl.InnerConvergenceWarning, match="relative duality gap"):
        _hg("lasso", 0.01, X, y, hl.HeldOutMSE(X_val, y_val), method="implicit",
            max_iter=1)


def test_a_canonical_csc_matrix_is_used_as_is_and_others_are_copied():
    from hyperlasso._validation import check_matrix

    X = sp.random(20, 10, density=0.3, format="csc", random_state=0)
    assert check_matrix(X) is X
    unsorted = sp.csc_matrix((np.array([1.0, 2.0]), np.array([3, 1]), np.array([0, 2])),
                             shape=(5, 1))
    checked = check_matrix(unsorted)
    assert checked is not unsorted and checked.has_sorted_indices
    np.testing.assert_array_equal(unsorted.indices, [3, 1])  # the user's is untouched
    np.testing.assert_array_equal(checked.toarray(), unsorted.toarray())


def test_a_method_names_what_the_model_lacks():
    """A model without a function a method needs is refused before any work, with
    the method and the missing function named; other methods still run."""
    from dataclasses import dataclass

    @dataclass(frozen=True, eq=False)
    class NoDirections(hl.Lasso):
        directions = None
        directions_on = None

    @dataclass(frozen=True, eq=False)
    class NoPullback(hl.GroupLasso):
        pullback = None

    X, y, X_val, y_val = regression_data()
    criterion = hl.HeldOutMSE(X_val, y_val)
    alpha = 0.1 * hl.alpha_max("lasso", X, y)
    with pytest.raises(ValueError, match=r"method='forward' needs the model to provide "
                                         r"directions; NoDirections does not"):
        hl.hypergradient(NoDirections(), criterion, alpha, X, y, method="forward")
    with pytest.raises(ValueError, match="'implicit_forward' needs .* directions_on"):
        hl.hypergradient(NoDirections(), criterion, alpha, X, y, method="implicit_forward")
    ok = hl.hypergradient(NoDirections(), criterion, alpha, X, y, method="implicit")
    assert ok.gradient == pytest.approx(
        hl.hypergradient("lasso", criterion, alpha, X, y, method="implicit").gradient,
        rel=1e-12)
    groups = np.arange(X.shape[1]) // 3
    with pytest.raises(ValueError, match="'polish' needs the model to provide pullback"):
        hl.hypergradient(NoPullback(groups=groups), criterion, alpha, X, y)
