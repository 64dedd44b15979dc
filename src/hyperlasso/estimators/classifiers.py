"""SparseLogisticRegressionCV: L1 logistic regression tuned by hypergradient descent."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.validation import validate_data

from hyperlasso.estimators.base import HyperCVMixin, binary_target, history_dict
from hyperlasso.estimators.regressors import _PARAMETERS_DOC
from hyperlasso.inner.models import SparseLogisticRegression


class SparseLogisticRegressionCV(LinearClassifierMixin, ClassifierMixin, HyperCVMixin):
    __doc__ = ("Binary L1 logistic regression whose alpha is tuned by hypergradient "
               "descent.\n\n    mean(log(1 + exp(-y (Xw + b)))) + alpha ||w||_1 "
               "(scikit-learn's C = 1 / (n alpha));\n    criterion 'cv' and 'holdout' "
               "use the held-out logistic loss; coef_ has shape\n    (1, n_features) "
               "as in scikit-learn.\n" + _PARAMETERS_DOC)

    sigma = None  # SURE does not apply to classification

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _model(self):
        return SparseLogisticRegression(fit_intercept=self.fit_intercept)

    def fit(self, X, y):
        """Tune alpha on (X, y) (two classes), then refit on all of it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), two classes

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"),
                             dtype=[np.float64, np.float32])
        X = X.astype(np.float64, copy=False)
        self.classes_, y_model = binary_target(self, y)
        model, space, result = self._tune(X, y_model)
        solution = self._refit(model, X, y_model, space.alpha(result.theta))
        self._set_fitted(space, result, solution, history_dict(space, result))
        self.coef_ = solution.coef[None, :]
        self.intercept_ = np.array([solution.intercept])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2), columns in ``classes_`` order."""
        positive = expit(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])
