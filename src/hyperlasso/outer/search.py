"""Zero-order baselines: grid, random and Bayesian (TPE) search on theta."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hyperlasso.outer.base import OuterResult, Recorder, check_bounds


@dataclass
class GridSearch:
    """Every point of a log-spaced grid, visited from large to small alpha.

    On Dask (``joblib.parallel_backend("dask")``) the points run together, each
    from a cold start; otherwise one after the other along the warm-start path.

    Decreasing alpha is the warm-start path of Lasso solvers (each solution is a
    good start for the next, smaller penalty). With two hyperparameters the grid
    is their product, the first one running fastest.

    Parameters
    ----------
    n_points : int, default=30
        Grid points per hyperparameter, both bounds included.
    """

    n_points: int = 30

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Evaluate ``fun.value`` on the grid; ``theta0`` only gives the dimension."""
        theta0, bounds = check_bounds(theta0, bounds)
        if theta0.size > 2:
            raise ValueError(
                f"grid search over {theta0.size} hyperparameters would need "
                f"{self.n_points}^{theta0.size} points; use optimizer='random', 'tpe' "
                "or a gradient method."
            )
        rec = Recorder(fun, bounds, callback)
        axes = [np.linspace(high, low, self.n_points) for low, high in bounds]
        rec.values([np.array(point[::-1]) for point in itertools.product(*reversed(axes))])
        return rec.result(self.n_points ** theta0.size, "grid exhausted")


@dataclass
class RandomSearch:
    """Points drawn log-uniformly within the bounds (uniformly in theta).

    The trials run together on Dask (``joblib.parallel_backend("dask")``), each
    from a cold start; otherwise one after the other, warm-started.

    Parameters
    ----------
    max_iter : int, default=30
        Number of trials.
    random_state : int or None, default=0
    """

    max_iter: int = 30
    random_state: int | None = 0

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Evaluate ``fun.value`` at ``theta0`` and ``max_iter - 1`` random points."""
        theta0, bounds = check_bounds(theta0, bounds)
        rec = Recorder(fun, bounds, callback)
        rng = np.random.default_rng(self.random_state)
        rec.values([theta0] + [rng.uniform(bounds[:, 0], bounds[:, 1])
                               for _ in range(self.max_iter - 1)])
        return rec.result(self.max_iter, "trials exhausted")


@dataclass
class TPESearch:
    """Bayesian search with optuna's Tree-structured Parzen Estimator.

    Needs the optional extra: ``pip install "hyperlasso[optuna]"``.

    Parameters
    ----------
    max_iter : int, default=30
        Number of trials.
    random_state : int or None, default=0
    """

    max_iter: int = 30
    random_state: int | None = 0

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Run ``max_iter`` TPE trials, the first one at ``theta0``."""
        optuna = _import_optuna()
        theta0, bounds = check_bounds(theta0, bounds)
        rec = Recorder(fun, bounds, callback)
        names = [f"theta_{k}" for k in range(theta0.size)]

        def objective(trial):
            theta = [trial.suggest_float(name, low, high)
                     for name, (low, high) in zip(names, bounds, strict=True)]
            return rec.value(np.array(theta))

        sampler = optuna.samplers.TPESampler(seed=self.random_state)
        study = optuna.create_study(sampler=sampler)
        study.enqueue_trial(dict(zip(names, theta0.tolist(), strict=True)))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study.optimize(objective, n_trials=self.max_iter)
        return rec.result(self.max_iter, "trials exhausted")


def _import_optuna():
    try:
        import optuna
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "optimizer='tpe' needs optuna: pip install \"hyperlasso[optuna]\"."
        ) from None
    return optuna
