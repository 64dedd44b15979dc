"""Objectives in alpha: held-out and K-fold criteria, each fold its own inner problem.

An objective is created inside an estimator's ``fit`` and owns the state that lives
across outer steps (one warm start per fold), never the user's objects. It offers

- ``value_and_grad(alpha) -> Evaluation`` (value, gradient in alpha, inner work);
- ``value(alpha) -> Evaluation`` (no gradient: for zero-order searches);
- ``solution(alpha)`` is not needed: estimators refit on all data themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from joblib import Parallel, delayed

from hyperlasso.criteria.heldout import HeldOutCriterion
from hyperlasso.hypergradients import Settings, WarmStart, hypergradient_on
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design
from hyperlasso.inner.threads import single_threaded_blas


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an objective.

    Attributes
    ----------
    value : float
        The criterion (mean over folds).
    gradient : float, ndarray or None
        Its gradient in alpha (same shape), None for value-only evaluations.
    n_inner : int
        Inner-solver epochs spent, all folds together.
    support_size : float
        Mean support size over folds.
    fold_values : tuple of float
        The criterion on each fold (empty where folds are not what the value
        averages, as SURE's two inner problems).
    """

    value: float
    gradient: float | np.ndarray | None
    n_inner: int
    support_size: float
    fold_values: tuple = ()


@dataclass(frozen=True, eq=False)
class Fold:
    """A training part (validated design and target) and a held-out criterion."""

    design: Design
    y: np.ndarray
    criterion: HeldOutCriterion  # or any object with value_and_grad(coef, intercept)


class FoldObjective:
    """Mean (or sum) of criteria over folds: hold-out, K-fold CV, SURE.

    Parameters
    ----------
    model : Model
    folds : list of Fold
    settings : Settings
        How hypergradients are computed (method, inner tolerance, ...).
    n_jobs : int or None, default=None
        Folds run in parallel threads through joblib (the numba kernels release
        the GIL); None means 1.
    reduce : {"mean", "sum"}, default="mean"
        How fold criteria combine: the mean for cross-validation, the sum for
        SURE's two inner problems.
    offset : float, default=0.0
        Constant added to the combined value.
    """

    def __init__(self, model: Model, folds: list[Fold], settings: Settings,
                 n_jobs: int | None = None, reduce: str = "mean", offset: float = 0.0):
        if not folds:
            raise ValueError("folds must hold at least one training/validation split.")
        if reduce not in ("mean", "sum"):
            raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}.")
        self.model = model
        self.folds = folds
        self.settings = settings
        self.n_jobs = n_jobs
        self._combine = np.mean if reduce == "mean" else np.sum
        self.offset = offset
        self._warm: list[WarmStart | None] = [None] * len(folds)
        #: Called with no argument as each fold's inner problem ends (progress bars).
        self.on_fold_done = None

    @property
    def tolerance(self) -> float:
        """Inner tolerance of the hypergradient settings."""
        return self.settings.resolved().tol

    def set_tolerance(self, tol: float) -> None:
        """Change the inner tolerance (outer optimizers tighten it as they go)."""
        self.settings = replace(self.settings, tol=float(tol))

    def value_and_grad(self, alpha) -> Evaluation:
        """Mean criterion over folds and its gradient in alpha."""
        results = self._map(self._fold_hypergradient, alpha)
        gradient = self._combine([np.asarray(r.gradient) for r in results], axis=0)
        if np.ndim(alpha) == 0:
            gradient = float(gradient)
        return self._evaluation([r.value for r in results], gradient,
                                [r.solution for r in results])

    def value(self, alpha) -> Evaluation:
        """Mean criterion over folds, without gradient (one inner solve per fold)."""
        results = self._map(self._fold_value, alpha)
        return self._evaluation([v for v, _ in results], None, [s for _, s in results])

    def _map(self, function, alpha):
        if self.n_jobs in (None, 1) or len(self.folds) == 1:
            return [function(k, alpha) for k in range(len(self.folds))]
        parallel = Parallel(n_jobs=self.n_jobs, prefer="threads")
        with single_threaded_blas():  # BLAS threads would compete with the folds'
            return parallel(delayed(function)(k, alpha) for k in range(len(self.folds)))

    def _fold_hypergradient(self, k: int, alpha):
        fold = self.folds[k]
        result = hypergradient_on(self.model, fold.criterion, alpha, fold.design, fold.y,
                                  self.settings, warm_start=self._warm[k],
                                  warn_all_zero=False)
        self._warm[k] = result.warm_start
        self._fold_finished()
        return result

    def _fold_finished(self) -> None:
        if self.on_fold_done is not None:
            self.on_fold_done()

    def _fold_value(self, k: int, alpha):
        fold = self.folds[k]
        alpha = self.model.check_alpha(alpha, fold.design.shape[1])
        warm = self._warm[k]
        solution = self.model.solve(
            self.model.problem(alpha, fold.design, fold.y),
            tol=self.settings.resolved().tol, stop=self.settings.stop,
            max_iter=self.settings.max_iter,
            warm_start=None if warm is None else (warm.coef, warm.intercept),
        )
        self._warm[k] = WarmStart(solution.coef, solution.intercept)
        self._fold_finished()
        point = self.model.user_point(solution.coef, solution.intercept)
        return fold.criterion.value(*point), solution

    def _evaluation(self, values, gradient, solutions) -> Evaluation:
        per_fold = tuple(float(v) for v in values) if self._combine is np.mean else ()
        return Evaluation(
            value=float(self._combine(values)) + self.offset, gradient=gradient,
            n_inner=int(sum(s.n_epochs for s in solutions)),
            support_size=float(np.mean([s.support.size for s in solutions])),
            fold_values=per_fold,
        )
