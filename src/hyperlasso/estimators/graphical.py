"""GraphicalLassoCV: sparse inverse covariance with penalties tuned by hypergradient."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from hyperlasso.criteria.gaussian import GraphicalObjective, HeldOutGaussianNLL
from hyperlasso.estimators.base import (
    best_on_monitor,
    concat_histories,
    cv_results,
    history_dict,
    monitor_split,
    warnings_once_per_fit,
)
from hyperlasso.estimators.progress import progress_for
from hyperlasso.hyperparameters import LogScale, Space
from hyperlasso.inner.graphical import GraphicalLasso, empirical_covariance, solve_graphical
from hyperlasso.outer import make_optimizer
from hyperlasso.outer.base import Recorder

#: Bounds of the scalar penalty relative to alpha_max = max_{i != j} |S_ij|: below
#: 1e-2 alpha_max the precision matrix is often too ill-conditioned to be useful.
LOWER, START = 1e-2, 0.3
#: L-BFGS on the scalar log-penalty. First step 0.25 (not 1): the optimum lies
#: within a factor e^0.5 of the start on the benchmark problems, and a unit step
#: (a penalty e times smaller) made the second solve the costliest of the search.
#: Relative decrease 1e-5 (not 1e-6): the last evaluations moved alpha by < 0.5 %,
#: far inside the draw-to-draw spread of the cross-validated penalty (~10 %).
#: Measured at p = 100 and 200 (3 draws each): 1.3-1.6x faster, CV NLL within
#: 7e-6 relative of the tighter search. Patience 3 (not 5): on strongly
#: correlated designs (AR(1), rho = 0.9, p = 100) the line search then spent 4 of
#: its 10 evaluations moving alpha by < 0.05 % on the criterion's kinks (support
#: changes), the CV NLL changing by < 1e-7 relative.
LBFGS_OPTIONS = {"first_step": 0.25, "tol": 1e-5, "patience": 3}
#: Matrix stage: each step of the path moves the log-penalties by at most this
#: much (normalized gradient descent). Measured on the benchmark problems (p = 100,
#: 200): L-BFGS's unit first step made the monitor's likelihood worse at once
#: (no matrix step kept); steps of 0.1 improved it for 1-2 steps, then it overfits;
#: 0.05 found the same minimum more slowly and a slightly worse test likelihood.
MATRIX_STEP = 0.1
#: Steps without a better monitor likelihood after which the path stops.
MATRIX_PATIENCE = 4


class GraphicalLassoCV(BaseEstimator):
    """Graphical lasso whose penalties are tuned on a held-out Gaussian likelihood.

    -logdet(Theta) + tr(S Theta) + sum_{i != j} Lam_ij |Theta_ij|, with Lam = alpha
    (``penalty="scalar"``) or one penalty per edge (``penalty="matrix"``, started
    from the scalar optimum), tuned by hypergradient descent on the K-fold mean
    held-out negative log-likelihood.

    Parameters
    ----------
    penalty : {"scalar", "matrix"}, default="scalar"
    cv : int, cross-validation generator or iterable, default=5
        Folds of samples.
    optimizer : {"lbfgs", "gd", "adam", "grid", "random", "tpe"} or object, default="lbfgs"
        Outer optimizer of the scalar stage on log(alpha); ``"lbfgs"`` is
        ``LBFGS(first_step=0.25, tol=1e-5, patience=3)``, pass an instance to
        change that.
    max_iter : int, default=50
        Outer iterations of each stage.
    tol : float, default=1e-8
        Optimality violation of the inner solver.
    penalize_diagonal : bool, default=False
    n_jobs : int or None, default=None
        Folds in parallel threads.
    refit_alpha : {"rescaled", "cv"}, default="rescaled"
        The penalty of the final fit on all n samples. Cross-validation tunes the
        penalty of an estimator fitted on the folds' training samples, n_fit < n of
        them (4/5 of n with 5 folds); the graphical lasso's penalty scales as
        sqrt(log(p) / n) (Rothman et al. 2008, Ravikumar et al. 2011), so
        ``"rescaled"`` refits with ``alpha_ = cv_alpha_ * sqrt(n_fit / n)``.
        ``"cv"`` refits with the cross-validated penalty itself, as scikit-learn
        does. Measured on 9 settings of generated problems (p = 20-100,
        n = 60-1000, 3-10 folds, 20 draws each): the test-optimal refit penalty
        was 0.76-0.98 times the cross-validated one, within 0.06 of
        sqrt(n_fit / n), and the defaults (this and ``validation_ddof=1``) gave a
        lower mean test NLL than scikit-learn's choices in all 9
        (``docs/graphical_lasso.md``).
    validation_ddof : {0, 1}, default=1
        The held-out samples' covariance is their sum of squares / (n_val - ddof):
        1, unbiased (see :class:`hyperlasso.HeldOutGaussianNLL`); 0, scikit-learn's
        criterion (with ``refit_alpha="cv"``, scikit-learn's estimator).
    monitor_fraction : float or None, default=0.2
        ``penalty="matrix"`` only: with one penalty per edge the cross-validated
        likelihood is overfitted within a few steps, so the matrix stage is a
        monitored path: this fraction of the samples is set aside, the path (steps
        of at most 0.1 in every log-penalty, from the scalar optimum tuned on all
        samples) runs on the rest, and the matrix kept is the one with the lowest
        NLL on the set-aside samples; the path stops after 4 steps without
        improving it (``history_["monitor"]`` records it). ``optimizer`` applies
        to the scalar stage.
    verbose : int, default=0
        0: silent; 1: a progress bar (with ``hyperlasso[progress]``; else one
        line per evaluation to stderr); 2: one line per evaluation.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (p, p)
        The penalty of ``precision_`` (see ``refit_alpha``).
    cv_alpha_ : float or ndarray of shape (p, p)
        The penalty the search selected, for the folds' training size.
    n_fit_ : float
        Number of training samples behind ``cv_alpha_``: the folds' mean, or for
        ``penalty="matrix"`` with a monitor the rows the monitor's fit used (unless
        the monitor kept the scalar optimum).
    precision_ : ndarray of shape (p, p)
    covariance_ : ndarray of shape (p, p)
        inv(precision_).
    location_ : ndarray of shape (p,)
        Mean of the training samples.
    best_score_ : float
        Mean held-out NLL at ``cv_alpha_`` (lower is better).
    n_iter_ : int
    history_ : dict of lists
        One entry per evaluation: "alpha", "value", "gradient", "n_inner", "time",
        "stage" ("scalar" or "matrix"), "support_size" (edges), "fold_values".
    cv_results_ : dict of arrays
        One row per evaluation, read by ``pandas.DataFrame(est.cv_results_)``:
        "param_alpha", "mean_test_criterion" (held-out NLL), "std_test_criterion",
        "split<k>_test_criterion" (one per fold), "support_size", "n_inner",
        "time", "stage" and "monitor".
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"scalar", "matrix"})],
        "cv": ["cv_object"],
        "optimizer": [StrOptions({"lbfgs", "gd", "adam", "grid", "random", "tpe"}),
                      HasMethods(["minimize"])],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "penalize_diagonal": ["boolean"],
        "refit_alpha": [StrOptions({"rescaled", "cv"})],
        "validation_ddof": [Options(Integral, {0, 1})],
        "n_jobs": [Integral, None],
        "monitor_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "verbose": ["verbose"],
    }

    def __init__(self, *, penalty="scalar", cv=5, optimizer="lbfgs", max_iter=50, tol=1e-8,
                 penalize_diagonal=False, refit_alpha="rescaled", validation_ddof=1,
                 n_jobs=None, monitor_fraction=0.2, verbose=0):
        self.penalty = penalty
        self.cv = cv
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.penalize_diagonal = penalize_diagonal
        self.refit_alpha = refit_alpha
        self.validation_ddof = validation_ddof
        self.n_jobs = n_jobs
        self.monitor_fraction = monitor_fraction
        self.verbose = verbose

    @warnings_once_per_fit
    def fit(self, X, y=None):
        """Tune the penalties on the samples X (rows), then refit on all of them.

        Parameters
        ----------
        X : array-like of shape (n_samples, p)
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2,
                          ensure_min_features=2)
        scalar_model = GraphicalLasso("scalar", self.penalize_diagonal)
        splits = list(check_cv(self.cv).split(X))
        space, result = self._stage(scalar_model, X, splits, self._scalar_space(X))
        history = history_dict(space, result, "scalar")
        model, n_fit = scalar_model, _mean_training_size(splits)
        if self.penalty == "matrix":
            # The scalar stage saw every sample (so that the matrix result falls back
            # on the scalar estimator itself when no matrix step helps); the matrix
            # stage tunes on the rest of a held-out monitor, which stops it early.
            tune_rows, monitor_rows = monitor_split(X.shape[0], self.monitor_fraction,
                                                    self.cv, "penalty='matrix'")
            X_tune = X[tune_rows]
            splits = list(check_cv(self.cv).split(X_tune))
            model = GraphicalLasso("matrix", self.penalize_diagonal)
            space = _matrix_space(space, result, X.shape[1])
            monitor = None if monitor_rows is None else GraphicalObjective(
                model, X, [(tune_rows, monitor_rows)], self.tol, ddof=self.validation_ddof)
            # The path's folds have fewer training rows than the monitor's fit: their
            # gradient is not rescaled to it (measured on the benchmark problems,
            # p = 100 and 200, 9 draws: rescaling it gave an equal or worse test
            # NLL on every draw, the monitor then stopping the path sooner).
            objective = GraphicalObjective(model, X_tune, splits, self.tol,
                                           n_jobs=self.n_jobs, ddof=self.validation_ddof)
            with self._progress("matrix", objective, None, space) as progress:
                result, errors = _monitored_path(LogScale(objective, space), space,
                                                 monitor, self.max_iter, progress)
            # The matrix kept was chosen on the monitor, fitted on the tuning rows,
            # unless it is the start: the scalar optimum, tuned on the folds.
            if monitor is None:
                n_fit = _mean_training_size(splits)
            elif int(np.argmin(errors)) > 0:
                n_fit = len(tune_rows)
            matrix_history = history_dict(space, result, "matrix")
            matrix_history["monitor"] = errors
            history["monitor"] = [np.nan] * len(history["value"])
            history = _concat(history, matrix_history, X.shape[1])
        self._set_fitted(model, space, result, X, history, n_fit)
        return self

    def _scalar_space(self, X) -> Space:
        amax = GraphicalLasso().alpha_max(empirical_covariance(X))
        if amax <= 0:
            raise ValueError("X has uncorrelated columns (all off-diagonal covariances "
                             "are 0): there is nothing to tune.")
        return Space(np.log([START * amax]), np.log([[LOWER * amax, amax]]), ())

    def _stage(self, model, X, splits, space: Space):
        objective = GraphicalObjective(model, X, splits, self.tol, n_jobs=self.n_jobs,
                                       ddof=self.validation_ddof)
        options = {} if self.optimizer == "grid" or not isinstance(self.optimizer, str) \
            else {"max_iter": self.max_iter}
        if self.optimizer == "lbfgs":
            options.update(LBFGS_OPTIONS)
        optimizer = make_optimizer(self.optimizer, **options)
        with self._progress("scalar", objective, optimizer, space) as progress:
            result = optimizer.minimize(LogScale(objective, space), space.theta0,
                                        space.bounds, callback=progress)
        return space, result

    def _progress(self, stage: str, objective, optimizer, space: Space):
        return progress_for(self.verbose, f"{type(self).__name__} {stage}", objective,
                            optimizer, space.theta0.size)

    def _set_fitted(self, model, space, result, X, history, n_fit: float) -> None:
        self.cv_alpha_ = space.alpha(result.theta)
        self.n_fit_ = n_fit
        # The penalty rate sqrt(log(p) / n), carried from n_fit samples to all of X.
        scale = np.sqrt(n_fit / X.shape[0]) if self.refit_alpha == "rescaled" else 1.0
        self.alpha_ = self.cv_alpha_ * scale
        S = empirical_covariance(X)
        solution = solve_graphical(S, model.penalty_matrix(np.asarray(self.alpha_),
                                                           S.shape[0]), tol=self.tol)
        self.precision_, self.covariance_ = solution.precision, solution.covariance
        self.location_ = X.mean(axis=0)
        self.best_score_ = result.value
        self.n_iter_ = result.n_iter
        self.history_ = history
        self.cv_results_ = cv_results(history)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per sample, up to constants: minus half the NLL with
        the samples' maximum-likelihood covariance (ddof = 0), as scikit-learn's
        ``score``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return -0.5 * HeldOutGaussianNLL(X, ddof=0).value(self.precision_)


def _mean_training_size(splits) -> float:
    """Mean number of training samples over (train, validation) splits."""
    return float(np.mean([len(train) for train, _ in splits]))


def _matrix_space(space: Space, result, p: int) -> Space:
    """One penalty per entry, started at the scalar optimum, same bounds."""
    alpha = float(space.alpha(result.theta))
    low, high = np.exp(space.bounds[0])
    start = np.clip(alpha, low, high)
    return Space(np.full(p * p, np.log(start)), np.tile(space.bounds[0], (p * p, 1)),
                 (p, p))


def _concat(first: dict, second: dict, p: int) -> dict:
    """The scalar stage (alphas broadcast to p x p) followed by the matrix stage."""
    first = dict(first)
    first["alpha"] = [np.full((p, p), a) for a in first["alpha"]]
    first["gradient"] = [np.full((p, p), np.nan) for _ in first["gradient"]]
    return concat_histories(first, second, first["time"][-1])


def _monitored_path(fun, space: Space, monitor, max_iter: int, callback=None):
    """Normalized gradient descent on the matrix penalties, early-stopped.

    Each step moves theta = log(alpha) by ``MATRIX_STEP`` along the gradient
    divided by its largest entry. With a monitor (held-out samples), the point
    kept is the one with the lowest monitor NLL, and the path stops after
    ``MATRIX_PATIENCE`` steps without improving it; without one, the lowest
    criterion after ``max_iter`` steps.

    Returns
    -------
    result : OuterResult
    errors : list of float
        Monitor NLL of each evaluation (NaN without a monitor).
    """
    recorder = Recorder(fun, space.bounds, callback)
    theta, errors, since_best = recorder.project(space.theta0), [], 0
    for _ in range(max_iter):
        _, grad = recorder.value_and_grad(theta)
        if monitor is None:
            errors.append(np.nan)
        else:
            errors.append(monitor.value(space.alpha(theta)).value)
            since_best = 0 if errors[-1] <= min(errors) else since_best + 1
            if since_best >= MATRIX_PATIENCE:
                break
        largest = float(np.max(np.abs(grad)))
        if largest == 0.0:
            break
        theta = recorder.project(theta - MATRIX_STEP * grad / largest)
    result = recorder.result(len(errors), "monitored path")
    return (result if monitor is None else best_on_monitor(result, errors)), errors
