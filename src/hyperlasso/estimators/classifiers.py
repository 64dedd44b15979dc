"""SparseLogisticRegressionCV: L1 logistic regression tuned by hypergradient descent,
two classes or more (multinomial, l1 or group penalty, or one-vs-rest)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from hyperlasso.estimators.base import (
    HyperCVMixin,
    binary_target,
    history_dict,
    warnings_once_per_fit,
)
from hyperlasso.estimators.regressors import _PARAMETERS_DOC
from hyperlasso.inner.models import SparseLogisticRegression
from hyperlasso.inner.multinomial import MultinomialLogistic
from hyperlasso.inner.ovr import OneVsRest


class SparseLogisticRegressionCV(LinearClassifierMixin, ClassifierMixin, HyperCVMixin):
    __doc__ = ("L1 logistic regression whose alpha is tuned by hypergradient "
               "descent.\n\n    mean(log(1 + exp(-y (Xw + b)))) + alpha ||w||_1 "
               "(scikit-learn's C = 1 / (n alpha));\n    criterion 'cv' and 'holdout' "
               "use the held-out logistic loss; coef_ has shape\n    (1, n_features) "
               "as in scikit-learn. With K > 2 classes, the multinomial\n    loss "
               "(softmax) with an l1 or a group penalty, or one-vs-rest: K binary\n"
               "    problems (class k against the rest) at one alpha; tuned on the "
               "held-out\n    log-loss of the model's probabilities "
               "(``HeldOutMulticlassLogLoss``); coef_ has\n    shape (K, n_features).\n"
               + _PARAMETERS_DOC + """\
    multi_class : {"auto", "multinomial", "ovr"}, default="auto"
        How more than two classes are handled: the multinomial loss (softmax) or
        one-vs-rest. "auto" picks one-vs-rest for the l1 penalty (the
        multinomial model's solver is much slower on large supports: see
        docs/multiclass.md) and the multinomial model for the group penalty.
        Two classes are always the binary model. ``multi_class_`` says which
        was fitted.
    penalty : {"l1", "group"}, default="l1"
        The multinomial model's penalty: alpha sum_jk |W_jk| (scikit-learn's
        ``LogisticRegression(penalty="l1")``), or alpha sum_j ||W_j||_2 over the
        classes of feature j (a feature is in or out for every class). "group"
        needs the multinomial model.
""")

    sigma = None  # SURE does not apply to classification

    _parameter_constraints: dict = {
        **HyperCVMixin._parameter_constraints,
        "multi_class": [StrOptions({"auto", "multinomial", "ovr"})],
        "penalty": [StrOptions({"l1", "group"})],
    }

    def __init__(self, *, criterion="cv", cv=5, hypergradient="auto", optimizer="lbfgs",
                 max_iter=50, tol=1e-6, fit_intercept=True, n_jobs=None,
                 alpha_init=None, alpha_bounds=None, verbose=0, multi_class="auto",
                 penalty="l1"):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.multi_class = multi_class
        self.penalty = penalty

    def _model(self):
        binary = SparseLogisticRegression(fit_intercept=self.fit_intercept)
        n_classes = len(getattr(self, "classes_", ()))
        if n_classes <= 2:
            return binary
        if self._resolved_multi_class(n_classes) == "ovr":
            return OneVsRest(fit_intercept=self.fit_intercept, n_classes=n_classes,
                             binary=binary)
        return MultinomialLogistic(n_classes=n_classes, penalty_kind=self.penalty,
                                   fit_intercept=self.fit_intercept)

    def _resolved_multi_class(self, n_classes: int) -> str:
        """"binary", "ovr" or "multinomial" ("auto": one-vs-rest for the l1
        penalty, the multinomial model for the group penalty)."""
        if n_classes <= 2:
            return "binary"
        if self.multi_class == "auto":
            return "multinomial" if self.penalty == "group" else "ovr"
        return self.multi_class

    def _check_penalty(self, n_classes: int) -> None:
        if self.penalty == "group" and self._resolved_multi_class(n_classes) != \
                "multinomial":
            raise ValueError(
                "penalty='group' (a feature in or out for every class) needs the "
                "multinomial model: more than two classes and multi_class='auto' or "
                f"'multinomial' (got {n_classes} classes, multi_class="
                f"{self.multi_class!r}).")

    @warnings_once_per_fit
    def fit(self, X, y):
        """Tune alpha on (X, y) (two classes), then refit on all of it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), two classes or more

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"),
                             dtype=[np.float64, np.float32])
        X = X.astype(np.float64, copy=False)
        check_classification_targets(y)
        classes, indices = np.unique(y, return_inverse=True)
        self._check_penalty(classes.size)
        if classes.size > 2:
            self.classes_, y_model = classes, indices
        else:
            self.classes_, y_model = binary_target(self, y)
        model, space, result = self._tune(X, y_model)
        solution = self._refit(model, X, y_model, space.alpha(result.theta))
        self._set_fitted(space, result, solution, history_dict(space, result))
        self.multi_class_ = self._resolved_multi_class(classes.size)
        if self.multi_class_ == "multinomial":  # the softmax's intercepts: sum 0
            self.coef_ = solution.coef.T.copy()
            self.intercept_ = solution.intercept - solution.intercept.mean()
        elif self.multi_class_ == "ovr":
            self.coef_, self.intercept_ = solution.coef.T.copy(), solution.intercept
        else:
            self.coef_ = solution.coef[None, :]
            self.intercept_ = np.array([solution.intercept])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, K), columns in ``classes_`` order:
        the softmax of the scores (multinomial), or the K one-vs-rest sigmoids
        normalized to sum 1."""
        scores = self.decision_function(X)  # checks that the estimator is fitted
        if self.multi_class_ == "multinomial":
            return softmax(scores, axis=1)
        scores = expit(scores)
        if scores.ndim == 1:
            return np.column_stack([1.0 - scores, scores])
        return scores / scores.sum(axis=1, keepdims=True)
