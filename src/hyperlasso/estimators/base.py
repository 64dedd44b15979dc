"""What every hyperlasso estimator shares: parameters, the tuning loop, the refit.

``fit`` validates the data, builds the inner model and the objective (folds, warm
starts: state that lives only inside ``fit``), runs the outer optimizer on
theta = log(alpha), refits on all data at the best alpha and sets the fitted
attributes. No math lives here.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import ShuffleSplit
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from hyperlasso.criteria import CRITERIA, make_objective
from hyperlasso.estimators.progress import progress_for
from hyperlasso.hypergradients import METHODS, Settings
from hyperlasso.hypergradients.methods import polished
from hyperlasso.hyperparameters import LogScale, Space, default_space
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import InnerSolution
from hyperlasso.outer import OuterResult, make_optimizer
from hyperlasso.outer.rows import CompactRows, row_store

OPTIMIZERS = {"lbfgs", "gd", "adam", "grid", "random", "tpe"}
#: Inner tolerance (relative duality gap) of the refit and of ``best_score_``; the
#: user's ``tol`` if it is tighter.
REFIT_TOL = 1e-8


def warnings_once_per_fit(fit):
    """Decorator of ``fit``: each warning raised during the fit (by every fold,
    evaluation and thread) is shown once, after it, however many times it was
    raised with the same category and text.

    Python shows a warning once per place by default, but the inner solver's
    ``catch_warnings`` blocks (the polish re-solve) reset that record: a LassoCV
    fit on a sparse design of E2006-log1p's kind printed the singular-Hessian
    warning 40 times. The user's filters apply when the warnings are shown (an
    "error" filter raises then, at the end of the fit); warnings whose texts
    differ (an inner solver's achieved gap) are each shown.
    """
    @functools.wraps(fit)
    def fit_with_warnings_once(self, *args, **kwargs):
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                return fit(self, *args, **kwargs)
        finally:
            _show_once(caught)

    return fit_with_warnings_once


def _show_once(caught: list) -> None:
    shown = set()
    for record in caught:
        key = (record.category, str(record.message))
        if key not in shown:
            shown.add(key)
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno, source=record.source)


class HyperCVMixin(BaseEstimator):
    """Base class of the estimators; subclasses say which inner model they tune."""

    _parameter_constraints: dict = {
        "criterion": [StrOptions(set(CRITERIA)), HasMethods(["value_and_grad"])],
        "cv": ["cv_object"],
        "hypergradient": [StrOptions({"auto", *METHODS}), Settings],
        "optimizer": [StrOptions(OPTIMIZERS), HasMethods(["minimize"])],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "alpha_init": ["array-like", Interval(Real, 0, None, closed="neither"), None],
        "alpha_bounds": ["array-like", None],
    }

    def __init__(self, *, criterion="cv", cv=5, hypergradient="auto", optimizer="lbfgs",
                 max_iter=50, tol=1e-6, fit_intercept=True, n_jobs=None,
                 alpha_init=None, alpha_bounds=None, verbose=0):
        self.criterion = criterion
        self.cv = cv
        self.hypergradient = hypergradient
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.alpha_init = alpha_init
        self.alpha_bounds = alpha_bounds
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _model(self) -> Model:
        raise NotImplementedError

    def _settings(self) -> Settings:
        if isinstance(self.hypergradient, Settings):
            return self.hypergradient
        return Settings(method=self.hypergradient, tol=self.tol)

    def _tune(self, X, y_model, space=None, model: Model | None = None, cv=None):
        """Run the outer optimization; return (model, space, OuterResult).

        ``space`` is a Space, None (the default space with the user's bounds and
        start) or a function of the default space; it is built after the
        objective, whose data checks come first.
        """
        model = self._model() if model is None else model
        objective = make_objective(self.criterion, model, X, y_model, self._settings(),
                                   cv=self.cv if cv is None else cv, n_jobs=self.n_jobs,
                                   sigma=getattr(self, "sigma_", self.sigma))
        if not isinstance(space, Space):
            make_space = self._user_space if space is None else space
            space = make_space(default_space(model, Design.of(X, model.fit_intercept),
                                             y_model))
        optimizer = make_optimizer(self.optimizer, **self._optimizer_options())
        fun = LogScale(objective, space)
        with self._progress(model, objective, optimizer, space) as progress:
            result = optimizer.minimize(fun, space.theta0, space.bounds,
                                        callback=progress)
        result = _rescored(fun, result)
        # SURE's first problem is the refit's: its solution at the best alpha
        # (just rescored) starts the refit, which then only checks the gap
        self._refit_start = getattr(objective, "all_data_start", lambda: None)()
        return model, space, result

    def _user_space(self, space: Space) -> Space:
        """Apply ``alpha_bounds`` then ``alpha_init`` (the start must lie inside)."""
        if self.alpha_bounds is not None:
            space = space.bounded_by(self.alpha_bounds)
            if self.alpha_init is None:  # start at the geometric middle
                space = space.starting_at(np.exp(space.bounds.mean(axis=1)).reshape(
                    space.shape))
        if self.alpha_init is not None:
            space = space.starting_at(self.alpha_init)
        return space

    def _optimizer_options(self) -> dict:
        if self.optimizer == "grid":
            return {}
        return {"max_iter": self.max_iter} if isinstance(self.optimizer, str) else {}

    def _progress(self, model: Model, objective, optimizer, space: Space):
        """A progress bar or lines (``verbose``), or nothing; a context manager."""
        return progress_for(self.verbose, f"{type(self).__name__} {model.name}",
                            objective, optimizer, space.theta0.size)

    def _refit(self, model: Model, X, y_model, alpha) -> InnerSolution:
        """The solution on all data at alpha: solved to ``REFIT_TOL``, then, for the
        separable models, a Newton step on its support (``methods.polished``: exact
        for quadratic datafits, where a relative gap of 1e-8 can leave coefficients
        3e-6 off on an ill-conditioned ElasticNet); the block solver ends with its
        own Newton steps. Warm-started from the search's solution on all the data
        when its objective had one (SURE, an external validation criterion)."""
        design = Design.of(X, model.fit_intercept)
        problem = model.problem(model.check_alpha(alpha, X.shape[1]), design, y_model)
        start = getattr(self, "_refit_start", None)
        solution = model.solve(problem,
                               tol=min(self._settings().resolved().tol, REFIT_TOL),
                               warm_start=None if start is None else (start.coef,
                                                                      start.intercept))
        return polished(problem, solution) if model.kind == "separable" else solution

    def _set_fitted(self, space: Space, result: OuterResult, solution: InnerSolution,
                    history: dict) -> None:
        self.alpha_ = space.alpha(result.theta)
        self.best_score_ = result.value
        self.n_iter_ = result.n_iter
        self.history_ = history
        self.cv_results_ = cv_results(history)
        self.inner_solution_ = solution


def _rescored(fun, result: OuterResult) -> OuterResult:
    """The best point's value re-evaluated at the refit's inner tolerance.

    At the search tolerance an inner solve next to a support change can stop on a
    slightly different support and return a value below the true one (seen: 1e-4
    relative); the best of the history is biased towards such values.
    """
    if not callable(getattr(fun, "set_tolerance", None)):
        return result
    fun.set_tolerance(min(fun.tolerance, REFIT_TOL))
    return replace(result, value=float(fun.value(result.theta).value))


def monitor_split(n_samples: int, fraction: float | None, cv, who: str):
    """Rows to tune on and rows set aside as an early-stopping monitor (None: none).

    The folds are then drawn on the tuning rows, so ``cv`` must be an int.
    """
    if fraction is None:
        return np.arange(n_samples), None
    if not isinstance(cv, Integral):
        raise ValueError(f"{who} draws its folds on the samples left after setting the "
                         "monitor aside: cv must be an int, or set monitor_fraction=None "
                         "to pass your own splits.")
    splitter = ShuffleSplit(n_splits=1, test_size=fraction, random_state=0)
    return next(splitter.split(np.zeros((n_samples, 1))))


def best_on_monitor(result: OuterResult, errors) -> OuterResult:
    """The evaluated point with the lowest monitor error (its criterion value kept)."""
    best = int(np.argmin(errors))
    return replace(result, theta=result.history.theta[best].copy(),
                   value=float(result.history.value[best]))


def history_dict(space: Space, result: OuterResult, stage: str = "") -> dict:
    """The outer history with alpha (not theta) and the gradient in alpha."""
    history = result.history
    alphas, gradients = row_store(history.theta[0]), row_store(history.grad[0])
    for theta, grad in zip(history.theta, history.grad, strict=True):
        alpha = space.alpha(theta)
        alphas.append(alpha)
        gradients.append(_as_shape(grad.reshape(np.shape(alpha)) / alpha, space))
    return {
        "alpha": alphas,
        "value": history.value.tolist(),
        "gradient": gradients,
        "n_inner": history.n_inner.tolist(),
        "time": history.time.tolist(),
        "stage": [stage] * len(history),
        "support_size": history.support_size.tolist(),
        "fold_values": [list(v) for v in history.fold_values],
    }


def cv_results(history: dict) -> dict:
    """One row per outer evaluation, in the form ``pandas.DataFrame`` reads.

    Columns: ``param_alpha`` (what ``alpha_`` would have been), the criterion
    (lower is better; scikit-learn's search estimators report its negative as a
    score) as ``mean_test_criterion``, ``std_test_criterion`` and one
    ``split<k>_test_criterion`` column per fold (none for SURE, which has no
    folds), ``support_size`` (mean over folds), ``n_inner`` (epochs, all folds),
    ``time`` (seconds since the start, cumulative over stages), ``stage`` and,
    where the estimator keeps one, ``monitor``.
    """
    folds = history["fold_values"]
    n_splits = max((len(v) for v in folds), default=0)
    per_fold = np.full((len(folds), n_splits), np.nan)
    for row, values in enumerate(folds):
        per_fold[row, :len(values)] = values
    alphas = history["alpha"]
    results = {"param_alpha": alphas if isinstance(alphas, CompactRows) else list(alphas),
               "mean_test_criterion": np.asarray(history["value"], dtype=float)}
    results["std_test_criterion"] = (np.std(per_fold, axis=1) if n_splits
                                     else np.full(len(folds), np.nan))
    for k in range(n_splits):
        results[f"split{k}_test_criterion"] = per_fold[:, k]
    for key in ("support_size", "n_inner", "time", "stage", "monitor"):
        if key in history:
            results[key] = np.asarray(history[key])
    return results


def concat_histories(first: dict, second: dict, offset: float) -> dict:
    """Histories of two stages one after the other (times made cumulative)."""
    merged = {key: _joined(first[key], second[key]) for key in first}
    n_first = len(first["time"])
    merged["time"][n_first:] = [t + offset for t in second["time"]]
    return merged


def _joined(first, second):
    """Two stages' entries one after the other (compact rows stay compact)."""
    if isinstance(first, CompactRows) or isinstance(second, CompactRows):
        joined = CompactRows(first)
        for row in second:
            joined.append(row)
        return joined
    return list(first) + list(second)


def _as_shape(values, space: Space):
    values = np.asarray(values).reshape(space.shape)
    return float(values) if space.shape == () else values


def validate_X(estimator, X, reset: bool):
    """scikit-learn validation for X: float64, CSR/CSC accepted, finite."""
    return validate_data(estimator, X, accept_sparse=("csr", "csc"),
                         dtype=[np.float64, np.float32], reset=reset)


def binary_target(estimator, y) -> tuple[np.ndarray, np.ndarray]:
    """``classes_`` and y mapped to {-1, 1} (the second class to 1) for a two-class
    estimator, with the errors scikit-learn's checks expect."""
    check_classification_targets(y)
    classes = np.unique(y)
    name = type(estimator).__name__
    if classes.size < 2:
        raise ValueError(f"y has 1 class ({classes[0]!r}): {name} needs two.")
    target_type = type_of_target(y)
    if target_type != "binary":
        raise ValueError(f"Only binary classification is supported: {name} needs "
                         f"exactly two classes; the type of the target is {target_type} "
                         f"({classes.size} classes).")
    return classes, np.where(y == classes[1], 1.0, -1.0)


def linear_prediction(estimator, X) -> np.ndarray:
    """X @ coef_ + intercept_ for a fitted regressor."""
    check_is_fitted(estimator)
    X = validate_X(estimator, X, reset=False)
    intercept = np.ravel(estimator.intercept_)[0]
    return np.asarray(X @ np.ravel(estimator.coef_)).ravel() + intercept
