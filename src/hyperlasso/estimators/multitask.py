"""MultiTaskLassoCV, WeightedMultiTaskLassoCV and GroupLassoCV.

The block models of ``hyperlasso.inner.block_models`` behind the conventions of
the other estimators (``alpha_``, ``best_score_``, ``history_``, ``cv``,
``n_jobs``); ``coef_`` of the multi-task estimators has shape (n_tasks,
n_features), as in scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from hyperlasso.estimators.base import validate_X
from hyperlasso.estimators.regressors import (
    _PARAMETERS_DOC,
    WeightedLassoCV,
    _RegressorCV,
)
from hyperlasso.inner.block_models import (
    GroupLasso,
    MultiTaskLasso,
    WeightedGroupLasso,
    WeightedMultiTaskLasso,
)

_MULTITASK_ATTRIBUTES = """
    Multi-task shapes: Y of shape (n_samples, n_tasks); ``coef_`` of shape
    (n_tasks, n_features) and ``intercept_`` of shape (n_tasks,) as in
    scikit-learn's ``MultiTaskLassoCV``; the held-out MSE is the mean over all
    samples and tasks.
"""


#: First step of the block estimators' L-BFGS in log(alpha). From the default start
#: alpha_max / 10 the unit step of the Lasso estimators overshot to alpha_max / 27
#: on the tuning benchmark, where the active groups, the inner solve and the
#: hypergradient system are largest: MultiTaskLassoCV on 300 x 2000 x 20 took
#: 2.5 s with a unit step and 1.25 s with 0.3, at the same CV loss (1e-6 relative).
BLOCK_FIRST_STEP = 0.3
#: The block estimators' L-BFGS stops once an iteration changes alpha by less
#: than 1 % (``LBFGS.xtol`` in log(alpha)). Near the optimum the CV loss of the
#: tuning benchmark is flat to 1e-7 relative within that distance, and the last
#: evaluations spent there (5 of 8 for MultiTaskLassoCV on 300 x 2000 x 20)
#: refined alpha by 0.1 % at loss changes below the inner tolerance; scikit-learn's
#: 100-alpha grid has a resolution of 7 %.
BLOCK_XTOL = 1e-2


class _BlockSearchMixin:
    """L-BFGS with the block models' shorter first step (``BLOCK_FIRST_STEP``)
    and step tolerance (``BLOCK_XTOL``)."""

    def _optimizer_options(self) -> dict:
        options = super()._optimizer_options()
        if self.optimizer == "lbfgs":
            options.update(first_step=BLOCK_FIRST_STEP, xtol=BLOCK_XTOL)
        return options


class _MultiTaskMixin(_BlockSearchMixin):
    """Fit on a 2-D target; coefficients transposed to scikit-learn's (T, p)."""

    _multi_output = True

    def _target(self, y):
        return self._model().check_target(y, y.shape[0])

    def _set_coefficients(self, solution) -> None:
        self.coef_ = solution.coef.T.copy()
        self.intercept_ = solution.intercept

    def _stage_model(self):
        return MultiTaskLasso(fit_intercept=self.fit_intercept)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def predict(self, X) -> np.ndarray:
        """X @ coef_.T + intercept_, shape (n_samples, n_tasks)."""
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        return np.asarray(X @ self.coef_.T) + self.intercept_


class MultiTaskLassoCV(_MultiTaskMixin, _RegressorCV):
    __doc__ = ("Multi-task Lasso whose alpha is tuned by hypergradient descent.\n\n"
               "    ||Y - XW - 1 b^T||_F^2 / (2n) + alpha sum_j ||W_j||_2 (rows of W).\n"
               + _MULTITASK_ATTRIBUTES + _PARAMETERS_DOC)

    def _model(self):
        return MultiTaskLasso(fit_intercept=self.fit_intercept)


class WeightedMultiTaskLassoCV(_MultiTaskMixin, WeightedLassoCV):
    __doc__ = ("Multi-task Lasso with one penalty per feature (row of W), all tuned by"
               "\n    hypergradient descent from the tuned single-penalty optimum; the"
               "\n    monitor of ``WeightedLassoCV`` (``monitor_fraction``) guards"
               "\n    against overfitting the criterion.\n"
               + _MULTITASK_ATTRIBUTES + _PARAMETERS_DOC)

    def _model(self):
        return WeightedMultiTaskLasso(fit_intercept=self.fit_intercept)


class _GroupMixin(_BlockSearchMixin):
    """Groups and group weights as estimator parameters; 1-D coefficients."""

    def _target(self, y):
        return self._model().check_target(y, y.shape[0])

    def _set_coefficients(self, solution) -> None:
        self.coef_ = solution.coef[:, 0].copy()
        self.intercept_ = float(solution.intercept[0])

    def _groups(self, n_features: int):
        return np.arange(n_features) if self.groups is None else self.groups

    def _stage_model(self):
        return GroupLasso(fit_intercept=self.fit_intercept,
                          groups=self._groups(self.n_features_in_), weights=self.weights)


_GROUP_DOC = """
    groups : list of array-like of int, or array-like of shape (n_features,), \
default=None
        The groups: lists of feature indices, or one label per feature; they must
        be non-empty, disjoint and cover every feature. None: one group per
        feature (a Lasso with weights ``weights``).
    weights : array-like of shape (n_groups,), default=None
        v_g in the penalty alpha sum_g v_g ||w_g||; sqrt(|g|) by default.
"""


class GroupLassoCV(_GroupMixin, _RegressorCV):
    __doc__ = ("Group Lasso whose alpha is tuned by hypergradient descent.\n\n"
               "    ||y - Xw - b||^2 / (2n) + alpha sum_g v_g ||w_g||_2.\n"
               + _GROUP_DOC + _PARAMETERS_DOC)

    _parameter_constraints: dict = {
        **_RegressorCV._parameter_constraints, "groups": ["array-like", list, None],
        "weights": ["array-like", None],
    }

    def __init__(self, *, groups=None, weights=None, criterion="cv", cv=5,
                 hypergradient="auto", optimizer="lbfgs", max_iter=50, tol=1e-6,
                 fit_intercept=True, n_jobs=None, sigma=None, alpha_init=None,
                 alpha_bounds=None, verbose=0):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs, sigma=sigma,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.groups = groups
        self.weights = weights

    def _model(self):
        return GroupLasso(fit_intercept=self.fit_intercept,
                          groups=self._groups(self.n_features_in_), weights=self.weights)


class WeightedGroupLassoCV(_GroupMixin, WeightedLassoCV):
    __doc__ = ("Group Lasso with one penalty per group, tuned by hypergradient descent"
               "\n    from the tuned single-penalty optimum (monitor as in"
               "\n    ``WeightedLassoCV``).\n" + _GROUP_DOC + _PARAMETERS_DOC)

    _parameter_constraints: dict = GroupLassoCV._parameter_constraints | {
        **WeightedLassoCV._parameter_constraints}

    def __init__(self, *, groups=None, weights=None, criterion="cv", cv=5,
                 hypergradient="auto", optimizer="lbfgs", max_iter=50, tol=1e-6,
                 fit_intercept=True, n_jobs=None, sigma=None, alpha_init=None,
                 alpha_bounds=None, monitor_fraction=0.2, verbose=0):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs, sigma=sigma,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds,
                         monitor_fraction=monitor_fraction, verbose=verbose)
        self.groups = groups
        self.weights = weights

    def _model(self):
        return WeightedGroupLasso(fit_intercept=self.fit_intercept,
                                  groups=self._groups(self.n_features_in_),
                                  weights=self.weights)
