"""The graphical lasso's Newton finisher (``inner.graphical_newton``)."""

from __future__ import annotations

import numpy as np
import pytest

import hyperlasso as hl
from hyperlasso.hypergradients.graphical import SupportSystem, graphical_hypergradient
from hyperlasso.inner.graphical import (
    empirical_covariance,
    inverse_spd,
    optimality_violation,
    solve_graphical,
)
from hyperlasso.inner.graphical_newton import newton_finish


def _correlated(p=40, n=60, rho=0.9, seed=0):
    """Standardized AR(1) samples: the slow case of the column sweeps."""
    rng = np.random.default_rng(seed)
    index = np.arange(p)
    covariance = rho ** np.abs(index[:, None] - index[None, :])
    X = rng.multivariate_normal(np.zeros(p), covariance, size=n)
    X_val = rng.multivariate_normal(np.zeros(p), covariance, size=n)
    return (X - X.mean(0)) / X.std(0), X_val


def _finish(S, Lam, Theta, tol):
    return newton_finish(S, Lam, Theta, inverse_spd(Theta), tol)


@pytest.mark.parametrize("alpha", [0.05, 0.15, 0.4])
def test_newton_finish_reaches_the_sweeps_solution_in_fewer_sweeps(alpha):
    """Same solution as the sweeps alone, both solved to a violation of 1e-12
    (distance 1e-9: the violation times the conditioning of Sigma (x) Sigma here),
    certified by the exact optimality violation, in fewer sweeps."""
    X, _ = _correlated()
    S = empirical_covariance(X)
    Lam = alpha * (1 - np.eye(S.shape[0]))
    sweeps = solve_graphical(S, Lam, tol=1e-12, newton=False)
    finished = solve_graphical(S, Lam, tol=1e-12)
    assert finished.converged and finished.kkt <= 1e-12
    assert optimality_violation(S, Lam, finished.precision,
                                np.linalg.inv(finished.precision)) < 1e-10
    np.testing.assert_array_equal(finished.support, sweeps.support)
    np.testing.assert_allclose(finished.precision, sweeps.precision, rtol=0,
                               atol=1e-9 * np.abs(sweeps.precision).max())
    assert finished.n_iter < sweeps.n_iter / 2


def test_newton_finish_repairs_a_support_one_entry_short_or_long():
    """From the solution with one edge removed (it must enter) or one spurious edge
    added (it must leave), the steps reach the solution; from a support with a
    wrong sign everywhere they refuse (None), never returning a wrong point."""
    X, _ = _correlated(p=20, seed=3)
    S = empirical_covariance(X)
    Lam = 0.15 * (1 - np.eye(20))
    reference = solve_graphical(S, Lam, tol=1e-13, newton=False)
    Theta = reference.precision
    edges = np.argwhere(np.triu(reference.support, 1))
    zeros = np.argwhere(np.triu(~reference.support, 1))
    assert len(edges) and len(zeros)

    short = Theta.copy()
    (i, j) = edges[np.argmin(np.abs(Theta[tuple(edges.T)]))]
    short[i, j] = short[j, i] = 0.0
    long = Theta.copy()
    (k, m) = zeros[0]
    long[k, m] = long[m, k] = -1e-3 * np.sign(S[k, m])  # against its condition
    for start in (short, long):
        result = _finish(S, Lam, start, 1e-11)
        assert result is not None
        theta, _, kkt, _ = result
        assert kkt <= 1e-11
        np.testing.assert_array_equal(theta != 0, reference.support)
        np.testing.assert_allclose(theta, Theta, rtol=0, atol=1e-9 * np.abs(Theta).max())

    flipped = np.diag(np.diag(Theta)) - 0.5 * (Theta - np.diag(np.diag(Theta)))
    assert np.all(np.linalg.eigvalsh(flipped) > 0)  # a valid start, signs all wrong
    result = _finish(S, Lam, flipped, 1e-11)
    if result is not None:  # refused, or the solution itself, certified
        assert result[2] <= 1e-11
        np.testing.assert_allclose(result[0], Theta, rtol=0,
                                   atol=1e-9 * np.abs(Theta).max())


def test_hypergradient_with_the_newton_factorization_equals_a_fresh_one():
    """The hypergradient reuses the finisher's last factorization (refined against
    the solution's Sigma): equal to one with a new factorization at that Sigma to
    1e-10, and to central differences of the criterion to 1e-6."""
    X, X_val = _correlated(seed=1)
    S = empirical_covariance(X)
    criterion = hl.HeldOutGaussianNLL(X_val)
    mask = 1 - np.eye(S.shape[0])
    alpha, h = 0.12, 1e-4
    result = graphical_hypergradient(S, alpha * mask, criterion, method="implicit",
                                     tol=1e-12)
    solution = result.solution
    assert solution.newton_system is not None
    fresh = SupportSystem(solution.covariance, solution.support)
    grad_theta = criterion.value_and_grad(solution.precision)[1]
    reference = -fresh.solve(grad_theta) * np.sign(solution.precision)
    np.testing.assert_allclose(result.gradient, reference, rtol=0,
                               atol=1e-10 * np.abs(reference).max())

    values = [graphical_hypergradient(S, alpha * np.exp(s * h) * mask, criterion,
                                      method="implicit", tol=1e-13).value
              for s in (1, -1)]
    fd = (values[0] - values[1]) / (2 * h * alpha)
    assert abs(np.sum(result.gradient * mask) - fd) < 1e-6 * abs(fd)
