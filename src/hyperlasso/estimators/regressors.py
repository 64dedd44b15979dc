"""LassoCV, ElasticNetCV and WeightedLassoCV: penalties tuned by hypergradient descent."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from hyperlasso.criteria import make_objective
from hyperlasso.criteria.splits import take_rows
from hyperlasso.estimators.base import (
    HyperCVMixin,
    best_on_monitor,
    concat_histories,
    history_dict,
    linear_prediction,
    monitor_split,
    warnings_once_per_fit,
)
from hyperlasso.estimators.noise import estimate_noise
from hyperlasso.hyperparameters import default_space
from hyperlasso.inner.models import ElasticNet, Lasso, WeightedLasso
from hyperlasso.inner.problem import Design
from hyperlasso.outer.rows import broadcast_rows

_PARAMETERS_DOC = """
    Parameters
    ----------
    criterion : {"cv", "holdout", "sure"} or criterion object, default="cv"
        What is minimized: K-fold cross-validated MSE, the MSE on one held-out
        split, SURE (needs ``sigma``), or a criterion on external validation data
        such as ``hyperlasso.HeldOutMSE(X_val, y_val)``.
    cv : int, cross-validation generator or iterable, default=5
        Folds, as in scikit-learn (``KFold(cv)`` for an int).
    hypergradient : str or hyperlasso.hypergradients.Settings, default="auto"
        Hypergradient method ("auto", "polish", "implicit", "implicit_forward",
        "forward", "backward") or full settings.
    optimizer : {"lbfgs", "gd", "adam", "grid", "random", "tpe"} or object, \
default="lbfgs"
        Outer optimizer on log(alpha), or an instance from ``hyperlasso.outer``.
    max_iter : int, default=50
        Outer iterations (trials for random and TPE search).
    tol : float, default=1e-6
        Inner tolerance (relative duality gap) during the search; the refit on
        all data uses min(tol, 1e-8).
    fit_intercept : bool, default=True
    n_jobs : int or None, default=None
        Folds solved in parallel threads; with ``criterion="sure"``, 2 solves
        its two inner problems (targets y and y + eps delta) at once.
    sigma : float or None, default=None
        Noise level (standard deviation of each entry of y) for
        ``criterion="sure"``; estimated when None, with a warning (see
        ``hyperlasso.estimators.noise.estimate_noise``), and kept in ``sigma_``.
    alpha_init : float or array-like, default=None
        Start of the search; alpha_max / 10 by default (ElasticNet l2 weight:
        0.1 times the mean of ||X_j||^2 / n).
    alpha_bounds : array-like of shape (2,) or (n_hyperparameters, 2), default=None
        Search bounds; [alpha_max 1e-3, alpha_max] by default.
    verbose : int, default=0
        0: silent (as scikit-learn); 1: a progress bar over the evaluations with
        the criterion, the best value, the support size and the folds done (with
        ``hyperlasso[progress]``, i.e. tqdm; else one line per evaluation to
        stderr); 2: one line per evaluation.

    Attributes
    ----------
    alpha_ : float or ndarray
        Tuned hyperparameters.
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    best_score_ : float
        Criterion at ``alpha_`` (a loss: lower is better), evaluated at the
        refit's inner tolerance.
    n_iter_ : int
        Outer iterations (of all three stages for ``ElasticNetCV`` when it runs
        the third).
    history_ : dict of lists
        One entry per evaluation: "alpha", "value", "gradient" (in alpha, NaN for
        zero-order searches), "n_inner" (inner epochs), "time" (s), "stage",
        "support_size" (mean over folds), "fold_values" (criterion per fold).
    cv_results_ : dict of arrays
        One row per evaluation, read by ``pandas.DataFrame(est.cv_results_)``:
        "param_alpha", "mean_test_criterion", "std_test_criterion",
        "split<k>_test_criterion" (one per fold; none for SURE), "support_size",
        "n_inner", "time", "stage" (and "monitor" where kept). The criterion is a
        loss: scikit-learn's search estimators report its negative as a score.
    inner_solution_ : InnerSolution
        The refit's solution (support, achieved duality gap...).
    sigma_ : float or None
        The noise level SURE used (``sigma``, or its estimate); None for the
        other criteria unless ``sigma`` is given.
"""


class _RegressorCV(RegressorMixin, HyperCVMixin):
    _parameter_constraints: dict = {
        **HyperCVMixin._parameter_constraints,
        "sigma": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, *, criterion="cv", cv=5, hypergradient="auto", optimizer="lbfgs",
                 max_iter=50, tol=1e-6, fit_intercept=True, n_jobs=None, sigma=None,
                 alpha_init=None, alpha_bounds=None, verbose=0):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.sigma = sigma

    @warnings_once_per_fit
    def fit(self, X, y):
        """Tune the penalties on (X, y), then refit on all of it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"),
                             dtype=[np.float64, np.float32], y_numeric=True,
                             multi_output=self._multi_output)
        X = X.astype(np.float64, copy=False)
        y = self._target(np.asarray(y, dtype=np.float64))
        self.sigma_ = self._noise_level(X, y)
        model, space, result, history = self._search(X, y)
        solution = self._refit(model, X, y, space.alpha(result.theta))
        self._set_fitted(space, result, solution, history)
        self._set_coefficients(solution)
        return self

    def _noise_level(self, X, y):
        """``sigma``, or for SURE without it an estimate (with a warning)."""
        if not (isinstance(self.criterion, str) and self.criterion == "sure") \
                or self.sigma is not None:
            return self.sigma
        sigma = estimate_noise(X, y, self.fit_intercept)
        warnings.warn(
            f"criterion='sure' without sigma: the noise level is estimated as "
            f"{sigma:.4g} from the residuals of a cross-validated Lasso (Reid et al. "
            "2016, see hyperlasso.estimators.noise); SURE and alpha_ depend on it. "
            "Pass sigma= if it is known.", UserWarning, stacklevel=3)
        return sigma

    #: Whether fit takes a 2-D target (multi-task models).
    _multi_output = False

    def _target(self, y: np.ndarray) -> np.ndarray:
        """The target as the inner model takes it."""
        return y

    def _set_coefficients(self, solution) -> None:
        self.coef_ = solution.coef
        self.intercept_ = solution.intercept

    def _stage_model(self):
        """The single-penalty model whose optimum starts multi-penalty searches."""
        return Lasso(fit_intercept=self.fit_intercept)

    def _search(self, X, y):
        model, space, result = self._tune(X, y)
        return model, space, result, history_dict(space, result)

    def _lasso_stage(self, X, y, cv, default=None):
        """Tune a plain Lasso on (X, y): the start of the multi-penalty models.

        ``default``: the Lasso's default space if not that of (X, y) (the weighted
        models search on X with folds on some of its rows). Returns the Lasso's
        space, its OuterResult and its history.
        """
        def within_user_bounds(space):  # the user's bounds reduced to one pair
            if self.alpha_bounds is None:
                return space
            bounds = np.asarray(self.alpha_bounds, dtype=float).reshape(-1, 2)
            space = space.bounded_by((bounds[:, 0].min(), bounds[:, 1].max()))
            return space.starting_at(np.exp(space.bounds.mean()))

        lasso = self._stage_model()
        space = within_user_bounds if default is None else within_user_bounds(default)
        space, result = self._tune(X, y, space=space, model=lasso, cv=cv)[1:]
        return space, result, history_dict(space, result, "lasso")

    def _fixed_folds(self, X, y):
        """``cv`` as an int or a list of splits, so that stages share their folds."""
        return self.cv if isinstance(self.cv, Integral) else list(
            check_cv(self.cv).split(X, y))

    def predict(self, X) -> np.ndarray:
        """Linear prediction X @ coef_ + intercept_, shape (n_samples,)."""
        return linear_prediction(self, X)


class LassoCV(_RegressorCV):
    __doc__ = ("Lasso whose alpha is tuned by hypergradient descent.\n\n    "
               "||y - Xw - b||^2 / (2n) + alpha ||w||_1.\n" + _PARAMETERS_DOC)

    def _model(self):
        return Lasso(fit_intercept=self.fit_intercept)


class ElasticNetCV(_RegressorCV):
    __doc__ = ("ElasticNet whose two penalties are tuned by hypergradient descent.\n\n"
               "    ||y - Xw - b||^2 / (2n) + alpha_[0] ||w||_1 + alpha_[1] / 2 ||w||^2"
               "\n    (scikit-learn's alpha * l1_ratio and alpha * (1 - l1_ratio)).\n\n"
               "    With a gradient optimizer and no ``alpha_init``, the search from the"
               "\n    default start is followed by a Lasso stage (l2 = 0); if the Lasso"
               "\n    does better, a third stage starts from its alpha at the smallest l2"
               "\n    weight and the better ElasticNet is kept. The criterion is flat in"
               "\n    log(l2) at small l2 and rough along support changes: from the default"
               "\n    start alone L-BFGS stopped 0.15 % above the Lasso on diabetes with"
               "\n    degree-3 features, and from the Lasso alone 10 % above the best"
               "\n    ElasticNet on correlated designs. ``history_['stage']`` tells the"
               "\n    stages apart.\n"
               + _PARAMETERS_DOC)

    def _model(self):
        return ElasticNet(fit_intercept=self.fit_intercept)

    def _search(self, X, y):
        if self.alpha_init is not None or not _is_first_order(self.optimizer):
            return super()._search(X, y)
        cv = self._fixed_folds(X, y)
        model, space, result = self._tune(X, y, cv=cv)
        history = history_dict(space, result, "elastic_net")
        lasso_space, lasso_result, lasso = self._lasso_stage(X, y, cv)
        lasso["alpha"] = [np.array([a, 0.0]) for a in lasso["alpha"]]
        lasso["gradient"] = [np.array([g, np.nan]) for g in lasso["gradient"]]
        history = concat_histories(history, lasso, history["time"][-1])
        if lasso_result.value < result.value:
            # The ElasticNet stopped above the Lasso: search again from the Lasso's
            # alpha and the smallest l2 weight allowed.
            start = [lasso_space.alpha(lasso_result.theta), np.exp(space.bounds[1, 0])]
            retry = space.starting_at(np.clip(start, *np.exp(space.bounds).T))
            retry_result = self._tune(X, y, space=retry, model=model, cv=cv)[2]
            history = concat_histories(history, history_dict(retry, retry_result,
                                                             "elastic_net_from_lasso"),
                                       history["time"][-1])
            n_iter = result.n_iter + lasso_result.n_iter + retry_result.n_iter
            result = replace(min(result, retry_result, key=lambda r: r.value),
                             n_iter=n_iter)
        return model, space, result, history


class WeightedLassoCV(_RegressorCV):
    __doc__ = ("Lasso with one penalty per feature, all tuned by hypergradient descent."
               "\n\n    ||y - Xw - b||^2 / (2n) + sum_j alpha_j |w_j|; the search starts"
               "\n    from the Lasso's tuned alpha (a first, scalar stage).\n\n"
               "    With one hyperparameter per feature the criterion can be overfitted:"
               "\n    ``monitor_fraction`` of the samples (default 0.2) is set aside, both"
               "\n    stages tune on the rest, and the weights kept are those of the"
               "\n    evaluated point with the lowest error on the set-aside samples (the"
               "\n    Lasso's start included): early stopping on a held-out monitor."
               "\n    ``history_['monitor']`` records that error.\n"
               + _PARAMETERS_DOC)

    _parameter_constraints: dict = {
        **_RegressorCV._parameter_constraints,
        "monitor_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(self, *, criterion="cv", cv=5, hypergradient="auto", optimizer="lbfgs",
                 max_iter=50, tol=1e-6, fit_intercept=True, n_jobs=None, sigma=None,
                 alpha_init=None, alpha_bounds=None, monitor_fraction=0.2, verbose=0):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs, sigma=sigma,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.monitor_fraction = monitor_fraction

    def _model(self):
        return WeightedLasso(fit_intercept=self.fit_intercept)

    def _search(self, X, y):
        tune_rows, monitor_rows = self._monitor_split(X, y)
        if monitor_rows is None:
            tuning = _Tuning(X, y, self._fixed_folds(X, y), X, y)
        else:
            tuning = self._tuning_rows(X, y, tune_rows, monitor_rows)
        model, lasso_model = self._model(), self._stage_model()
        lasso_default = default_space(lasso_model, tuning.design(lasso_model),
                                      tuning.y_tune)
        space = self._user_space(default_space(model, tuning.design(model),
                                               tuning.y_tune))
        tuning = tuning.searching()
        lasso_space, lasso_result, lasso = self._lasso_stage(
            tuning.X, tuning.y, tuning.cv, default=lasso_default)
        if self.alpha_init is None:
            start = np.full(space.shape, lasso_space.alpha(lasso_result.theta))
            space = space.starting_at(np.clip(start, *np.exp(space.bounds).T))
        _, space, result = self._tune(tuning.X, tuning.y, space=space, model=model,
                                      cv=tuning.cv)
        monitor = [np.nan] * len(result.history)
        if monitor_rows is not None:
            result, monitor = self._early_stopped(model, space, result, X, y,
                                                  (tune_rows, monitor_rows))
        weighted = history_dict(space, result, "weighted")
        weighted["monitor"] = monitor
        lasso = _broadcast_alpha(lasso, space.shape[0])
        lasso["monitor"] = [np.nan] * len(lasso["value"])
        history = concat_histories(lasso, weighted, lasso_result.history.time[-1])
        return model, space, result, history

    def _tuning_rows(self, X, y, tune_rows, monitor_rows) -> _Tuning:
        """The data both stages search on, the monitor's rows left out.

        Held-out and K-fold criteria search on X itself with their folds drawn on
        the tuning rows and numbered in X: the folds are exactly those of X's
        tuning rows copied out, but no such copy lives through the search (on
        E2006-log1p's shape it was 0.8 times the bytes of X). SURE and external
        criteria search on the copy. The copy serves the default bounds, then goes.
        """
        X_tune, y_tune = take_rows(X, tune_rows, monitor_rows[:0])[0], y[tune_rows]
        if not (isinstance(self.criterion, str) and self.criterion in ("cv", "holdout")):
            return _Tuning(X_tune, y_tune, self._fixed_folds(X_tune, y_tune), X_tune,
                           y_tune)
        folds = check_cv(self.cv).split(np.zeros((tune_rows.size, 1)))
        cv = [(tune_rows[train], tune_rows[test]) for train, test in folds]
        return _Tuning(X, y, cv, X_tune, y_tune)

    def _monitor_split(self, X, y):
        return monitor_split(y.shape[0], self.monitor_fraction, self.cv,
                             type(self).__name__)

    def _early_stopped(self, model, space, result, X, y, rows):
        """The evaluated point with the lowest error on the monitor samples: each
        one fitted on the tuning rows ``rows[0]``, scored on the monitor ``rows[1]``."""
        monitor = make_objective("holdout", model, X, y, self._settings(), cv=[rows])
        errors = [monitor.value(space.alpha(theta)).value
                  for theta in result.history.theta]
        return best_on_monitor(result, errors), errors


@dataclass
class _Tuning:
    """What a weighted model's two stages search on: ``X``, ``y`` and the folds
    ``cv`` (an int, or splits numbered in X); ``X_tune``, ``y_tune``: the tuning
    rows themselves, for the default spaces, dropped by ``searching``."""

    X: object
    y: np.ndarray
    cv: object
    X_tune: object
    y_tune: np.ndarray

    def design(self, model) -> Design:
        """The tuning rows' design for ``model``'s default space."""
        return Design.of(self.X_tune, model.fit_intercept)

    def searching(self) -> _Tuning:
        """The same without the tuning rows' own copy."""
        return replace(self, X_tune=None)


def _is_first_order(optimizer) -> bool:
    """Whether ``optimizer`` follows gradients from its start (a search ignores it)."""
    from hyperlasso.outer import LBFGS, Adam, GradientDescent

    if isinstance(optimizer, str):
        return optimizer in {"lbfgs", "gd", "adam"}
    return isinstance(optimizer, (LBFGS, Adam, GradientDescent))


def _broadcast_alpha(history: dict, n_features: int) -> dict:
    history["alpha"] = broadcast_rows(history["alpha"], (n_features,))
    history["gradient"] = broadcast_rows([np.nan] * len(history["gradient"]),
                                         (n_features,))
    return history
