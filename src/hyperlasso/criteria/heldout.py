"""Held-out criteria: a loss on validation data and its gradient in (coef, intercept).

A criterion is any object with ``value_and_grad(coef, intercept)`` returning
``(value, grad_coef, grad_intercept)``; the hypergradient methods need nothing else.
"""

from __future__ import annotations

import numpy as np

from hyperlasso._validation import check_matrix, check_vector
from hyperlasso.inner.models import binary_labels
from hyperlasso.inner.problem import Design


class HeldOutCriterion:
    """Base class: a validation set (X_val, y_val) and a loss.

    Parameters
    ----------
    X_val : array-like or scipy.sparse matrix of shape (n_val, n_features)
        Validation design.
    y_val : array-like of shape (n_val,)
        Validation target.
    """

    def __init__(self, X_val, y_val):
        self.X_val = check_matrix(X_val, "X_val")
        self.y_val = self._check_target(y_val)
        self.y_val = check_vector(self.y_val, self.X_val.shape[0], "y_val")

    def _check_target(self, y_val):
        return y_val

    @property
    def n_features(self) -> int:
        """Number of features the criterion expects."""
        return self.X_val.shape[1]

    def predict(self, coef: np.ndarray, intercept: float) -> np.ndarray:
        """Linear predictor X_val @ coef + intercept, shape (n_val,)."""
        if coef.shape != (self.n_features,):
            raise ValueError(
                f"coef has shape {coef.shape} but X_val has {self.n_features} features."
            )
        return Design(self.X_val).matvec(coef) + intercept

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
        grad = np.asarray(self.X_val.T @ dz).ravel()
        return float(value), grad, float(np.sum(dz))

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
        X_S = self.X_val[:, support]
        if np.count_nonzero(coef) > np.count_nonzero(coef[support]):  # w off support
            z = self.predict(coef, intercept)
        else:
            z = np.asarray(X_S @ coef[support]).ravel() + intercept
        value, dz = self._loss_and_derivative(z)
        grad = np.zeros(self.n_features)
        grad[support] = np.asarray(X_S.T @ dz).ravel()
        return float(value), grad, float(np.sum(dz))

    def value(self, coef: np.ndarray, intercept: float = 0.0) -> float:
        """Return the criterion only."""
        return float(self._loss_and_derivative(self.predict(coef, intercept))[0])

    def _loss_and_derivative(self, z):
        raise NotImplementedError


class HeldOutMSE(HeldOutCriterion):
    """Mean squared error on validation data: ||y_val - X_val w - b||^2 / n_val."""

    def _loss_and_derivative(self, z):
        residual = z - self.y_val
        n_val = residual.shape[0]
        return np.dot(residual, residual) / n_val, 2.0 * residual / n_val


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
