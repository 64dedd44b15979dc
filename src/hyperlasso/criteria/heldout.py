"""Held-out criteria: a loss on validation data and its gradient in (coef, intercept).

A criterion is any object with ``value_and_grad(coef, intercept)`` returning
``(value, grad_coef, grad_intercept)``; the hypergradient methods need nothing else.
"""

from __future__ import annotations

import numpy as np

from hyperlasso._validation import check_matrix, check_target_matrix, check_vector
from hyperlasso.inner.models import binary_labels
from hyperlasso.inner.problem import Design


class HeldOutCriterion:
    """Base class: a validation set (X_val, y_val) and a loss.

    Parameters
    ----------
    X_val : array-like or scipy.sparse matrix of shape (n_val, n_features)
        Validation design.
    y_val : array-like of shape (n_val,) or (n_val, n_tasks)
        Validation target.
    multi_output : bool, optional
        Whether coef has shape (n_features, n_tasks); by default, whether y_val
        has more than one column.
    """

    def __init__(self, X_val, y_val, multi_output: bool | None = None):
        self.X_val = check_matrix(X_val, "X_val")
        y_val = self._check_target(y_val)
        if multi_output is None:  # a single column is a 1-D target unless told
            multi_output = np.ndim(y_val) == 2 and np.shape(y_val)[1] > 1
        if multi_output:
            self.y_val = check_target_matrix(y_val, self.X_val.shape[0], "y_val", "X_val")
        else:
            self.y_val = check_vector(y_val, self.X_val.shape[0], "y_val", "X_val")

    def _check_target(self, y_val):
        return y_val

    @property
    def n_features(self) -> int:
        """Number of features the criterion expects."""
        return self.X_val.shape[1]

    @property
    def coef_shape(self) -> tuple:
        """(n_features,), or (n_features, n_tasks) for a multi-output y_val."""
        return (self.n_features,) + self.y_val.shape[1:]

    def predict(self, coef: np.ndarray, intercept) -> np.ndarray:
        """Linear predictor X_val @ coef + intercept, shape of y_val."""
        self._check_coef(coef)
        if coef.ndim == 2:
            return Design(self.X_val).matmat(coef) + intercept
        return Design(self.X_val).matvec(coef) + intercept

    def _check_coef(self, coef: np.ndarray) -> None:
        if coef.shape != self.coef_shape:
            raise ValueError(f"coef has shape {coef.shape} but the criterion expects "
                             f"{self.coef_shape} (X_val's features, y_val's tasks).")

    def value_and_grad(self, coef: np.ndarray, intercept: float = 0.0):
        """Return the criterion and its gradient.

        Parameters
        ----------
        coef : ndarray of shape (n_features,)
        intercept : float

        Returns
        -------
        value : float
        grad_coef : ndarray of shape (n_features,)
        grad_intercept : float
        """
        z = self.predict(coef, intercept)
        value, dz = self._loss_and_derivative(z)
        grad = np.asarray(self.X_val.T @ dz)
        return float(value), grad if dz.ndim == 2 else grad.ravel(), \
            self._intercept_grad(dz)

    def _back(self, dz, support, X_S) -> np.ndarray:
        """X_S^T dz (X_S = X_val[:, support]) in the shape of coef, zero off support."""
        grad = np.zeros(self.coef_shape)
        product = np.asarray(X_S.T @ dz)
        grad[support] = product if dz.ndim == 2 else product.ravel()
        return grad

    @staticmethod
    def _intercept_grad(dz):
        return dz.sum(axis=0) if dz.ndim == 2 else float(np.sum(dz))

    def value_and_grad_on(self, coef: np.ndarray, intercept: float,
                          support: np.ndarray):
        """As ``value_and_grad``, with ``grad_coef`` computed on ``support`` only.

        Parameters
        ----------
        coef : ndarray of shape (n_features,)
        intercept : float
        support : ndarray of int, shape (n_support,)
            Features whose gradient entries are needed (the others are set to 0).

        Returns
        -------
        value : float
        grad_coef : ndarray of shape (n_features,)
        grad_intercept : float
        """
        support = np.asarray(support, dtype=np.intp)
        self._check_coef(coef)
        X_S = self.X_val[:, support]
        if np.count_nonzero(coef) > np.count_nonzero(coef[support]):  # w off support
            z = self.predict(coef, intercept)
        else:
            z = np.asarray(X_S @ coef[support]) + intercept
            z = z if coef.ndim == 2 else z.ravel()
        value, dz = self._loss_and_derivative(z)
        return float(value), self._back(dz, support, X_S), self._intercept_grad(dz)

    def value(self, coef: np.ndarray, intercept: float = 0.0) -> float:
        """Return the criterion only."""
        return float(self._loss_and_derivative(self.predict(coef, intercept))[0])

    def _loss_and_derivative(self, z):
        raise NotImplementedError


class HeldOutMSE(HeldOutCriterion):
    """Mean squared error on validation data: ||y_val - X_val w - b||^2 / n_val.

    A 2-D ``y_val`` of shape (n_val, n_tasks) (multi-task models) takes coef of
    shape (n_features, n_tasks) and intercept (n_tasks,), and the mean is over
    all n_val n_tasks entries (scikit-learn's ``MultiTaskLassoCV`` convention).
    """

    def _loss_and_derivative(self, z):
        residual = z - self.y_val
        size = residual.size
        return np.vdot(residual, residual) / size, 2.0 * residual / size


class HeldOutLogistic(HeldOutCriterion):
    """Mean logistic loss on validation data, labels mapped to {-1, 1}.

    ``(1/n_val) sum_i log(1 + exp(-y_i (x_i.w + b)))``.
    """

    def _check_target(self, y_val):
        return binary_labels(y_val, "y_val")

    def _loss_and_derivative(self, z):
        margin = self.y_val * z
        n_val = z.shape[0]
        loss = np.mean(np.logaddexp(0.0, -margin))
        # sigmoid(-margin) = exp(-logaddexp(0, margin)), stable for any sign
        return loss, -self.y_val * np.exp(-np.logaddexp(0.0, margin)) / n_val


class HeldOutSmoothedHinge(HeldOutCriterion):
    """Mean smoothed hinge loss on validation data, labels mapped to {-1, 1}.

    With the margin m = y_i (x_i.w + b): 1/2 - m for m <= 0, (1 - m)^2 / 2 for
    0 < m < 1, 0 for m >= 1 (the hinge with its kink rounded, as in sparse-ho),
    differentiable everywhere, so that the hypergradient exists.
    """

    def _check_target(self, y_val):
        return binary_labels(y_val, "y_val")

    def _loss_and_derivative(self, z):
        margin = self.y_val * z
        loss = np.where(margin <= 0, 0.5 - margin, 0.5 * np.maximum(1.0 - margin, 0) ** 2)
        slope = np.where(margin <= 0, -1.0, -np.maximum(1.0 - margin, 0.0))
        return np.mean(loss), self.y_val * slope / z.shape[0]


class HeldOutMulticlassLogLoss(HeldOutCriterion):
    """Mean log-loss of K-class probabilities on validation data.

    With the scores z = X_val coef + intercept, coef of shape (n_features, K):
    ``probabilities="ovr"`` normalizes the K sigmoids, p_k = s(z_k) / sum_j s(z_j)
    (scikit-learn's ``OneVsRestClassifier.predict_proba``), "softmax" takes
    p_k = exp(z_k) / sum_j exp(z_j); the loss is ``-(1/n_val) sum_i log p_{y_i}``.

    Parameters
    ----------
    X_val : array-like or scipy.sparse matrix of shape (n_val, n_features)
    y_val : array-like of shape (n_val,)
        Class indices 0..K-1 (K is the number of columns of coef).
    multi_output : ignored
        coef is always (n_features, K).
    probabilities : {"ovr", "softmax"}, default="ovr"
    """

    def __init__(self, X_val, y_val, multi_output=None, probabilities: str = "ovr"):
        if probabilities not in ("ovr", "softmax"):
            raise ValueError("probabilities must be 'ovr' or 'softmax', got "
                             f"{probabilities!r}.")
        self.probabilities = probabilities
        super().__init__(X_val, y_val, multi_output=False)
        if np.any(self.y_val < 0) or np.any(self.y_val != np.round(self.y_val)):
            raise ValueError("y_val must hold class indices 0..K-1.")
        self.classes = self.y_val.astype(np.intp)

    @property
    def coef_shape(self) -> tuple:
        """(n_features, K), K read from the coefficients."""
        return (self.n_features, -1)

    def _check_coef(self, coef: np.ndarray) -> None:
        if coef.ndim != 2 or coef.shape[0] != self.n_features or \
                coef.shape[1] <= int(self.classes.max(initial=0)):
            raise ValueError(f"coef must have shape (n_features, K) = "
                             f"({self.n_features}, K) with K above every class index "
                             f"of y_val, got {coef.shape}.")

    def value_and_grad(self, coef: np.ndarray, intercept=0.0):
        """(value, grad_coef (n_features, K), grad_intercept (K,))."""
        z = self.predict(coef, intercept)
        value, dz = self._loss_and_derivative(z)
        return float(value), np.asarray(self.X_val.T @ dz), dz.sum(axis=0)

    def value_and_grad_on(self, coef, intercept, support):
        """``value_and_grad`` (the full gradient: every class's columns)."""
        return self.value_and_grad(coef, intercept)

    def _loss_and_derivative(self, z):
        n_val = z.shape[0]
        rows = np.arange(n_val)
        if self.probabilities == "softmax":
            log_p = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
            dz = np.exp(log_p)
            dz[rows, self.classes] -= 1.0
            return -np.mean(log_p[rows, self.classes]), dz / n_val
        log_s = -np.logaddexp(0.0, -z)  # log sigmoid(z)
        log_total = np.logaddexp.reduce(log_s, axis=1, keepdims=True)
        # d log s_k / dz_k = 1 - s_k; d log sum_j s_j / dz_k = s_k (1 - s_k) / sum_j s_j
        s = np.exp(log_s)
        dz = np.exp(log_s - log_total) * (1.0 - s)
        dz[rows, self.classes] -= 1.0 - s[rows, self.classes]
        return -np.mean(log_s[rows, self.classes] - log_total[:, 0]), dz / n_val
