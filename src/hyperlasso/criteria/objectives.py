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

from hyperlasso.criteria.heldout import HeldOutCriterion
from hyperlasso.criteria.parallel import FoldRunner
from hyperlasso.hypergradients import Settings, WarmStart, hypergradient_on
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design


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

    def materialized(self) -> Fold:
        """The fold itself (see ``criteria.splits.RowFold`` for one built on use)."""
        return self


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
        the GIL), or on Dask inside ``joblib.parallel_backend("dask")`` (see
        ``criteria/parallel.py``); None means 1 outside such a context.
    reduce : {"mean", "sum"}, default="mean"
        How fold criteria combine: the mean for cross-validation, the sum for
        SURE's two inner problems.
    offset : float, default=0.0
        Constant added to the combined value.
    all_data_fold : int or None, default=None
        The fold that trains on all the data, if one does (SURE's first inner
        problem, an external validation criterion): its last solution starts the
        estimators' refit (``all_data_start``).
    """

    def __init__(self, model: Model, folds: list[Fold], settings: Settings,
                 n_jobs: int | None = None, reduce: str = "mean", offset: float = 0.0,
                 all_data_fold: int | None = None):
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
        self.all_data_fold = all_data_fold
        self._warm: list[WarmStart | None] = [None] * len(folds)
        self._runner = FoldRunner(folds, n_jobs)
        #: Called with no argument as each fold's inner problem ends (progress bars).
        self.on_fold_done = None

    @property
    def tolerance(self) -> float:
        """Inner tolerance of the hypergradient settings."""
        return self.settings.resolved().tol

    def set_tolerance(self, tol: float) -> None:
        """Change the inner tolerance (outer optimizers tighten it as they go)."""
        self.settings = replace(self.settings, tol=float(tol))

    def all_data_start(self) -> WarmStart | None:
        """The last solution of the fold that trains on all the data (at the
        last alpha evaluated), or None if no fold does or none was evaluated."""
        return None if self.all_data_fold is None else self._warm[self.all_data_fold]

    def value_and_grad(self, alpha) -> Evaluation:
        """Mean criterion over folds and its gradient in alpha."""
        results = self._map(_fold_hypergradient, alpha)
        for k, result in enumerate(results):
            self._warm[k] = result.warm_start
        gradient = _combined([r.gradient for r in results], self._combine)
        if np.ndim(alpha) == 0:
            gradient = float(gradient)
        return self._evaluation([r.value for r in results], gradient,
                                [r.solution for r in results])

    def value(self, alpha) -> Evaluation:
        """Mean criterion over folds, without gradient (one inner solve per fold)."""
        results = self._map(_fold_value, alpha)
        for k, (_, solution) in enumerate(results):
            self._warm[k] = WarmStart(solution.coef, solution.intercept)
        return self._evaluation([v for v, _ in results], None, [s for _, s in results])

    def values(self, alphas) -> list[Evaluation]:
        """``value`` at several alphas: on Dask all trials and folds at once, each
        from a cold start (the trials' order then does not matter); otherwise one
        alpha after the other, warm-started, exactly as ``value``."""
        if self._runner.dask_client() is None:
            return [self.value(alpha) for alpha in alphas]
        n_folds = len(self.folds)
        pairs = [(k, (self.model, alpha, self.settings, None))
                 for alpha in alphas for k in range(n_folds)]
        results = self._runner.map_pairs(_fold_value, pairs, on_done=self.on_fold_done)
        trials = [results[t * n_folds:(t + 1) * n_folds] for t in range(len(alphas))]
        return [self._evaluation([v for v, _ in trial], None, [s for _, s in trial])
                for trial in trials]

    def _map(self, task, alpha):
        args = [(self.model, alpha, self.settings, warm) for warm in self._warm]
        return self._runner.map(task, args, on_done=self.on_fold_done)

    def _evaluation(self, values, gradient, solutions) -> Evaluation:
        per_fold = tuple(float(v) for v in values) if self._combine is np.mean else ()
        return Evaluation(
            value=float(self._combine(values)) + self.offset, gradient=gradient,
            n_inner=int(sum(s.n_epochs for s in solutions)),
            support_size=float(np.mean([s.support.size for s in solutions])),
            fold_values=per_fold,
        )


def _fold_hypergradient(fold: Fold, model: Model, alpha, settings: Settings,
                        warm: WarmStart | None):
    """One fold's criterion and hypergradient (a task: no shared state), a sparse
    gradient held as its non-zero entries (``NonZeros``)."""
    fold = fold.materialized()
    result = hypergradient_on(model, fold.criterion, alpha, fold.design, fold.y,
                              settings, warm_start=warm, warn_all_zero=False)
    return replace(result, gradient=NonZeros.of(result.gradient))


#: A fold's gradient with at most this fraction of non-zero entries, and at least
#: ``NonZeros.FROM`` of them in all, is held as its non-zero entries until the
#: folds are combined.
NONZERO_FRACTION = 0.25


@dataclass(frozen=True)
class NonZeros:
    """The non-zero entries of a 1-D gradient: one penalty per feature is non-zero
    on the fold's support only. K dense gradients of 4.3 million penalties, held
    until the last fold ends, were 0.12 times the bytes of X
    (``benchmarks/bench_large.py``)."""

    indices: np.ndarray
    values: np.ndarray
    size: int

    FROM = 10_000

    @classmethod
    def of(cls, gradient):
        """``gradient`` as its non-zero entries if it is 1-D, long and sparse."""
        dense = np.asarray(gradient)
        if dense.ndim != 1 or dense.size < cls.FROM:
            return gradient
        indices = np.flatnonzero(dense)
        if indices.size > NONZERO_FRACTION * dense.size:
            return gradient
        return cls(indices, dense[indices], dense.size)


def _combined(gradients: list, combine):
    """``combine`` (np.mean or np.sum) of the folds' gradients over folds, some of
    them ``NonZeros``: added in fold order, as numpy's reduction over the first
    axis adds them, so the result is the dense one's bit for bit."""
    if not any(isinstance(g, NonZeros) for g in gradients):
        return combine([np.asarray(g) for g in gradients], axis=0)
    total = np.zeros(next(g.size for g in gradients if isinstance(g, NonZeros)))
    for gradient in gradients:
        if isinstance(gradient, NonZeros):
            total[gradient.indices] += gradient.values
        else:
            total += gradient
    return total / len(gradients) if combine is np.mean else total


def _fold_value(fold: Fold, model: Model, alpha, settings: Settings,
                warm: WarmStart | None):
    """One fold's criterion and inner solution, without gradient (a task)."""
    fold = fold.materialized()
    alpha = model.check_alpha(alpha, fold.design.shape[1])
    problem = model.problem(alpha, fold.design, fold.y)
    solution = model.solve(
        problem, tol=settings.resolved().tol, stop=settings.stop,
        max_iter=settings.max_iter,
        warm_start=None if warm is None else (warm.coef, warm.intercept),
    )
    return fold.criterion.value(*model.criterion_point(problem, solution)), solution
