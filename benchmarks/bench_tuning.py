"""Tuning benchmark of hyperlasso: end-to-end LassoCV, ElasticNetCV, WeightedLassoCV.

Run ``python benchmarks/bench_tuning.py`` (``--quick`` for a smoke run on small
shapes). See ``benchmarks/README.md`` for what is measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hyperlasso as hl
from hyperlasso.criteria import make_objective
from hyperlasso.datasets import make_correlated_regression, make_sparse_tfidf_regression
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.models import make_model
from hyperlasso.outer.base import History, OuterResult
from hyperlasso.outer.search import GridSearch, RandomSearch, TPESearch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CV = 5
N_POINTS = 30
N_TRIALS = 30
L1_RATIOS = (0.1, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0)
#: Inner tolerance of the common objective that re-evaluates every chosen alpha.
COMMON_TOL = 1e-8
#: Relative slack on "equal or lower validation loss".
SLACK = 1e-3
#: "Time to within 1 %": first evaluation whose value is <= (1 + WITHIN) * best.
WITHIN = 0.01
LASSO_SPEEDUP = 3.0
ENET_SPEEDUP = 10.0
WEIGHTED_TIME_RATIO = 5.0
#: Data sets of the LassoCV speed and WeightedLassoCV targets (p >= 1e4, sparse truth).
BIG_DESIGNS = ("dense", "sparse")
#: Seconds given to a zero-order search in its warm-up fit on the small problem.
WARM_UP_BUDGET = 1.0


# --------------------------------------------------------------------------- data

def load_dense(quick: bool) -> dict:
    """Correlated Gaussian design (500 x 20000) and a 2000-sample test set.

    Returns
    -------
    dict
        X, y (training), X_test, y_test, small (warm-up (X, y)), description.
    """
    n, p, n_test = (100, 1000, 500) if quick else (500, 20000, 2000)
    X, y, coef = make_correlated_regression(n, p, random_state=0)
    X_test, y_test, _ = make_correlated_regression(n_test, p, random_state=1, coef=coef)
    small = make_correlated_regression(60, 200, random_state=2)[:2]
    return dict(X=X, y=y, X_test=X_test, y_test=y_test, small=small,
                description="make_correlated_regression, Toeplitz 0.5, 20 nonzeros, "
                "SNR 3; test set: random_state=1, same coef")


def load_sparse(quick: bool) -> dict:
    """Sparse TF-IDF-like design (20000 x 20000) and a 5000-sample test set.

    Returns
    -------
    dict
        Same keys as :func:`load_dense`.
    """
    n, p, n_test, density = (1000, 1000, 500, 0.01) if quick else (20000, 20000, 5000,
                                                                     0.002)
    X, y, coef = make_sparse_tfidf_regression(n, p, density=density, random_state=0)
    X_test, y_test, _ = make_sparse_tfidf_regression(n_test, p, density=density,
                                                     random_state=1, coef=coef)
    small = make_sparse_tfidf_regression(300, 200, density=0.05, random_state=2)[:2]
    return dict(X=X, y=y, X_test=X_test, y_test=y_test, small=small,
                description=f"make_sparse_tfidf_regression, density {density}, CSC, "
                "20 nonzeros, SNR 3; test set: random_state=1, same coef")


def load_diabetes_poly(quick: bool) -> dict:
    """scikit-learn's diabetes with all degree-3 monomials, standardized, split 75/25.

    The scaler is fitted on the training part (no test statistics leak into it).
    ``quick`` uses degree 2 (65 features): degree 3 is small but ill-conditioned,
    and its smallest penalties take minutes to solve.

    Returns
    -------
    dict
        Same keys as :func:`load_dense`.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    X, y = load_diabetes(return_X_y=True)
    degree = 2 if quick else 3
    X = PolynomialFeatures(degree=degree, include_bias=False).fit_transform(X)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X)
    small = make_correlated_regression(60, 200, random_state=2)[:2]
    return dict(X=scaler.transform(X), y=y, X_test=scaler.transform(X_test),
                y_test=y_test, small=small,
                description=f"load_diabetes, PolynomialFeatures({degree}, "
                "include_bias=False), "
                "StandardScaler fitted on train, train_test_split(0.25, random_state=0)")


DATASETS = {"dense": load_dense, "sparse": load_sparse, "diabetes": load_diabetes_poly}


# --------------------------------------------------------------------------- methods

class _OutOfBudget(Exception):
    """Raised by :class:`_Deadline` when a search would start an evaluation too late."""


class _Deadline:
    """The objective of a search, refusing to start evaluations after ``deadline``."""

    def __init__(self, fun, deadline: float):
        self._fun, self._deadline = fun, deadline

    def __getattr__(self, name):
        return getattr(self._fun, name)

    def _check(self) -> None:
        if time.perf_counter() > self._deadline:
            raise _OutOfBudget

    def value(self, theta):
        """``fun.value(theta)`` if the deadline has not passed."""
        self._check()
        return self._fun.value(theta)

    def value_and_grad(self, theta):
        """``fun.value_and_grad(theta)`` if the deadline has not passed."""
        self._check()
        return self._fun.value_and_grad(theta)


@dataclass
class Budgeted:
    """A hyperlasso search (grid, random, TPE) that starts no evaluation after
    ``budget`` seconds.

    Within the budget it is exactly ``search`` (same points, same order); past it,
    the result is the best point evaluated so far and ``stopped`` is True. An
    evaluation under way when the budget runs out is completed.

    Parameters
    ----------
    search : GridSearch, RandomSearch or TPESearch
    budget : float, default=inf
        Seconds from the start of the search.
    """

    search: object
    budget: float = float("inf")
    stopped: bool = False

    def minimize(self, fun, theta0, bounds, callback=None) -> OuterResult:
        """Run ``search.minimize`` until it ends or the budget is spent."""
        rows, start = [], time.perf_counter()

        def record(n_eval, theta, evaluation):
            rows.append((np.array(theta, dtype=float), float(evaluation.value),
                         int(evaluation.n_inner), time.perf_counter() - start))
            if callback is not None:
                callback(n_eval, theta, evaluation)

        self.stopped = False
        try:
            return self.search.minimize(_Deadline(fun, start + self.budget), theta0,
                                        bounds, record)
        except _OutOfBudget:
            self.stopped = True
        thetas, values, n_inner, times = (np.array(c) for c in zip(*rows, strict=True))
        history = History(thetas, values, np.full(thetas.shape, np.nan), n_inner, times)
        best = int(np.argmin(values))
        return OuterResult(thetas[best].copy(), float(values[best]), len(rows), history,
                           f"time budget: {len(rows)} evaluations")


@dataclass(frozen=True)
class Method:
    """One tuning method: how to build the estimator and what it tunes.

    Attributes
    ----------
    name : str
    family : {"lasso", "enet", "weighted"}
    library : {"scikit-learn", "hyperlasso"}
    make : callable
        Returns a new, unfitted estimator.
    n_planned : int or None
        Evaluations of a zero-order search (None for the others).
    """

    name: str
    family: str
    library: str
    make: Callable
    n_planned: int | None = None


def method_list(search_budget: float, grid_budget: float) -> list[Method]:
    """Every method of the benchmark, in report order.

    Parameters
    ----------
    search_budget : float
        Seconds after which the Lasso grid, random and TPE searches stop.
    grid_budget : float
        Seconds after which the 30 x 30 ElasticNet grid stops.
    """
    from sklearn.linear_model import ElasticNetCV as SkElasticNetCV
    from sklearn.linear_model import LassoCV as SkLassoCV

    def search(estimator, optimizer, budget):
        return lambda: estimator(cv=CV, optimizer=Budgeted(optimizer, budget))

    return [
        Method("scikit-learn LassoCV (100 alphas)", "lasso", "scikit-learn",
               lambda: SkLassoCV(cv=CV)),
        Method("hyperlasso LassoCV (L-BFGS)", "lasso", "hyperlasso",
               lambda: hl.LassoCV(cv=CV)),
        Method(f"hyperlasso LassoCV grid {N_POINTS}", "lasso", "hyperlasso",
               search(hl.LassoCV, GridSearch(n_points=N_POINTS), search_budget), N_POINTS),
        Method(f"hyperlasso LassoCV random {N_TRIALS}", "lasso", "hyperlasso",
               search(hl.LassoCV, RandomSearch(max_iter=N_TRIALS), search_budget),
               N_TRIALS),
        Method(f"hyperlasso LassoCV TPE {N_TRIALS}", "lasso", "hyperlasso",
               search(hl.LassoCV, TPESearch(max_iter=N_TRIALS), search_budget), N_TRIALS),
        Method(f"scikit-learn ElasticNetCV ({len(L1_RATIOS)} l1_ratios x 100)", "enet",
               "scikit-learn", lambda: SkElasticNetCV(cv=CV, l1_ratio=list(L1_RATIOS))),
        Method("hyperlasso ElasticNetCV (L-BFGS)", "enet", "hyperlasso",
               lambda: hl.ElasticNetCV(cv=CV)),
        Method(f"hyperlasso ElasticNetCV grid {N_POINTS} x {N_POINTS}", "enet",
               "hyperlasso", search(hl.ElasticNetCV, GridSearch(n_points=N_POINTS),
                                    grid_budget), N_POINTS**2),
        Method("hyperlasso WeightedLassoCV", "weighted", "hyperlasso",
               lambda: hl.WeightedLassoCV(cv=CV)),
    ]


def hyperlasso_alpha(method: Method, est):
    """The chosen penalty in hyperlasso's parameterization.

    scikit-learn's ``ElasticNet(alpha=a, l1_ratio=r)`` is hyperlasso's
    ``(a r, a (1 - r))``; its Lasso alpha is hyperlasso's.

    Returns
    -------
    float, tuple of 2 floats, or ndarray of shape (n_features,)
    """
    if method.family == "weighted":
        return np.asarray(est.alpha_, dtype=float)
    if method.family == "lasso":
        return float(est.alpha_)
    if method.library == "scikit-learn":
        return (float(est.alpha_ * est.l1_ratio_), float(est.alpha_ * (1 - est.l1_ratio_)))
    return tuple(float(a) for a in est.alpha_)


# --------------------------------------------------------------------------- runs

def fit_once(method: Method, X, y, warm_up: bool = False
             ) -> tuple[object, float, list[str]]:
    """Fit a new estimator; return it, the wall time (s) and the warnings raised.

    With ``warm_up``, a budgeted search gets ``WARM_UP_BUDGET`` seconds only (its
    first evaluation, where the compilation happens, is always run).
    """
    est = method.make()
    if warm_up and isinstance(getattr(est, "optimizer", None), Budgeted):
        est.optimizer.budget = WARM_UP_BUDGET
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        est.fit(X, y)
        elapsed = time.perf_counter() - start
    return est, elapsed, sorted({f"{w.category.__name__}: {w.message}"[:200]
                                 for w in caught})


def summarize_run(method: Method, est, elapsed: float, caught: list[str],
                  data: dict) -> dict:
    """Numbers of one timed fit (the history only for hyperlasso estimators).

    Returns
    -------
    dict
        time, alpha, test_mse, nnz, warnings, and for hyperlasso: history_time,
        history_value, n_evaluations, n_iter, stopped_by_budget.
    """
    residual = data["y_test"] - est.predict(data["X_test"])
    alpha = hyperlasso_alpha(method, est)
    run = dict(time=elapsed, alpha=np.asarray(alpha).tolist(),
               test_mse=float(np.mean(residual**2)),
               nnz=int(np.count_nonzero(est.coef_)), warnings=caught)
    if method.library == "hyperlasso":
        run.update(history_time=[float(t) for t in est.history_["time"]],
                   history_value=[float(v) for v in est.history_["value"]],
                   n_evaluations=len(est.history_["value"]), n_iter=int(est.n_iter_),
                   stopped_by_budget=bool(getattr(est.optimizer, "stopped", False)))
    return run


def run_method(method: Method, data: dict, repeats: int, once_above: float) -> dict:
    """Warm up on the small problem, then time ``repeats`` fits on the training set.

    A method whose first timed fit exceeds ``once_above`` seconds is timed once.

    Returns
    -------
    dict
        name, family, library, runs (list of :func:`summarize_run` dicts), median_time.
    """
    fit_once(method, *data["small"], warm_up=True)  # numba compilation, imports
    runs = []
    for _ in range(repeats):
        est, elapsed, caught = fit_once(method, data["X"], data["y"])
        runs.append(summarize_run(method, est, elapsed, caught, data))
        del est
        if elapsed > once_above:
            break
    print(f"  {method.name}: {[round(r['time'], 2) for r in runs]} s", flush=True)
    return dict(name=method.name, family=method.family, library=method.library,
                n_planned=method.n_planned, runs=runs,
                median_time=statistics.median(r["time"] for r in runs),
                timed_once_over_budget=len(runs) < repeats)


class CommonObjectives:
    """The common CV objectives of one data set, built once per model.

    Every chosen alpha is re-evaluated with ``make_objective("cv", ...)`` at inner
    tolerance ``COMMON_TOL`` on the same KFold(5) as both libraries.
    """

    def __init__(self, X, y):
        self.X, self.y = X, y
        self._objectives = {}

    def loss(self, family: str, alpha) -> float:
        """5-fold CV mean squared error at ``alpha`` (hyperlasso parameterization)."""
        model, alpha = {"lasso": ("lasso", alpha), "weighted": ("weighted_lasso", alpha),
                        "enet": ("elastic_net", alpha)}[family]
        if family == "enet" and alpha[1] == 0.0:  # scikit-learn's l1_ratio = 1
            model, alpha = "lasso", alpha[0]
        if model not in self._objectives:
            self._objectives[model] = make_objective(
                "cv", make_model(model), self.X, self.y, Settings(tol=COMMON_TOL), cv=CV)
        return float(self._objectives[model].value(np.asarray(alpha)).value)


#: The issue's reference: LassoCV within 1 % of the best loss on a fine grid.
FINE_GRID_POINTS = 200
FINE_GRID_WITHIN = 0.01


def fine_grid_reference(data: dict) -> dict:
    """The common Lasso objective on 200 log-spaced alphas (alpha_max to 1e-3
    alpha_max, decreasing, warm-started): a loss reference, not timed."""
    objectives = CommonObjectives(data["X"], data["y"])
    amax = float(hl.alpha_max("lasso", data["X"], data["y"]))
    grid = np.geomspace(amax, 1e-3 * amax, FINE_GRID_POINTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        losses = [objectives.loss("lasso", a) for a in grid]
    best = int(np.argmin(losses))
    return dict(n_points=FINE_GRID_POINTS, best_loss=float(losses[best]),
                best_alpha=float(grid[best]))


def time_to_within(run: dict, threshold: float) -> float | None:
    """First history time whose value is <= threshold (None if never)."""
    for t, value in zip(run["history_time"], run["history_value"], strict=True):
        if value <= threshold:
            return t
    return None


def add_comparisons(records: list[dict]) -> None:
    """Best validation loss per family, relative gaps and times to within 1 %.

    The best is taken over the methods of the same family (Lasso methods for the
    Lasso, ElasticNet methods for the ElasticNet). scikit-learn cannot stop early:
    its "time to within 1 %" is its full fit time.
    """
    for family in ("lasso", "enet"):
        members = [r for r in records if r["family"] == family and not r.get("skipped")]
        best = min(r["validation_loss"] for r in members)
        for r in members:
            r["best_in_family"] = best
            r["rel_to_best"] = r["validation_loss"] / best - 1.0
            if r["library"] == "scikit-learn":
                r["time_to_within"] = r["median_time"]
                continue
            reached = [time_to_within(run, (1 + WITHIN) * best) for run in r["runs"]]
            r["time_to_within_runs"] = reached
            reached = [t for t in reached if t is not None]
            r["time_to_within"] = statistics.median(reached) if reached else None


@dataclass(frozen=True)
class Plan:
    """How much to run.

    Attributes
    ----------
    repeats : int
        Timed fits per method.
    once_above : float
        A method whose first timed fit exceeds this many seconds is timed once.
    search_budget, grid_budget : float
        Seconds of the Lasso searches and of the 30 x 30 ElasticNet grid.
    sklearn_enet_budget : float
        scikit-learn's ElasticNetCV is skipped when its estimated time, number of
        l1_ratios times the LassoCV time, exceeds this.
    """

    repeats: int
    once_above: float
    search_budget: float
    grid_budget: float
    sklearn_enet_budget: float


def run_methods(data: dict, plan: Plan) -> list[dict]:
    """Run every method on one data set (see :func:`run_method`), in report order."""
    records = []
    for method in method_list(plan.search_budget, plan.grid_budget):
        if method.name.startswith("scikit-learn ElasticNetCV"):
            estimate = len(L1_RATIOS) * records[0]["median_time"]
            if estimate > plan.sklearn_enet_budget:
                print(f"  {method.name}: skipped, estimated {estimate:.0f} s", flush=True)
                records.append(dict(name=method.name, family=method.family,
                                    library=method.library, skipped=True,
                                    estimated_time=estimate))
                continue
        records.append(run_method(method, data, plan.repeats, plan.once_above))
    return records


def add_validation(records: list[dict], data: dict) -> None:
    """Re-evaluate every chosen alpha with the common objective; summary per method."""
    common = CommonObjectives(data["X"], data["y"])
    for r in records:
        if r.get("skipped"):
            continue
        last = r["runs"][-1]
        for key in ("alpha", "test_mse", "nnz"):
            r[key] = last[key]
        r["validation_loss"] = common.loss(r["family"], last["alpha"])
        r["alpha_varies"] = any(run["alpha"] != last["alpha"] for run in r["runs"])
        if "n_evaluations" in last:
            r["n_evaluations"] = last["n_evaluations"]
            r["stopped_by_budget"] = any(run["stopped_by_budget"] for run in r["runs"])
        if r["family"] == "weighted":  # p penalties: keep quantiles only
            for run in r["runs"]:
                run["alpha"] = _alpha_summary(np.asarray(run["alpha"]))
            r["alpha"] = last["alpha"]


def bench_dataset(name: str, quick: bool, plan: Plan) -> dict:
    """Every method on one data set, then the common re-evaluation.

    Returns
    -------
    dict
        shape, description, methods (one record per method).
    """
    data = DATASETS[name](quick)
    print(f"{name}: train {data['X'].shape}, test {data['X_test'].shape}", flush=True)
    records = run_methods(data, plan)
    add_validation(records, data)
    add_comparisons(records)
    X = data["X"]
    return dict(n_train=X.shape[0], n_features=X.shape[1],
                n_test=data["X_test"].shape[0], sparse=not isinstance(X, np.ndarray),
                description=data["description"], methods=records,
                fine_grid=fine_grid_reference(data))


def _alpha_summary(alpha: np.ndarray) -> dict:
    """Quantiles of the weighted Lasso's p penalties (the full vector is not stored)."""
    return dict(min=float(alpha.min()), median=float(np.median(alpha)),
                max=float(alpha.max()), n_distinct=int(np.unique(alpha).size))


# --------------------------------------------------------------------------- targets

def _method(dataset: dict, prefix: str) -> dict:
    return next(r for r in dataset["methods"] if r["name"].startswith(prefix))


def lasso_target(name: str, dataset: dict) -> dict:
    """hyperlasso LassoCV >= 3x faster than scikit-learn's at an equal or lower loss."""
    sk = _method(dataset, "scikit-learn LassoCV")
    hlr = _method(dataset, "hyperlasso LassoCV (L-BFGS)")
    speedup = sk["median_time"] / hlr["median_time"]
    loss_ok = hlr["validation_loss"] <= (1 + SLACK) * sk["validation_loss"]
    return dict(target=f"LassoCV >= {LASSO_SPEEDUP:g}x faster than scikit-learn, "
                "validation loss <= scikit-learn's (+0.1 %)", dataset=name,
                numbers=f"{sk['median_time']:.3g} s / {hlr['median_time']:.3g} s = "
                f"{speedup:.2f}x; loss {hlr['validation_loss']:.6g} vs "
                f"{sk['validation_loss']:.6g} ({_pct(hlr, sk)})",
                passed=bool(speedup >= LASSO_SPEEDUP and loss_ok))


def enet_target(name: str, dataset: dict) -> dict:
    """hyperlasso ElasticNetCV >= 10x faster than the 30 x 30 grid, loss <= grid's."""
    grid = _method(dataset, "hyperlasso ElasticNetCV grid")
    hlr = _method(dataset, "hyperlasso ElasticNetCV (L-BFGS)")
    speedup = grid["median_time"] / hlr["median_time"]
    loss_ok = hlr["validation_loss"] <= (1 + SLACK) * grid["validation_loss"]
    partial = (f" (grid stopped by the time budget after {grid['n_evaluations']} of "
               f"{N_POINTS**2} points: speed-up is a lower bound, loss is that of the "
               "partial grid)" if grid["stopped_by_budget"] else "")
    return dict(target=f"ElasticNetCV >= {ENET_SPEEDUP:g}x faster than the "
                f"{N_POINTS} x {N_POINTS} grid, validation loss <= grid's (+0.1 %)",
                dataset=name,
                numbers=f"{grid['median_time']:.3g} s / {hlr['median_time']:.3g} s = "
                f"{speedup:.2f}x; loss {hlr['validation_loss']:.6g} vs "
                f"{grid['validation_loss']:.6g} ({_pct(hlr, grid)}){partial}",
                passed=bool(speedup >= ENET_SPEEDUP and loss_ok))


def weighted_target(name: str, dataset: dict) -> dict:
    """WeightedLassoCV: lower test MSE than LassoCV in at most 5x its time."""
    lasso = _method(dataset, "hyperlasso LassoCV (L-BFGS)")
    weighted = _method(dataset, "hyperlasso WeightedLassoCV")
    ratio = weighted["median_time"] / lasso["median_time"]
    return dict(target="WeightedLassoCV test MSE < LassoCV's, time <= "
                f"{WEIGHTED_TIME_RATIO:g}x LassoCV's", dataset=name,
                numbers=f"test MSE {weighted['test_mse']:.6g} vs {lasso['test_mse']:.6g};"
                f" time {weighted['median_time']:.3g} s / {lasso['median_time']:.3g} s "
                f"= {ratio:.2f}x",
                passed=bool(weighted["test_mse"] < lasso["test_mse"]
                            and ratio <= WEIGHTED_TIME_RATIO))


def _pct(ours: dict, theirs: dict) -> str:
    return f"{100 * (ours['validation_loss'] / theirs['validation_loss'] - 1):+.3f} %"


def fine_grid_target(name: str, dataset: dict) -> dict:
    """hyperlasso LassoCV within 1 % of the best loss of the 200-alpha grid."""
    hlr = _method(dataset, "hyperlasso LassoCV (L-BFGS)")
    grid = dataset["fine_grid"]
    ratio = hlr["validation_loss"] / grid["best_loss"]
    return dict(target=f"LassoCV loss within {FINE_GRID_WITHIN:.0%} of the best of a "
                f"{grid['n_points']}-alpha grid", dataset=name,
                numbers=f"loss {hlr['validation_loss']:.6g} vs {grid['best_loss']:.6g} "
                f"at alpha {grid['best_alpha']:.4g} ({100 * (ratio - 1):+.3f} %)",
                passed=bool(ratio <= 1 + FINE_GRID_WITHIN))


def evaluate_targets(datasets: dict) -> list[dict]:
    """PASS/FAIL of every target on the data sets it concerns."""
    targets = []
    for name, dataset in datasets.items():
        if "fine_grid" in dataset:
            targets.append(fine_grid_target(name, dataset))
        if name in BIG_DESIGNS:
            targets.append(lasso_target(name, dataset))
        targets.append(enet_target(name, dataset))
        if name in BIG_DESIGNS:
            targets.append(weighted_target(name, dataset))
    return targets


# --------------------------------------------------------------------------- report

def versions() -> dict:
    """Versions of the libraries and of Python, cpu count, date and load average."""
    import numba
    import optuna
    import scipy
    import sklearn

    try:
        import skglm
        skglm_version = skglm.__version__
    except ImportError:  # pragma: no cover - optional here
        skglm_version = "not installed"
    return {
        "hyperlasso": hl.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__, "numba": numba.__version__,
        "optuna": optuna.__version__, "skglm": skglm_version,
        "commit": git_state(), "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def git_state() -> str:
    """Short commit of the checkout, "+ uncommitted src/" if src/ differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted src/ changes" if dirty else "")


def _time(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.3g} s"


def _alpha_text(r: dict) -> str:
    alpha = r["alpha"]
    if r["family"] == "weighted":
        return (f"{alpha['min']:.3g} / {alpha['median']:.3g} / {alpha['max']:.3g} "
                f"({alpha['n_distinct']} distinct)")
    if r["family"] == "lasso":
        return f"{alpha:.4g}"
    text = f"({alpha[0]:.3g}, {alpha[1]:.3g})"
    return text + (f", l1_ratio {alpha[0] / sum(alpha):.3g}"
                   if r["library"] == "scikit-learn" else "")


def _evaluations(r: dict) -> str:
    if r["library"] == "scikit-learn":
        n_alphas = 100 * (len(L1_RATIOS) if r["family"] == "enet" else 1)
        return f"{n_alphas} x {CV} folds"
    text = str(r["n_evaluations"])
    if r.get("stopped_by_budget"):
        text += f" of {r['n_planned']} (time budget)"
    return text


def _runs(r: dict) -> str:
    return f"{len(r['runs'])}" + (" (slow: once)" if r["timed_once_over_budget"] else "")


def tuning_table(results: dict, family: str) -> list[str]:
    """Markdown rows of the Lasso or ElasticNet methods of every data set."""
    lines = ["| data set | method | fit time | runs | time to within 1 % of best | "
             "validation loss | vs best | test MSE | nnz | alpha (hyperlasso param.) | "
             "evaluations |", "|" + "---|" * 11]
    for name, dataset in results["datasets"].items():
        for r in dataset["methods"]:
            if r["family"] != family:
                continue
            if r.get("skipped"):
                lines.append(f"| {name} | {r['name']} | skipped: estimated "
                             f"{r['estimated_time']:.0f} s (`--sklearn-enet-budget`) |"
                             + " |" * 8)
                continue
            within = _time(r["time_to_within"])
            if r["library"] == "scikit-learn":
                within += " (full fit)"
            lines.append(
                f"| {name} | {r['name']} | {_time(r['median_time'])} | {_runs(r)} | "
                f"{within} | {r['validation_loss']:.6g} | "
                f"{100 * r['rel_to_best']:+.3f} % | {r['test_mse']:.6g} | {r['nnz']} | "
                f"{_alpha_text(r)} | {_evaluations(r)} |")
    return lines


def weighted_table(results: dict) -> list[str]:
    """Markdown rows comparing WeightedLassoCV with LassoCV on every data set."""
    lines = ["| data set | method | fit time | runs | test MSE | validation loss | nnz | "
             "alpha (min / median / max) |", "|" + "---|" * 8]
    for name, dataset in results["datasets"].items():
        for prefix in ("hyperlasso LassoCV (L-BFGS)", "hyperlasso WeightedLassoCV"):
            r = _method(dataset, prefix)
            lines.append(f"| {name} | {r['name']} | {_time(r['median_time'])} | "
                         f"{_runs(r)} | {r['test_mse']:.6g} | {r['validation_loss']:.6g} | "
                         f"{r['nnz']} | {_alpha_text(r)} |")
    return lines


def dataset_table(results: dict) -> list[str]:
    """Markdown rows describing the data sets."""
    lines = ["| data set | train n x p | test n | storage | description |",
             "|---|---|---|---|---|"]
    for name, d in results["datasets"].items():
        lines.append(f"| {name} | {d['n_train']} x {d['n_features']} | {d['n_test']} | "
                     f"{'CSC sparse' if d['sparse'] else 'dense'} | {d['description']} |")
    return lines


def target_table(results: dict) -> list[str]:
    """Markdown rows of the targets with PASS/FAIL."""
    lines = ["| target | data set | numbers | result |", "|---|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['dataset']} | {t['numbers']} | "
                     f"{'PASS' if t['passed'] else 'FAIL'} |")
    return lines


NOTES = [
    "- **fit time**: wall time of `fit` (median over the runs, after a warm-up fit of "
    "the same method on a small problem so that numba compilation and imports are "
    "excluded); a method whose first timed fit exceeds `--once-above` seconds is timed "
    "once. Both libraries run single-process (`n_jobs=None`), BLAS at its defaults.",
    "- **validation loss**: every chosen alpha (scikit-learn's converted to "
    "hyperlasso's parameterization, `ElasticNet(alpha=a, l1_ratio=r)` = `(a r, a (1-r))`)"
    " re-evaluated with one common objective per data set: "
    f"`make_objective(\"cv\", model, X, y, Settings(tol={COMMON_TOL:g}), cv={CV})`, the "
    "5-fold CV mean squared error on the same `KFold(5)` (no shuffle) as both "
    "libraries; `vs best` is relative to the lowest such loss among the methods of the "
    "same table (Lasso or ElasticNet) on that data set.",
    "- **time to within 1 % of best**: first entry of `history_[\"time\"]` (seconds since "
    "the start of the search: fold set-up and the final refit are not included) whose "
    "`history_[\"value\"]` (CV loss at the search tolerance 1e-6) is <= 1.01 x best "
    "(median over the runs; `never` if no run gets there). scikit-learn cannot stop "
    "early: its full fit time is shown.",
    "- **test MSE** on the held-out test set; **nnz**: non-zero coefficients of the "
    "refit on all training data.",
    f"- Loss comparisons in the targets allow a relative slack of {SLACK:.1%}.",
    f"- **{FINE_GRID_POINTS}-alpha grid**: the common Lasso objective on "
    f"{FINE_GRID_POINTS} log-spaced alphas from alpha_max to 1e-3 alpha_max (not "
    "timed; `--add-fine-grid` adds it to existing results): the issue's reference "
    "for \"within 1 % of the best loss on a fine grid\".",
    "- hyperlasso's zero-order searches (`GridSearch`, `RandomSearch`, `TPESearch`) "
    "start no new evaluation after a time budget (`--search-budget` for the Lasso ones, "
    "`--grid-budget` for the 30 x 30 ElasticNet grid; the evaluation under way is "
    "completed); a search stopped so shows `k of N (time budget)` evaluations, and its "
    "time and loss are those of the partial search. Within the budget they are "
    "exactly the library's searches.",
    "- scikit-learn's ElasticNetCV cannot be stopped early: it is skipped on a data "
    "set where 7 (its number of l1_ratios) times its LassoCV time exceeds "
    "`--sklearn-enet-budget` seconds.",
    "- WeightedLassoCV sets 20 % of the samples aside as an early-stopping monitor; "
    "its validation loss is the common 5-fold CV objective of the weighted Lasso.",
]


def write_markdown(results: dict, path: Path) -> None:
    """Readable report of ``results`` at ``path``."""
    meta = results["meta"]
    env = ", ".join(f"{k} {meta[k]}" for k in ("hyperlasso", "numpy", "scipy",
                                               "scikit-learn", "numba", "optuna", "skglm",
                                               "python"))
    load = "/".join(f"{v:.2f}" for v in meta["loadavg_start"])
    load_end = "/".join(f"{v:.2f}" for v in meta.get("loadavg_end", [np.nan] * 3))
    lines = [
        "# hyperlasso tuning benchmark", "",
        f"{meta['date']}; commit {meta.get('commit', 'unknown')}; "
        f"{meta['cpu_count']} CPUs; {meta['platform']}; {env}.",
        f"Load average (1, 5, 15 min) at start {load}, at end {load_end}. "
        f"{meta['repeats']} runs per method{' (quick mode: small shapes)' * meta['quick']};"
        f" budgets: Lasso searches {meta['search_budget_s']:g} s, 30 x 30 grid "
        f"{meta['grid_budget_s']:g} s; total wall time "
        f"{meta.get('total_s', float('nan')):.0f} s.", "",
        "## Targets", "", *target_table(results), "",
        "## Data sets", "", *dataset_table(results), "",
        "## Lasso", "", *tuning_table(results, "lasso"), "",
        "## ElasticNet", "", *tuning_table(results, "enet"), "",
        "## WeightedLassoCV vs LassoCV", "", *weighted_table(results), "",
        "## How to read", "", *NOTES, "",
    ]
    path.write_text("\n".join(lines))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small shapes, 1 run; writes tuning_quick.*")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed fits per method (default 3, 1 with --quick)")
    parser.add_argument("--once-above", type=float, default=60.0,
                        help="a method whose first timed fit exceeds this many seconds "
                        "is timed once (default 60)")
    parser.add_argument("--search-budget", type=float, default=None,
                        help="seconds after which a Lasso grid, random or TPE search "
                        "starts no new evaluation (default 90, 5 with --quick)")
    parser.add_argument("--grid-budget", type=float, default=None,
                        help="seconds after which the 30 x 30 ElasticNet grid starts "
                        "no new evaluation (default 600, 10 with --quick)")
    parser.add_argument("--add-fine-grid", action="store_true",
                        help="compute the 200-alpha reference grid (not timed) for the "
                        "data sets of the existing results JSON, and rewrite the report")
    parser.add_argument("--sklearn-enet-budget", type=float, default=600.0,
                        help="skip scikit-learn's ElasticNetCV when 7 x its LassoCV time "
                        "exceeds this many seconds (default 600)")
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS),
                        default=list(DATASETS), help="data sets to run (default all)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the Markdown from the existing JSON, no runs")
    return parser.parse_args(argv)


def run_all(args: argparse.Namespace) -> dict:
    """Every data set and method, then the targets."""
    import optuna

    # no trial logs (a budget stop is a failed trial): optuna's handler off, and a
    # null handler so that Python's last-resort handler does not print them either
    optuna.logging.disable_default_handler()
    logging.getLogger("optuna").addHandler(logging.NullHandler())
    plan = Plan(repeats=args.repeats or (1 if args.quick else 3),
                once_above=args.once_above,
                search_budget=args.search_budget or (5.0 if args.quick else 90.0),
                grid_budget=args.grid_budget or (10.0 if args.quick else 600.0),
                sklearn_enet_budget=args.sklearn_enet_budget)
    start = time.perf_counter()
    meta = {**versions(), "quick": args.quick, "repeats": plan.repeats, "cv": CV,
            "once_above_s": plan.once_above, "search_budget_s": plan.search_budget,
            "grid_budget_s": plan.grid_budget,
            "sklearn_enet_budget_s": plan.sklearn_enet_budget,
            "common_tol": COMMON_TOL, "slack": SLACK, "within": WITHIN,
            "loadavg_start": list(os.getloadavg())}
    datasets = {name: bench_dataset(name, args.quick, plan) for name in args.datasets}
    meta.update(loadavg_end=list(os.getloadavg()), total_s=time.perf_counter() - start)
    results = {"meta": meta, "datasets": datasets}
    results["targets"] = evaluate_targets(datasets)
    return results


def main(argv=None) -> dict:
    """Run the benchmark and write the JSON and Markdown reports."""
    args = parse_args(argv)
    stem = "tuning_quick" if args.quick else "tuning"
    if args.report_only or args.add_fine_grid:
        results = json.loads((RESULTS_DIR / f"{stem}.json").read_text())
        if args.add_fine_grid:
            for name, dataset in results["datasets"].items():
                print(f"{name}: {FINE_GRID_POINTS}-alpha grid", flush=True)
                dataset["fine_grid"] = fine_grid_reference(DATASETS[name](args.quick))
            results["meta"]["fine_grid_added"] = versions()["date"]
            (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
        results["targets"] = evaluate_targets(results["datasets"])
    else:
        results = run_all(args)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, RESULTS_DIR / f"{stem}.md")
    print(f"wrote {RESULTS_DIR / stem}.json and .md")
    for t in results["targets"]:
        print(f"{'PASS' if t['passed'] else 'FAIL'}  {t['dataset']}: {t['target']}: "
              f"{t['numbers']}")
    return results


if __name__ == "__main__":
    main()
