"""The noise level SURE needs, estimated when the user does not know it."""

from __future__ import annotations

import numpy as np


def estimate_noise(X, y: np.ndarray, fit_intercept: bool = True) -> float:
    """Noise standard deviation from the residuals of a cross-validated Lasso.

    sigma^2 = ||y - X w - b||^2 / (T (n - |S| - 1)), the estimator of Reid,
    Tibshirani and Friedman (2016, "A study of error variance estimation in Lasso
    regression"), with (w, b) from :class:`hyperlasso.LassoCV` (5 folds), or from
    :class:`hyperlasso.MultiTaskLassoCV` for a target of shape (n, T) (S the
    non-zero rows, T the number of tasks); the 1 counts the intercept.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)
    fit_intercept : bool, default=True

    Returns
    -------
    float
    """
    from hyperlasso.estimators.multitask import MultiTaskLassoCV
    from hyperlasso.estimators.regressors import LassoCV

    y = np.asarray(y, dtype=np.float64)
    multi_output = y.ndim == 2
    lasso = (MultiTaskLassoCV if multi_output else LassoCV)(fit_intercept=fit_intercept)
    lasso.fit(X, y)
    residual = y - lasso.predict(X)
    coef = np.atleast_2d(lasso.coef_)
    support = int(np.count_nonzero(np.any(coef != 0, axis=0)))
    n_tasks = y.shape[1] if multi_output else 1
    dof = max(y.shape[0] - support - int(fit_intercept), 1) * n_tasks
    return float(np.sqrt(np.sum(residual**2) / dof))
