"""SparseLogisticRegressionCV: L1 logistic regression tuned by hypergradient descent,
two classes or more (one-vs-rest)."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from hyperlasso.estimators.base import HyperCVMixin, binary_target, history_dict
from hyperlasso.estimators.regressors import _PARAMETERS_DOC
from hyperlasso.inner.models import SparseLogisticRegression
from hyperlasso.inner.ovr import OneVsRest


class SparseLogisticRegressionCV(LinearClassifierMixin, ClassifierMixin, HyperCVMixin):
    __doc__ = ("L1 logistic regression whose alpha is tuned by hypergradient "
               "descent.\n\n    mean(log(1 + exp(-y (Xw + b)))) + alpha ||w||_1 "
               "(scikit-learn's C = 1 / (n alpha));\n    criterion 'cv' and 'holdout' "
               "use the held-out logistic loss; coef_ has shape\n    (1, n_features) "
               "as in scikit-learn. With K > 2 classes, one-vs-rest: K\n    binary "
               "problems (class k against the rest) at one alpha, tuned on the\n    "
               "held-out log-loss of the normalized one-vs-rest probabilities\n    "
               "(``HeldOutMulticlassLogLoss``); coef_ has shape (K, n_features).\n"
               + _PARAMETERS_DOC + """    multi_class : {"auto", "ovr"}, default="auto"
        How more than two classes are handled: one-vs-rest ("auto" picks it).
        The multinomial loss is not available yet.
""")

    sigma = None  # SURE does not apply to classification

    _parameter_constraints: dict = {
        **HyperCVMixin._parameter_constraints,
        "multi_class": [StrOptions({"auto", "ovr"})],
    }

    def __init__(self, *, criterion="cv", cv=5, hypergradient="auto", optimizer="lbfgs",
                 max_iter=50, tol=1e-6, fit_intercept=True, n_jobs=None,
                 alpha_init=None, alpha_bounds=None, verbose=0, multi_class="auto"):
        super().__init__(criterion=criterion, cv=cv, hypergradient=hypergradient,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         alpha_init=alpha_init, alpha_bounds=alpha_bounds, verbose=verbose)
        self.multi_class = multi_class

    def _model(self):
        binary = SparseLogisticRegression(fit_intercept=self.fit_intercept)
        n_classes = len(getattr(self, "classes_", ()))
        if n_classes > 2:
            return OneVsRest(fit_intercept=self.fit_intercept, n_classes=n_classes,
                             binary=binary)
        return binary

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
        if classes.size > 2:
            self.classes_, y_model = classes, indices
        else:
            self.classes_, y_model = binary_target(self, y)
        model, space, result = self._tune(X, y_model)
        solution = self._refit(model, X, y_model, space.alpha(result.theta))
        self._set_fitted(space, result, solution, history_dict(space, result))
        if classes.size > 2:
            self.coef_, self.intercept_ = solution.coef.T.copy(), solution.intercept
        else:
            self.coef_ = solution.coef[None, :]
            self.intercept_ = np.array([solution.intercept])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, K), columns in ``classes_`` order;
        with more than two classes, the K one-vs-rest sigmoids normalized to sum 1."""
        scores = expit(self.decision_function(X))
        if scores.ndim == 1:
            return np.column_stack([1.0 - scores, scores])
        return scores / scores.sum(axis=1, keepdims=True)
