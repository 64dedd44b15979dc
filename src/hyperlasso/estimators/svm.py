"""LinearSVCCV and LinearSVRCV: the linear SVM and SVR with C (and epsilon) tuned by
hypergradient descent on their dual (``hyperlasso.inner.dual``)."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from hyperlasso.estimators.base import (
    REFIT_TOL,
    HyperCVMixin,
    binary_target,
    history_dict,
    linear_prediction,
    warnings_once_per_fit,
)
from hyperlasso.hypergradients.methods import polished
from hyperlasso.inner.dual import LinearSVM, LinearSVR, primal_solution
from hyperlasso.inner.problem import Design

_SVM_PARAMETERS = """
    Parameters
    ----------
    criterion : {{"cv", "holdout"}} or criterion object, default="cv"
        K-fold cross-validated held-out loss ({loss}), the same on one
        split, or a criterion on external data such as
        ``hyperlasso.{criterion}(X_val, y_val)``.
    cv : int, cross-validation generator or iterable, default=5
        Folds, as in scikit-learn.
    hypergradient : str or hyperlasso.hypergradients.Settings, default="auto"
        "auto" (a Newton step on the free dual variables, then implicit
        differentiation: exact once they are identified), "implicit",
        "implicit_forward", "forward", "backward".
    optimizer : {{"lbfgs", "gd", "adam", "grid", "random", "tpe"}} or object, \
default="lbfgs"
    max_iter : int, default=50
    tol : float, default=1e-6
        Inner tolerance: the SVM's duality gap relative to its primal at w = 0.
    fit_intercept : bool, default=True
        The intercept is the weight of a constant column ``intercept_scaling``
        and is penalized with the others, as in liblinear (scikit-learn's
        ``{peer}``).
    intercept_scaling : float, default=1.0
    n_jobs : int or None, default=None
        Folds solved in parallel threads.
    alpha_init, alpha_bounds : default=None
        Start and bounds of the search on {what}; by default C starts at
        1 / mean_i ||x_i||^2 (with the constant column) within 1e-3 and 1e4
        times that.
    verbose : int, default=0

    Attributes
    ----------
    C_ : float
        Tuned C (also ``alpha_``{also}).
    coef_, intercept_ : as in scikit-learn's ``{peer}``
    best_score_ : float
        The criterion (a loss) at the tuned value.
    n_iter_, history_, cv_results_, inner_solution_ : as in ``LassoCV``
"""


class _DualCVMixin(HyperCVMixin):
    """Refit on all data through the dual, then the primal coefficients."""

    sigma = None  # SURE does not apply

    _parameter_constraints: dict = {
        **HyperCVMixin._parameter_constraints,
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
    }

    def _refit(self, model, X, y_model, alpha):
        design = Design.of(X, model.fit_intercept)
        problem = model.problem(model.check_alpha(alpha, X.shape[0]), design, y_model)
        tol = min(self._settings().resolved().tol, REFIT_TOL)
        solution = polished(problem, model.solve(problem, tol=tol))
        return primal_solution(solution, *model.primal_point(problem, solution.coef))

    def _set_fitted(self, space, result, solution, history) -> None:
        super()._set_fitted(space, result, solution, history)
        # scipy's L-BFGS-B counts finished iterations: a search whose first line
        # search ends at a kink of the criterion (where the free dual variables
        # change, e.g. duplicated samples) reports 0 though it evaluated and moved.
        self.n_iter_ = max(self.n_iter_, 1)

    def _validated(self, X, y, **options):
        self._validate_params()
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"),
                             dtype=[np.float64, np.float32], **options)
        return X.astype(np.float64, copy=False), y


class LinearSVCCV(LinearClassifierMixin, ClassifierMixin, _DualCVMixin):
    __doc__ = ("Linear SVM (hinge loss) whose C is tuned by hypergradient descent.\n\n"
               "    1/2 ||w||^2 + C sum_i max(0, 1 - y_i (x_i.w + b)), two classes.\n"
               + _SVM_PARAMETERS.format(loss="smoothed hinge", peer="LinearSVC",
                                        criterion="HeldOutSmoothedHinge", what="C",
                                        also=""))

    def __init__(self, *, criterion="cv", cv=5, hypergradient="auto", optimizer="lbfgs",
                 max_iter=50, tol=1e-6, fit_intercept=True, intercept_scaling=1.0,
                 n_jobs=None, alpha_init=None, alpha_bounds=None, verbose=0):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.intercept_scaling = intercept_scaling

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _model(self):
        return LinearSVM(fit_intercept=self.fit_intercept,
                         intercept_scaling=self.intercept_scaling)

    @warnings_once_per_fit
    def fit(self, X, y):
        """Tune C on (X, y) (two classes, any labels), then refit on all of it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = self._validated(X, y)
        self.classes_, y_model = binary_target(self, y)
        model, space, result = self._tune(X, y_model)
        solution = self._refit(model, X, y_model, space.alpha(result.theta))
        self._set_fitted(space, result, solution, history_dict(space, result))
        self.C_ = self.alpha_
        self.coef_ = solution.coef[None, :]
        self.intercept_ = np.array([solution.intercept])
        return self


class LinearSVRCV(RegressorMixin, _DualCVMixin):
    __doc__ = ("Linear SVR whose C (and epsilon) is tuned by hypergradient descent.\n\n"
               "    1/2 ||w||^2 + C sum_i max(0, |y_i - x_i.w - b| - epsilon).\n"
               + _SVM_PARAMETERS.format(loss="mean squared error", peer="LinearSVR",
                                        criterion="HeldOutMSE",
                                        what="C, or (C, epsilon)",
                                        also="; ``alpha_`` is (C, epsilon) when "
                                        "``epsilon='tune'``")
               + """    epsilon : float or "tune", default=0.0
        The width of the insensitive tube, fixed (>= 0, in the units of y) or
        tuned with C ("tune": it starts at 0.1 std(y), within 1e-4 and 1 times
        std(y)).
    epsilon_ : float
        The epsilon used (tuned or given).
""")

    _parameter_constraints: dict = {
        **_DualCVMixin._parameter_constraints,
        "epsilon": [Interval(Real, 0, None, closed="left"), StrOptions({"tune"})],
    }

    def __init__(self, *, epsilon=0.0, criterion="cv", cv=5, hypergradient="auto",
                 optimizer="lbfgs", max_iter=50, tol=1e-6, fit_intercept=True,
                 intercept_scaling=1.0, n_jobs=None, alpha_init=None, alpha_bounds=None,
                 verbose=0):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.epsilon = epsilon
        self.intercept_scaling = intercept_scaling

    def _model(self):
        return LinearSVR(fit_intercept=self.fit_intercept,
                         intercept_scaling=self.intercept_scaling,
                         epsilon=None if self.epsilon == "tune" else float(self.epsilon))

    @warnings_once_per_fit
    def fit(self, X, y):
        """Tune C (and epsilon) on (X, y), then refit on all of it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = self._validated(X, y, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        model, space, result = self._tune(X, y)
        solution = self._refit(model, X, y, space.alpha(result.theta))
        self._set_fitted(space, result, solution, history_dict(space, result))
        alpha = np.ravel(self.alpha_)
        self.C_ = float(alpha[0])
        self.epsilon_ = float(alpha[1]) if self.epsilon == "tune" else float(self.epsilon)
        self.coef_ = solution.coef
        self.intercept_ = np.array([solution.intercept])
        return self

    def predict(self, X) -> np.ndarray:
        """X @ coef_ + intercept_, shape (n_samples,)."""
        return linear_prediction(self, X)
