"""Held-out Gaussian negative log-likelihood of a precision matrix."""

from __future__ import annotations

import numpy as np

from hyperlasso.inner.graphical import empirical_covariance, inverse_spd


class HeldOutGaussianNLL:
    """C(Theta) = -logdet(Theta) + tr(S_val Theta) on validation samples.

    Parameters
    ----------
    X_val : array-like of shape (n_val, p)
        Validation samples (rows), centered on their own mean.
    """

    def __init__(self, X_val):
        self.covariance = empirical_covariance(X_val, "X_val")

    @property
    def n_features(self) -> int:
        """p."""
        return self.covariance.shape[0]

    def value_and_grad(self, precision: np.ndarray):
        """Value and gradient S_val - inv(Theta), shape (p, p)."""
        if precision.shape != self.covariance.shape:
            raise ValueError(f"precision has shape {precision.shape} but X_val has "
                             f"{self.n_features} features.")
        sign, logdet = np.linalg.slogdet(precision)
        if sign <= 0:
            raise ValueError("precision must be positive definite.")
        value = -logdet + float(np.sum(self.covariance * precision))
        return value, self.covariance - inverse_spd(precision)

    def value(self, precision: np.ndarray) -> float:
        """Value only."""
        return self.value_and_grad(precision)[0]
