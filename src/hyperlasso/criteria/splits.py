"""Build the objective an estimator minimizes: folds, held-out losses, SURE."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import check_cv

from hyperlasso._validation import canonical_csc
from hyperlasso.criteria._rows import split_rows
from hyperlasso.criteria.heldout import (
    HeldOutLogistic,
    HeldOutMSE,
    HeldOutMulticlassLogLoss,
    HeldOutSmoothedHinge,
)
from hyperlasso.criteria.objectives import Fold, FoldObjective
from hyperlasso.criteria.sure import sure_objective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import Design

CRITERIA = ("cv", "holdout", "sure")
#: K-fold parts are stored when, all folds together (about K times X), they take at
#: most this many bytes; above it, each fold's rows are copied out of X when the
#: fold is evaluated and freed after (``RowFold``): peak memory X plus one fold
#: (two with ``n_jobs=2``) instead of (K + 1) X, for a copy of 0.1-0.5 s per fold
#: and evaluation at 9e7 stored entries (``benchmarks/bench_large.py``).
STORED_FOLDS_MAX_BYTES = 2**30


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
        return FoldObjective(model, [Fold(_design(model, X), y, criterion)], settings,
                             all_data_fold=0)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA} or have a method "
                         f"value_and_grad(coef, intercept), got {criterion!r}.")
    if criterion == "sure":
        return sure_objective(model, _design(model, X), X, y, sigma, settings,
                              n_jobs=n_jobs)
    splits = _splits(model, X, y, cv)
    if criterion == "holdout":
        splits = splits[:1]
    folds = [_row_fold(model, X, y, train, test, k)
             for k, (train, test) in enumerate(splits)]
    if len(folds) == 1 or len(folds) * matrix_bytes(X) <= STORED_FOLDS_MAX_BYTES:
        folds = [fold.materialized() for fold in folds]
    return FoldObjective(model, folds, settings, n_jobs=n_jobs)


#: The held-out loss of "cv" and "holdout", by the model's ``held_out`` name.
HELD_OUT = {"mse": HeldOutMSE, "logistic": HeldOutLogistic,
            "smoothed_hinge": HeldOutSmoothedHinge,
            "multiclass_log_loss": HeldOutMulticlassLogLoss,
            "multinomial_log_loss": partial(HeldOutMulticlassLogLoss,
                                            probabilities="softmax")}


def is_classifier(model) -> bool:
    """Whether the model's target is a class (stratified folds, two classes each)."""
    return HELD_OUT[model.held_out] is not HeldOutMSE


def matrix_bytes(X) -> int:
    """Bytes of a dense array or of the arrays of a scipy.sparse compressed matrix."""
    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(np.asarray(X).nbytes)


def _splits(model: Model, X, y, cv) -> list:
    classifier = is_classifier(model)
    n_samples = y.shape[0]
    if isinstance(cv, (int, np.integer)):
        if not 2 <= cv <= n_samples:
            raise ValueError(f"cv must be between 2 and n_samples={n_samples}, got {cv}.")
    splitter = check_cv(cv, y, classifier=classifier)
    splits = list(splitter.split(np.zeros((n_samples, 1)), y))
    if not splits:
        raise ValueError("cv produced no split.")
    return splits


@dataclass(frozen=True, eq=False)
class RowFold:
    """A fold kept as row indices into the design, its parts copied out on use.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSC matrix of shape (n_samples, n_features)
        The validated design of every fold (not copied).
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)
    train, test : ndarray of int
        Rows of the training and validation parts.
    model : Model
        Tells the held-out loss and how the training design is prepared.
    """

    X: object
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    model: Model

    def materialized(self) -> Fold:
        """The fold with its training design and held-out criterion built."""
        X_train, X_test = take_rows(self.X, self.train, self.test)
        loss = HELD_OUT[self.model.held_out]
        return Fold(_design(self.model, X_train), self.y[self.train],
                    loss(X_test, self.y[self.test], multi_output=self.model.multi_output))


def take_rows(X, first: np.ndarray, second: np.ndarray):
    """Return ``(X[first], X[second])``; CSC parts of a CSC X, in one pass over it."""
    if sp.issparse(X):
        return split_rows(canonical_csc(X), first, second)
    return X[first], X[second]


def _row_fold(model: Model, X, y, train, test, k: int) -> RowFold:
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"fold {k} of cv has an empty training or validation part.")
    if is_classifier(model) and np.unique(y[train]).size < 2:
        raise ValueError(f"fold {k} of cv has a single class in its training part; "
                         "use fewer folds or stratified splits.")
    return RowFold(X, y, np.asarray(train), np.asarray(test), model)


def _design(model: Model, X) -> Design:
    return Design.of(sp.csc_matrix(X) if sp.issparse(X) else X, model.fit_intercept)
