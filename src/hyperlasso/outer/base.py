"""What every outer optimizer shares: bounds, the recorded history, the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hyperlasso.outer.rows import CompactRows, row_store, stack_rows


@dataclass(frozen=True)
class History:
    """One row per evaluation of the objective, in evaluation order.

    Attributes
    ----------
    theta : ndarray of shape (n_evaluations, n_hyperparameters) or CompactRows
        Log-hyperparameters evaluated (``outer.rows.CompactRows``, rows read one
        at a time, from ``outer.rows.COMPACT_FROM`` hyperparameters).
    value : ndarray of shape (n_evaluations,)
        Objective values.
    grad : ndarray of shape (n_evaluations, n_hyperparameters) or CompactRows
        Gradients in theta (NaN for zero-order evaluations); as theta.
    n_inner : ndarray of int, shape (n_evaluations,)
        Inner-solver epochs of each evaluation.
    time : ndarray of shape (n_evaluations,)
        Seconds since the start of the optimization, at the end of each evaluation.
    support_size : ndarray of shape (n_evaluations,)
        Mean support size over folds (NaN where the objective does not say).
    fold_values : tuple of tuples of float
        The criterion on each fold, one tuple per evaluation (empty where the
        objective has no folds to report).
    """

    theta: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    n_inner: np.ndarray
    time: np.ndarray
    support_size: np.ndarray
    fold_values: tuple

    def __len__(self) -> int:
        return self.value.shape[0]


@dataclass(frozen=True)
class OuterResult:
    """Result of an outer optimization.

    Attributes
    ----------
    theta : ndarray of shape (n_hyperparameters,)
        Best log-hyperparameters evaluated.
    value : float
        Objective at ``theta``.
    n_iter : int
        Outer iterations (trials for searches).
    history : History
    message : str
        Why it stopped.
    """

    theta: np.ndarray
    value: float
    n_iter: int
    history: History
    message: str


@dataclass
class Recorder:
    """Wraps the objective, clips to bounds and records every evaluation.

    ``fun`` must have ``value_and_grad(theta)`` and ``value(theta)``, each
    returning an object with ``value``, ``gradient`` and ``n_inner``.
    """

    fun: object
    bounds: np.ndarray
    callback: Callable | None = None
    rows: list = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)
    #: theta and gradient of each evaluation, in stores made for the first one
    _thetas: list | CompactRows | None = field(default=None, init=False, repr=False)
    _grads: list | CompactRows | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        for name in ("value_and_grad", "value"):
            if not callable(getattr(self.fun, name, None)):
                raise TypeError(f"the objective must have a method {name}(theta); "
                                f"{type(self.fun).__name__} has none.")

    def project(self, theta) -> np.ndarray:
        """Clip theta into the bounds."""
        return np.clip(np.asarray(theta, dtype=float), self.bounds[:, 0], self.bounds[:, 1])

    def value_and_grad(self, theta) -> tuple[float, np.ndarray]:
        """Objective and its gradient at the projection of theta."""
        theta = self.project(theta)
        evaluation = self.fun.value_and_grad(theta)
        grad = np.atleast_1d(np.asarray(evaluation.gradient, dtype=float))
        self._record(theta, evaluation, grad)
        return evaluation.value, grad

    def value(self, theta) -> float:
        """Objective at the projection of theta (zero order)."""
        theta = self.project(theta)
        evaluation = self.fun.value(theta)
        self._record(theta, evaluation, np.full(theta.shape, np.nan))
        return evaluation.value

    def values(self, thetas) -> list[float]:
        """Objective at several points, recorded in order (zero order).

        An objective with ``values`` evaluates them together (trials on Dask);
        otherwise one after the other, as ``value``.
        """
        thetas = [self.project(theta) for theta in thetas]
        if not callable(getattr(self.fun, "values", None)):
            return [self.value(theta) for theta in thetas]
        evaluations = self.fun.values(thetas)
        for theta, evaluation in zip(thetas, evaluations, strict=True):
            self._record(theta, evaluation, np.full(theta.shape, np.nan))
        return [evaluation.value for evaluation in evaluations]

    def _record(self, theta, evaluation, grad) -> None:
        if self._thetas is None:  # many hyperparameters: compact rows (outer/rows.py)
            self._thetas, self._grads = row_store(theta), row_store(grad)
        self._thetas.append(theta.copy())
        self._grads.append(grad)
        row = (float(evaluation.value), int(evaluation.n_inner),
               time.perf_counter() - self.start,
               float(getattr(evaluation, "support_size", np.nan)),
               tuple(getattr(evaluation, "fold_values", ())))
        self.rows.append(row)
        if self.callback is not None:
            self.callback(len(self.rows), theta, evaluation)

    def result(self, n_iter: int, message: str) -> OuterResult:
        """The best evaluated point and the full history."""
        if not self.rows:
            raise RuntimeError("the optimizer made no evaluation.")
        values, inner, times, support, folds = zip(*self.rows, strict=True)
        history = History(stack_rows(self._thetas), np.array(values),
                          stack_rows(self._grads), np.array(inner), np.array(times),
                          np.array(support), folds)
        best = int(np.argmin(history.value))
        return OuterResult(history.theta[best].copy(), float(history.value[best]), n_iter,
                           history, message)


def check_bounds(theta0, bounds) -> tuple[np.ndarray, np.ndarray]:
    """Validate a start point and bounds of shape (n, 2); the start must lie inside."""
    theta0 = np.atleast_1d(np.asarray(theta0, dtype=float))
    bounds = np.asarray(bounds, dtype=float).reshape(-1, 2)
    if bounds.shape[0] != theta0.shape[0]:
        raise ValueError(f"bounds must have shape ({theta0.shape[0]}, 2), "
                         f"got {bounds.shape}.")
    if not (np.all(np.isfinite(bounds)) and np.all(bounds[:, 0] < bounds[:, 1])):
        raise ValueError(
            f"bounds must be finite with lower < upper, got {bounds.tolist()}."
        )
    if not np.all(np.isfinite(theta0)):
        raise ValueError(f"the start point must be finite, got {theta0}.")
    outside = (theta0 < bounds[:, 0] - 1e-12) | (theta0 > bounds[:, 1] + 1e-12)
    if np.any(outside):
        raise ValueError(
            "the start point lies outside the bounds (in log scale): "
            f"start {np.exp(theta0[outside])}, bounds {np.exp(bounds[outside]).tolist()}."
        )
    return theta0, bounds


def make_optimizer(optimizer, **defaults):
    """Resolve an optimizer name ("gd", "adam", "lbfgs", "grid", "random", "tpe")."""
    from hyperlasso.outer.first_order import LBFGS, Adam, GradientDescent
    from hyperlasso.outer.search import GridSearch, RandomSearch, TPESearch

    names = {"gd": GradientDescent, "gradient_descent": GradientDescent, "adam": Adam,
             "lbfgs": LBFGS, "grid": GridSearch, "random": RandomSearch,
             "tpe": TPESearch}
    if isinstance(optimizer, str):
        if optimizer not in names:
            raise ValueError(f"optimizer must be one of {sorted(names)} or an optimizer "
                             f"instance, got {optimizer!r}.")
        return names[optimizer](**defaults)
    if not callable(getattr(optimizer, "minimize", None)):
        raise TypeError("optimizer must be a name or have a method "
                        "minimize(fun, theta0, bounds, callback=None).")
    return optimizer
