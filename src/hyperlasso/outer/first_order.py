"""First-order outer optimizers on theta = log(alpha), projected on the bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from hyperlasso.outer.base import OuterResult, Recorder, check_bounds


@dataclass
class GradientDescent:
    """Projected gradient descent with a backtracking line search.

    The line search tolerates approximate gradients (Pedregosa 2016): a step is
    accepted on sufficient decrease up to a slack of ``inner_tol`` times |f|, and
    when the objective supports it (``set_tolerance``), the inner tolerance
    decreases geometrically from ``initial_inner_tol`` to the objective's own.

    Parameters
    ----------
    max_iter : int, default=50
        Outer iterations.
    tol : float, default=1e-5
        Stop when the relative decrease of the objective over an iteration, and
        the projected step, are below ``tol``.
    initial_step : float, default=1.0
        First step length in theta (log scale), adapted by the line search.
    initial_inner_tol : float, default=1e-4
        Inner tolerance of the first iterations (if the objective accepts one).
    inner_tol_decay : float, default=0.5
        Factor applied to the inner tolerance at each iteration.
    """

    max_iter: int = 50
    tol: float = 1e-5
    initial_step: float = 1.0
    initial_inner_tol: float = 1e-4
    inner_tol_decay: float = 0.5

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Minimize ``fun`` from ``theta0`` within ``bounds`` (shape (n, 2))."""
        theta, bounds = check_bounds(theta0, bounds)
        rec = Recorder(fun, bounds, callback)
        schedule = _ToleranceSchedule(fun, self.initial_inner_tol, self.inner_tol_decay)
        value, grad = rec.value_and_grad(theta)
        step, message = self.initial_step / max(np.max(np.abs(grad)), 1e-12), "max_iter"
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            schedule.advance()
            new_theta, new_value, new_grad, step = self._line_search(
                rec, theta, value, grad, step, schedule.current)
            if new_theta is None:
                message = ("converged (projected gradient step is zero)"
                           if np.array_equal(rec.project(theta - grad), theta) else
                           "line search failed to decrease the objective")
                break
            decrease = (value - new_value) / max(abs(value), 1e-300)
            moved = np.max(np.abs(new_theta - theta))
            theta, value, grad = new_theta, new_value, new_grad
            if decrease < self.tol and moved < self.tol:
                message = "converged"
                break
        schedule.finish()
        return rec.result(n_iter, message)

    @staticmethod
    def _line_search(rec, theta, value, grad, step, slack_tol):
        slack = slack_tol * abs(value)
        for _ in range(30):
            candidate = rec.project(theta - step * grad)
            moved = candidate - theta
            if not np.any(moved):
                return None, value, grad, step
            new_value, new_grad = rec.value_and_grad(candidate)
            if new_value <= value + 0.5 * np.dot(grad, moved) + slack:
                return candidate, new_value, new_grad, step * 1.5
            step *= 0.5
        return None, value, grad, step


class _ToleranceSchedule:
    """Decreasing inner tolerance, for objectives with ``set_tolerance``/``tolerance``."""

    def __init__(self, fun, initial: float, decay: float):
        self.fun = fun
        self.active = callable(getattr(fun, "set_tolerance", None))
        self.final = fun.tolerance if self.active else 0.0
        self.current = max(initial, self.final)
        self.decay = decay

    def advance(self) -> None:
        if self.active:
            self.fun.set_tolerance(self.current)
            self.current = max(self.current * self.decay, self.final)

    def finish(self) -> None:
        if self.active:
            self.fun.set_tolerance(self.final)


@dataclass
class Adam:
    """Adam (Kingma and Ba 2015) on theta, projected on the bounds.

    Parameters
    ----------
    max_iter : int, default=50
    learning_rate : float, default=0.1
        Step in log scale (0.1 changes alpha by about 10 % per step).
    beta1, beta2, eps : float
        Adam's moment decays and regularizer.
    tol : float, default=1e-4
        Stop when the step in theta is below ``tol``.
    """

    max_iter: int = 50
    learning_rate: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    tol: float = 1e-4

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Minimize ``fun`` from ``theta0`` within ``bounds`` (shape (n, 2))."""
        theta, bounds = check_bounds(theta0, bounds)
        rec = Recorder(fun, bounds, callback)
        first, second = np.zeros_like(theta), np.zeros_like(theta)
        message = "max_iter"
        for iteration in range(1, self.max_iter + 1):
            _, grad = rec.value_and_grad(theta)
            first = self.beta1 * first + (1 - self.beta1) * grad
            second = self.beta2 * second + (1 - self.beta2) * grad**2
            unbiased = first / (1 - self.beta1**iteration)
            scale = np.sqrt(second / (1 - self.beta2**iteration)) + self.eps
            new_theta = rec.project(theta - self.learning_rate * unbiased / scale)
            if np.max(np.abs(new_theta - theta)) < self.tol:
                message = "converged"
                break
            theta = new_theta
        return rec.result(iteration, message)


@dataclass
class LBFGS:
    """L-BFGS-B from scipy with the bounds on theta.

    The objective reaches scipy divided by the largest component of its gradient
    at the start point, which makes the search independent of the criterion's
    units. Two reasons: with bounds on every variable, scipy's first step is the
    raw gradient, which is a unit step in log(alpha) only after this scaling (a
    criterion of 3000 with gradient 1 moved alpha by 0.1 % and stopped), and
    scipy measures the decrease relative to ``max(|f|, 1)``, so a criterion of
    magnitude 1e-4 stopped after one step unscaled. ``first_step`` multiplies the
    scaling (the first step then moves theta by that much). Values and gradients
    in the history are not rescaled.

    Parameters
    ----------
    max_iter : int, default=50
    tol : float, default=1e-6
        scipy's ``ftol`` (relative decrease) and projected-gradient tolerance
        (on the rescaled objective: ``tol / first_step`` times the start's largest
        gradient).
    patience : int, default=5
        Stop after this many evaluations without a relative decrease of the best
        value above ``tol`` (line searches stuck on a kink of the criterion).
    first_step : float, default=1.0
        Largest change of a component of theta in scipy's first step (the
        objective is divided by the start's largest gradient over this).
    xtol : float or None, default=None
        Stop when an iteration moves every component of theta by less than
        ``xtol`` (theta = log(alpha): 1e-2 is a 1 % change of alpha). Quasi-Newton
        steps shrink faster than linearly near the optimum, so the distance left
        is then well below ``xtol``. None: scipy's tests and ``patience`` only.
    """

    max_iter: int = 50
    tol: float = 1e-6
    patience: int = 5
    first_step: float = 1.0
    xtol: float | None = None

    def __post_init__(self):
        if not (np.isfinite(self.first_step) and self.first_step > 0):
            raise ValueError("first_step must be a positive number, got "
                             f"{self.first_step}.")
        if self.xtol is not None and not (np.isfinite(self.xtol) and self.xtol > 0):
            raise ValueError(f"xtol must be a positive number or None, got {self.xtol}.")

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Minimize ``fun`` from ``theta0`` within ``bounds`` (shape (n, 2))."""
        theta, bounds = check_bounds(theta0, bounds)
        rec = Recorder(fun, bounds, callback)
        start = rec.project(theta)
        first = rec.value_and_grad(start)
        scale = self.first_step * _unit_gradient_scale(*first)
        free = _free_components(first[1])
        if not free.any():
            return rec.result(0, "converged: the gradient is zero at the start")
        stall = _StallGuard(self.tol, self.patience, first[0])
        free_start = start[free]

        def scaled_value_and_grad(z):
            if np.array_equal(z, free_start):
                value, grad = first
            else:
                point = start.copy()
                point[free] = z
                value, grad = rec.value_and_grad(point)
            stall.observe(value)
            return value * scale, grad[free] * scale

        steps = _StepGuard(self.xtol, free_start)
        try:
            result = minimize(scaled_value_and_grad, free_start, jac=True,
                              method="L-BFGS-B", bounds=bounds[free],
                              callback=steps.observe,
                              options={"maxiter": self.max_iter, "ftol": self.tol,
                                       "gtol": self.tol})
        except _Stalled:
            return rec.result(stall.n_evaluations, f"stalled: {self.patience} evaluations "
                              "without a relative decrease above tol")
        except _SmallStep:
            return rec.result(steps.n_iter, f"converged: step in theta below xtol "
                              f"({self.xtol:g})")
        return rec.result(int(result.nit), str(result.message))


#: From this many hyperparameters (one penalty per feature of a wide design),
#: L-BFGS-B moves only the components whose gradient is non-zero at the start: for
#: a weighted Lasso started from the Lasso's optimum, the penalties of the features
#: in a support. The others keep their start (features outside every support,
#: whose penalty does not change the solution there; one that enters a support
#: later keeps the start's penalty). On 4.3 million features the full search's
#: workspace (25 vectors of theta's size) and scipy's list of bounds took 1.2 times
#: the bytes of X (benchmarks/bench_large.py); below this size they take under
#: 20 MB and every component is free. Restarting on a larger set whenever a
#: feature entered was tried: at a tenth of E2006-log1p's features the restarts
#: dropped L-BFGS's curvature pairs and the search took 181 evaluations (max_iter)
#: instead of 61, for a 5 % lower held-out error.
FREE_SET_FROM = 100_000


def _free_components(gradient: np.ndarray) -> np.ndarray:
    """The components L-BFGS-B moves (``FREE_SET_FROM``), a boolean mask."""
    if gradient.size < FREE_SET_FROM:
        return np.ones(gradient.shape, dtype=bool)
    return gradient != 0


class _Stalled(Exception):
    """Raised inside scipy's loop to stop a search that no longer decreases."""


class _StallGuard:
    """Counts evaluations since the best value last decreased by more than
    ``tol`` relative; raises ``_Stalled`` after ``patience`` of them.

    Hypergradients are exact only between support changes: near the optimum
    L-BFGS-B's line search can evaluate the same kink again and again (11
    evaluations within 1e-9 of each other were seen on the sparse TF-IDF design).
    """

    def __init__(self, tol: float, patience: int, value: float):
        self.tol, self.patience = tol, patience
        # scipy's first call is at the start point (its value is ``value``, not
        # evaluated again): every call is one evaluation, counted by ``observe``
        self.best, self.since, self.n_evaluations = value, 0, 0

    def observe(self, value: float) -> None:
        self.n_evaluations += 1
        if value < self.best - self.tol * abs(self.best):
            self.best, self.since = value, 0
            return
        self.best = min(self.best, value)
        self.since += 1
        if self.since >= self.patience:
            raise _Stalled


class _SmallStep(Exception):
    """Raised inside scipy's loop when an iteration moved theta by less than xtol."""


class _StepGuard:
    """scipy's per-iteration callback: raises ``_SmallStep`` after an iteration
    that moved every component of theta by less than ``xtol`` (if not None)."""

    def __init__(self, xtol: float | None, start: np.ndarray):
        self.xtol, self.previous, self.n_iter = xtol, np.array(start, dtype=float), 0

    def observe(self, intermediate_result) -> None:
        self.n_iter += 1
        theta = np.asarray(intermediate_result.x, dtype=float)
        moved = float(np.max(np.abs(theta - self.previous), initial=0.0))
        self.previous = theta.copy()
        if self.xtol is not None and moved < self.xtol:
            raise _SmallStep


def _unit_gradient_scale(value: float, grad: np.ndarray) -> float:
    """1 / max|grad|, or 1 / |value| if the gradient vanishes, or 1."""
    largest = float(np.max(np.abs(grad))) if grad.size else 0.0
    if np.isfinite(largest) and largest > 0:
        return 1.0 / largest
    if np.isfinite(value) and value != 0:
        return 1.0 / abs(value)
    return 1.0
