"""The multinomial datafit: a softmax over the K classes of every sample.

    F(Z) = (1/n) sum_i [ log sum_k exp(z_ik) - sum_k y_ik z_ik ],  Z = XW + 1 b^T,

with Y (n, K) the one-hot classes and W of shape (p, K). Unlike the datafits of
``datafits`` its samples couple the tasks (the classes): the derivative in z_ik
is p_ik - y_ik with p_i = softmax(z_i), which needs the whole row z_i. The
kernels' task functions (``_tasks.feature_gradient``, ``intercept_gradient``,
``state_value``) take this type apart and read rows; its state is Z itself.

The Hessian of one sample's loss in z_i is diag(p_i) - p_i p_i^T, whose largest
eigenvalue is at most 1/2: the Lipschitz constant of the gradient of a row W_j
is ||X_j||^2 / (2 n) (``lipschitz_factor``), valid for the block steps of a
group penalty and the simultaneous entry steps of the l1 penalty alike.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp, softmax

from hyperlasso.inner.datafits import _get_lipschitz


class Multinomial(NamedTuple):
    """F(Z) of the module docstring; its state is Z = XW + 1 b^T, (n, K), C order.

    Parameters
    ----------
    y : ndarray of shape (n_samples, n_classes)
        One-hot classes (float64, C order).
    lipschitz : ndarray of shape (n_features,)
        ||X_j||^2 / (2 n) (``get_lipschitz``).
    """

    y: np.ndarray
    lipschitz: np.ndarray

    name = "multinomial"
    classifier = True
    constant_hessian = False
    lipschitz_factor = 0.5

    get_lipschitz = classmethod(_get_lipschitz)


def one_hot(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Y (n, K) float64, C order, with Y[i, codes[i]] = 1."""
    Y = np.zeros((codes.shape[0], n_classes))
    Y[np.arange(codes.shape[0]), codes] = 1.0
    return Y


def probabilities(Z: np.ndarray) -> np.ndarray:
    """softmax of every row of Z (n, K)."""
    return softmax(Z, axis=1)


def loss(Z: np.ndarray, Y: np.ndarray) -> float:
    """F at the state Z (numpy; the kernels have their own loop)."""
    return float(np.mean(logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)))


def null_intercept(Y: np.ndarray) -> np.ndarray:
    """The optimal intercept at W = 0: the log class frequencies, centered (the
    softmax does not see a common shift of b; this picks sum_k b_k = 0)."""
    log_freq = np.log(np.clip(Y.mean(axis=0), 1e-12, None))
    return log_freq - log_freq.mean()


def entropy_sum(P: np.ndarray) -> float:
    """sum_ik -p_ik log p_ik (0 log 0 = 0): n times the dual's datafit term."""
    positive = P > 0
    return float(-np.sum(P[positive] * np.log(P[positive])))


#: Newton steps of ``optimal_shift`` at most (quadratic convergence from the
#: solver's intercepts, which are near the optimum).
SHIFT_STEPS = 50


def optimal_shift(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """delta (K,) minimizing F(Z + 1 delta^T), delta_K = 0: damped Newton steps on
    the K - 1 free intercepts (every class must have a sample)."""
    K = Y.shape[1]
    delta = np.zeros(K)
    value = loss(Z, Y)
    for _ in range(SHIFT_STEPS):
        P = probabilities(Z + delta)
        gradient = (P - Y).mean(axis=0)[:K - 1]
        if np.max(np.abs(gradient)) <= 1e-15:
            break
        hessian = (np.diag(P.mean(axis=0)) - P.T @ P / P.shape[0])[:K - 1, :K - 1]
        step = np.linalg.solve(hessian, gradient)
        for length in 0.5 ** np.arange(30):
            trial = delta.copy()
            trial[:K - 1] -= length * step
            trial_value = loss(Z + trial, Y)
            if trial_value <= value:
                break
        else:
            break
        delta, value = trial, trial_value
    return delta
