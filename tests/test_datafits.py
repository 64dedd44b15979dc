"""Datafits as types: values and derivatives against closed forms, clear errors."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from numba.core.errors import TypingError
from scipy.optimize import approx_fprime
from scipy.special import expit

from hyperlasso.inner import datafits
from hyperlasso.inner.problem import Design, InnerProblem

RNG = np.random.default_rng(0)
N = 7
Z = RNG.standard_normal(N)
Y_REAL = RNG.standard_normal(N)
Y_SIGN = np.where(RNG.standard_normal(N) > 0, 1.0, -1.0)


def _closed_forms(cls, y, z):
    """F, its gradient and n times its Hessian diagonal, written with numpy."""
    n = z.size
    if cls is datafits.Quadratic:
        return 0.5 * np.sum((y - z) ** 2) / n, (z - y) / n, np.ones(n)
    margin = y * z
    s = expit(margin)
    return np.sum(np.logaddexp(0.0, -margin)) / n, -y * expit(-margin) / n, s * (1 - s)


@pytest.mark.parametrize("cls, y", [(datafits.Quadratic, Y_REAL),
                                    (datafits.Logistic, Y_SIGN)])
def test_values_and_derivatives_match_closed_forms(cls, y):
    """Sums of N = 7 terms of size O(1): 1e-14 relative is rounding level; the
    finite-difference check of the gradient (step 1e-7) holds to 1e-6. The
    functions take the datafit's state at z (the residual z - y for the
    quadratic, z for the logistic loss); the closed forms take z."""
    datafit = cls(y, np.ones(3))
    value, grad, curvature = _closed_forms(cls, y, Z)
    state = cls.state(Z, y)
    assert datafits.value(datafit, state) == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(datafits.raw_grad(datafit, state), grad, rtol=1e-14)
    np.testing.assert_allclose(datafits.curvature(datafit, state), curvature, rtol=1e-14)
    np.testing.assert_allclose(datafits.raw_hessian(datafit, state), curvature / N,
                               rtol=1e-14)
    fd = approx_fprime(Z, lambda z: datafits.value(datafit, cls.state(z, y)), 1e-7)
    np.testing.assert_allclose(fd, grad, rtol=1e-6, atol=1e-8)
    assert datafits.intercept_update_step(datafit, state) == pytest.approx(
        np.sum(grad) / cls.lipschitz_factor, rel=1e-13)


def test_the_quadratic_state_is_the_residual_and_the_logistic_state_the_predictor():
    np.testing.assert_array_equal(datafits.Quadratic.state(Z, Y_REAL), Z - Y_REAL)
    assert datafits.Logistic.state(Z, Y_SIGN) is Z


@pytest.mark.parametrize("cls, y", [(datafits.Quadratic, Y_REAL),
                                    (datafits.Logistic, Y_SIGN)])
def test_dual_value_is_a_lower_bound_tight_at_the_gradient(cls, y):
    """Fenchel: -F*(-theta) <= F(z) - <theta, z>... at theta = -grad F(z) it is an
    equality (weak duality with equality at the optimum of the conjugate)."""
    datafit = cls(y, np.ones(3))
    state = cls.state(Z, y)
    theta = -datafits.raw_grad(datafit, state)
    # -F*(-theta) = min_z F(z) + <theta, z>, attained where grad F(z) = -theta
    assert datafits.dual_value(datafit, theta) == pytest.approx(
        datafits.value(datafit, state) + theta @ Z, rel=1e-12)
    other = theta * 0.5
    assert datafits.dual_value(datafit, other) <= datafits.value(datafit, state) + other @ Z


def test_gradient_scalar_is_a_column_of_the_gradient():
    X = np.asfortranarray(RNG.standard_normal((N, 4)))
    datafit = datafits.Logistic(Y_SIGN, np.ones(4))
    expected = X.T @ datafits.raw_grad(datafit, Z)
    got = [_gradient_scalar(X, datafit, Z, j) for j in range(4)]
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def _gradient_scalar(X, datafit, z, j):
    from numba import njit

    return njit(lambda X, d, z, j: datafits.gradient_scalar(X, d, z, j))(X, datafit, z, j)


class Huber(NamedTuple):
    y: np.ndarray
    lipschitz: np.ndarray


def test_unregistered_datafit_fails_to_compile_with_a_clear_error():
    with pytest.raises(TypingError, match="is not a registered datafit"):
        datafits.value(Huber(Y_REAL, np.ones(3)), Z)


@pytest.mark.parametrize("datafit", ["huber", 0, None, Huber])
def test_inner_problem_refuses_an_unknown_datafit(datafit):
    X = np.ones((N, 2))
    with pytest.raises(ValueError, match=r"datafit must be one of \['logistic', "
                                         r"'quadratic'\]"):
        InnerProblem(Design.of(X, True), Y_REAL, datafit, np.ones(2))


def test_inner_problem_accepts_a_datafit_name():
    problem = InnerProblem(Design.of(np.ones((N, 2)) + np.eye(N, 2), True), Y_SIGN,
                           "logistic", np.ones(2))
    assert problem.datafit is datafits.Logistic
    assert isinstance(problem.kernel_datafit, datafits.Logistic)


@pytest.mark.parametrize("cls, factor", [(datafits.Quadratic, 1.0),
                                         (datafits.Logistic, 0.25)])
def test_lipschitz_constants_use_the_class_bound(cls, factor):
    """||X_j||^2 / n times the bound on the curvature (1 and 1/4): a too large
    constant still converges, only slower, so no other test would notice."""
    col_sq_norms = np.array([4.0, 2.0])
    np.testing.assert_array_equal(cls.get_lipschitz(col_sq_norms, 8),
                                  factor * col_sq_norms / 8)


@pytest.mark.parametrize("chunk", [1, 5, 1 << 22])
def test_sparse_column_norms_in_chunks_equal_one_pass(monkeypatch, chunk):
    """Column squared norms and sums of a CSC design, computed a bounded number of
    stored entries at a time (no full-size temporary of the data), are bitwise the
    one-pass reduction's and the dense ones, empty columns included."""
    import scipy.sparse as sp

    from hyperlasso.inner import problem

    X = sp.random(40, 300, density=0.05, format="csc", random_state=3)
    X = sp.csc_matrix(X.multiply(np.arange(300) % 7 != 0))  # every 7th column empty
    X.eliminate_zeros()
    nonempty = np.flatnonzero(np.diff(X.indptr))
    one_pass = np.zeros(300)
    one_pass[nonempty] = np.add.reduceat(np.square(X.data), X.indptr[nonempty])
    monkeypatch.setattr(problem, "REDUCE_CHUNK", chunk)
    design = Design.of(X, fit_intercept=True)
    np.testing.assert_array_equal(design.col_sq_norms, one_pass)
    np.testing.assert_allclose(design.col_sq_norms, (X.toarray() ** 2).sum(0), rtol=1e-14)
    np.testing.assert_allclose(design.col_sums, X.toarray().sum(0), rtol=1e-13, atol=1e-15)
    assert np.all(design.col_sq_norms[::7] == 0)
