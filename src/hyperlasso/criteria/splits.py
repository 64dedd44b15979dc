"""Build the objective an estimator minimizes: folds, held-out losses, SURE."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import check_cv

from hyperlasso.criteria.heldout import HeldOutLogistic, HeldOutMSE
from hyperlasso.criteria.objectives import Fold, FoldObjective
from hyperlasso.criteria.sure import sure_objective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design

CRITERIA = ("cv", "holdout", "sure")


def make_objective(criterion, model: Model, X, y: np.ndarray, settings: Settings, *,
                   cv=5, n_jobs=None, sigma: float | None = None) -> FoldObjective:
    """The objective in alpha named by ``criterion``.

    Parameters
    ----------
    criterion : {"cv", "holdout", "sure"} or object
        K-fold cross-validation (``cv`` folds), one hold-out split (the first split
        of ``cv``: 20 % of the samples when ``cv=5``), SURE (needs ``sigma``), or a
        criterion with ``value_and_grad(coef, intercept)`` on external validation
        data (e.g. ``HeldOutMSE(X_val, y_val)``): trained on all of X.
    model : Model
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features), validated
    y : ndarray of shape (n_samples,), converted by ``model.check_target``
    settings : Settings
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn.
    n_jobs : int or None
        Folds in parallel (threads); for SURE, its two inner problems.
    sigma : float, optional
        Noise level for SURE.
    """
    if callable(getattr(criterion, "value_and_grad", None)):
        return FoldObjective(model, [Fold(_design(model, X), y, criterion)], settings)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA} or have a method "
                         f"value_and_grad(coef, intercept), got {criterion!r}.")
    if criterion == "sure":
        return sure_objective(model, _design(model, X), X, y, sigma, settings,
                              n_jobs=n_jobs)
    splits = _splits(model, X, y, cv)
    if criterion == "holdout":
        splits = splits[:1]
    folds = [_fold(model, X, y, train, test, k) for k, (train, test) in enumerate(splits)]
    return FoldObjective(model, folds, settings, n_jobs=n_jobs)


def _splits(model: Model, X, y, cv) -> list:
    classifier = model.datafit.classifier
    n_samples = y.shape[0]
    if isinstance(cv, (int, np.integer)):
        if not 2 <= cv <= n_samples:
            raise ValueError(f"cv must be between 2 and n_samples={n_samples}, got {cv}.")
    splitter = check_cv(cv, y, classifier=classifier)
    splits = list(splitter.split(np.zeros((n_samples, 1)), y))
    if not splits:
        raise ValueError("cv produced no split.")
    return splits


def _fold(model: Model, X, y, train, test, k: int) -> Fold:
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"fold {k} of cv has an empty training or validation part.")
    if model.datafit.classifier and np.unique(y[train]).size < 2:
        raise ValueError(f"fold {k} of cv has a single class in its training part; "
                         "use fewer folds or stratified splits.")
    rows = X.tocsr() if sp.issparse(X) else X
    X_train, X_test = rows[train], rows[test]
    loss = HeldOutLogistic if model.datafit.classifier else HeldOutMSE
    return Fold(_design(model, X_train), y[train],
                loss(X_test, y[test], multi_output=model.multi_output))


def _design(model: Model, X) -> Design:
    return Design.of(sp.csc_matrix(X) if sp.issparse(X) else X, model.fit_intercept)
