"""Outer optimizers: each decreases the objective, stays in bounds, records all."""

from __future__ import annotations

import numpy as np
import pytest

from hyperlasso.criteria import Evaluation
from hyperlasso.outer import make_optimizer

OPTIMIZERS = ["gd", "adam", "lbfgs", "grid", "random", "tpe"]


class Quadratic:
    """f(theta) = sum w (theta - c)^2 with a minimum outside the bounds in theta[1]."""

    def __init__(self, dim=2):
        self.center = np.array([0.3, 5.0, -0.5])[:dim]
        self.weights = np.array([1.0, 3.0, 0.5])[:dim]
        self.calls = 0
        self.tolerances = []
        self.tolerance = 1e-8

    def value_and_grad(self, theta):
        self.calls += 1
        diff = theta - self.center
        return Evaluation(float(np.sum(self.weights * diff**2)), 2 * self.weights * diff,
                          n_inner=7, support_size=1.0)

    def value(self, theta):
        return Evaluation(self.value_and_grad(theta).value, None, 7, 1.0)

    def set_tolerance(self, tol):
        self.tolerances.append(tol)


BOUNDS = np.array([[-2.0, 2.0], [-1.0, 1.0]])
START = np.array([-1.5, -0.5])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_decreases_and_respects_bounds(name):
    fun = Quadratic()
    result = make_optimizer(name, **({} if name == "grid" else {"max_iter": 40})).minimize(
        fun, START, BOUNDS)
    start_value = fun.value_and_grad(START).value
    optimum = 3.0 * (1.0 - 5.0) ** 2  # at theta = (0.3, 1), on the bound
    gap_allowed = 1e-3 if name in ("gd", "lbfgs", "adam") else 0.2 * (start_value - optimum)
    assert result.value < start_value
    assert result.value - optimum < gap_allowed
    history = result.history
    assert np.all(history.theta >= BOUNDS[:, 0]) and np.all(history.theta <= BOUNDS[:, 1])
    # The constrained optimum is theta = (0.3, 1): the upper bound of theta[1].
    if name in ("gd", "lbfgs", "adam"):
        np.testing.assert_allclose(result.theta, [0.3, 1.0], atol=0.05)


class Scaled(Quadratic):
    """The quadratic times a small constant (a mean squared error on tiny targets)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def value_and_grad(self, theta):
        evaluation = super().value_and_grad(theta)
        return Evaluation(evaluation.value * self.factor, evaluation.gradient * self.factor,
                          n_inner=7, support_size=1.0)


@pytest.mark.parametrize("name", ["gd", "lbfgs", "adam"])
def test_first_order_optimizers_do_not_depend_on_the_scale_of_the_objective(name):
    # scipy's L-BFGS-B measures decrease relative to max(|f|, 1): without the
    # rescaling at the start point an objective of size 1e-6 stopped after one step
    # (the sparse TF-IDF tuning benchmark: 2 evaluations, loss +270 %).
    results = [make_optimizer(name, max_iter=40).minimize(Scaled(factor), START, BOUNDS)
               for factor in (1.0, 1e-7)]
    for result in results:
        np.testing.assert_allclose(result.theta, [0.3, 1.0], atol=0.05)
    assert len(results[1].history) >= 0.5 * len(results[0].history)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_history_is_complete(name):
    fun = Quadratic()
    result = make_optimizer(name, **({} if name == "grid" else {"max_iter": 10})).minimize(
        fun, START, BOUNDS)
    history = result.history
    assert len(history) == fun.calls  # every evaluation is recorded, none twice
    assert history.theta.shape == (fun.calls, 2)
    assert history.grad.shape == (fun.calls, 2)
    assert np.all(np.diff(history.time) >= 0)
    assert np.all(history.n_inner == 7)
    best = np.argmin(history.value)
    assert result.value == history.value[best]
    np.testing.assert_array_equal(result.theta, history.theta[best])
    if name in ("grid", "random", "tpe"):
        assert np.all(np.isnan(history.grad))
    else:
        assert np.all(np.isfinite(history.grad))


def test_grid_visits_large_alpha_first_and_every_point():
    fun = Quadratic(dim=1)
    result = make_optimizer("grid").minimize(fun, [0.0], [[-2.0, 2.0]])
    assert len(result.history) == 30
    assert np.all(np.diff(result.history.theta[:, 0]) < 0)  # the warm-start path


def test_grid_refuses_many_hyperparameters():
    with pytest.raises(ValueError, match="grid search over 3 hyperparameters"):
        make_optimizer("grid").minimize(Quadratic(dim=3), np.zeros(3),
                                        np.tile([-1.0, 1.0], (3, 1)))


def test_gradient_descent_tightens_the_inner_tolerance():
    fun = Quadratic()
    make_optimizer("gd", max_iter=8).minimize(fun, START, BOUNDS)
    tolerances = fun.tolerances
    assert tolerances[0] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(tolerances[:-1], tolerances[1:-1], strict=False))
    assert tolerances[-1] == fun.tolerance  # restored at the end


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_start_outside_bounds_is_an_error(name):
    with pytest.raises(ValueError, match="start point lies outside the bounds"):
        make_optimizer(name).minimize(Quadratic(), [3.0, 0.0], BOUNDS)


def test_bad_bounds_and_names():
    with pytest.raises(ValueError, match="lower < upper"):
        make_optimizer("lbfgs").minimize(Quadratic(), START, [[1.0, -1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("newton")
    with pytest.raises(TypeError, match="minimize"):
        make_optimizer(object())


class KinkedPlateau(Quadratic):
    """(theta - 0.3)^2 outside a plateau of half-width 0.01 where the value is
    constant and the gradient points away (a hypergradient across a kink)."""

    def value_and_grad(self, theta):
        diff = float(theta[0] - 0.3)
        if abs(diff) > 0.01:
            return Evaluation(diff**2, np.array([2 * diff]), n_inner=7, support_size=1.0)
        return Evaluation(1e-4, np.array([-np.sign(diff) or 1.0]), n_inner=7,
                          support_size=1.0)


def test_lbfgs_stops_when_line_searches_stall_on_a_kink():
    fun = KinkedPlateau(dim=1)
    optimizer = make_optimizer("lbfgs", max_iter=50)
    result = optimizer.minimize(fun, np.array([-1.5]), np.array([[-2.0, 2.0]]))
    assert result.message.startswith("stalled")
    values = result.history.value
    first_on_plateau = int(np.argmax(values <= 1e-4 + 1e-15))
    # At most `patience` evaluations after the last decrease, none wasted beyond.
    assert len(values) - 1 - first_on_plateau <= optimizer.patience
    assert result.value == pytest.approx(1e-4)


@pytest.mark.parametrize("first_step", [1.0, 0.25])
def test_lbfgs_first_step_bounds_the_first_move(first_step):
    """scipy's first step is the scaled gradient: its largest component moves by
    ``first_step`` (the start and its neighbour are inside the bounds)."""
    fun = Quadratic(dim=1)
    wide = np.array([[-10.0, 10.0]])
    result = make_optimizer("lbfgs", first_step=first_step).minimize(
        fun, np.array([3.0]), wide)
    theta = result.history.theta
    assert np.max(np.abs(theta[1] - theta[0])) == pytest.approx(first_step, rel=1e-12)
    assert result.theta[0] == pytest.approx(0.3, abs=1e-4)


@pytest.mark.parametrize("first_step", [0.0, -1.0, np.inf])
def test_lbfgs_first_step_must_be_positive(first_step):
    with pytest.raises(ValueError, match="first_step must be a positive number"):
        make_optimizer("lbfgs", first_step=first_step)


class Wavy:
    """f(theta) = (theta - 0.3)^2 + 1e-3 sin(40 theta): a minimum near 0.3 with
    small ripples, on which L-BFGS-B's own tests spend evaluations on tiny steps."""

    def value_and_grad(self, theta):
        t = float(theta[0])
        value = (t - 0.3) ** 2 + 1e-3 * np.sin(40 * t)
        return Evaluation(value, np.array([2 * (t - 0.3) + 0.04 * np.cos(40 * t)]),
                          n_inner=1, support_size=1.0)

    def value(self, theta):
        return Evaluation(self.value_and_grad(theta).value, None, 1, 1.0)


def test_lbfgs_xtol_stops_after_a_small_step():
    """With ``xtol`` the search stops at the first iteration that moves theta by
    less than xtol; it ends where the run without it ends, within 10 xtol, in
    fewer evaluations."""
    bounds, start = np.array([[-10.0, 10.0]]), np.array([3.0])
    plain = make_optimizer("lbfgs").minimize(Wavy(), start, bounds)
    short = make_optimizer("lbfgs", xtol=1e-2).minimize(Wavy(), start, bounds)
    assert short.message.startswith("converged: step in theta below xtol")
    assert len(short.history.theta) < len(plain.history.theta)
    assert short.theta[0] == pytest.approx(plain.theta[0], abs=0.1)
    assert abs(short.history.theta[1, 0] - start[0]) > 1e-2  # not stopped at once


@pytest.mark.parametrize("xtol", [0.0, -1.0, np.nan])
def test_lbfgs_xtol_must_be_positive(xtol):
    with pytest.raises(ValueError, match="xtol must be a positive number or None"):
        make_optimizer("lbfgs", xtol=xtol)


class SupportedQuadratic:
    """f(theta) = sum over ``support`` of w (theta - c)^2, plus, with ``late``,
    max(0, -theta[0]) (theta[late] - c)^2: a component whose gradient is zero until
    theta[0] < 0 (a feature entering a support). Outside the support the gradient
    is exactly zero, as a weighted Lasso's is off every fold's support."""

    def __init__(self, dim: int, support: np.ndarray, late: int | None = None):
        self.center = np.linspace(-0.5, 0.5, dim)
        self.weights = np.linspace(1.0, 3.0, dim)
        self.support, self.late = support, late

    def value_and_grad(self, theta):
        diff = np.zeros_like(theta)
        diff[self.support] = (theta - self.center)[self.support]
        value, grad = float(np.sum(self.weights * diff**2)), 2 * self.weights * diff
        if self.late is not None:
            gate, late_diff = max(0.0, -theta[0]), theta[self.late] - self.center[self.late]
            value += gate * late_diff**2
            grad[self.late] += 2 * gate * late_diff
            grad[0] -= late_diff**2 if gate > 0 else 0.0
        return Evaluation(value, grad, n_inner=1, support_size=float(self.support.size))

    def value(self, theta):
        return Evaluation(self.value_and_grad(theta).value, None, 1, 1.0)


@pytest.fixture
def free_set_from_eight(monkeypatch):
    from hyperlasso.outer import first_order

    monkeypatch.setattr(first_order, "FREE_SET_FROM", 8)


def test_lbfgs_on_many_hyperparameters_moves_only_the_supported_ones(monkeypatch):
    """From FREE_SET_FROM components, L-BFGS-B runs on those with a non-zero
    gradient at the start: the others keep their start exactly, and the search
    is the full one's (whose steps are zero there too) to rounding."""
    from hyperlasso.outer import first_order

    dim, support = 12, np.array([0, 3, 4, 9])
    bounds, start = np.tile([-2.0, 2.0], (dim, 1)), np.full(dim, 1.5)
    fun = SupportedQuadratic(dim, support)
    full = make_optimizer("lbfgs").minimize(fun, start, bounds)
    monkeypatch.setattr(first_order, "FREE_SET_FROM", 8)
    free = make_optimizer("lbfgs").minimize(fun, start, bounds)
    fixed = np.setdiff1d(np.arange(dim), support)
    assert np.all(np.asarray(free.history.theta)[:, fixed] == start[fixed])
    assert len(free.history.value) == len(full.history.value)
    # rounding: scipy's dot products over 4 or 12 terms (8 exact zeros) may differ
    # in the last bit; the iterates are O(1)
    np.testing.assert_allclose(np.asarray(free.history.theta),
                               np.asarray(full.history.theta), atol=1e-12)
    assert free.value == pytest.approx(full.value, rel=1e-12, abs=1e-15)


def test_lbfgs_free_set_is_fixed_at_the_start(free_set_from_eight):
    """A component whose gradient becomes non-zero later (theta[0] < 0 turns on
    theta[5]) keeps its start from FREE_SET_FROM components; below it, it moves."""
    dim, support = 12, np.array([0, 3])
    fun = SupportedQuadratic(dim, support, late=5)
    bounds, start = np.tile([-2.0, 2.0], (dim, 1)), np.full(dim, 1.5)
    many = make_optimizer("lbfgs").minimize(fun, start, bounds)
    assert many.theta[0] < 0 and many.theta[5] == start[5]
    small = SupportedQuadratic(6, support, late=5)
    few = make_optimizer("lbfgs").minimize(small, start[:6], bounds[:6])
    # scipy stops on a relative decrease of f below 1e-6: theta[5] (curvature 1)
    # was 1.2e-4 from its minimum
    assert few.theta[0] < 0 and few.theta[5] == pytest.approx(small.center[5], abs=1e-3)


def test_lbfgs_stops_at_once_on_a_zero_gradient(free_set_from_eight):
    """Nothing to move (every penalty above alpha_max: the gradient is zero)."""
    dim = 12
    fun = SupportedQuadratic(dim, np.array([], dtype=int))
    result = make_optimizer("lbfgs").minimize(fun, np.zeros(dim), np.tile([-1.0, 1.0],
                                                                          (dim, 1)))
    assert len(result.history.value) == 1 and result.message.startswith("converged")
