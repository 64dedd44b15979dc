"""What a hypergradient call returns, and what it hands to the next outer step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperlasso.hypergradients.methods import JacobianState
from hyperlasso.inner.solver import InnerSolution


class AllZeroWarning(UserWarning):
    """alpha is at or above alpha_max: the solution is all zero, the gradient zero."""


@dataclass(frozen=True)
class WarmStart:
    """What one outer step hands to the next: the inner solution and the Jacobian."""

    coef: np.ndarray
    intercept: float
    jacobian: JacobianState | None = None


@dataclass(frozen=True)
class HypergradientResult:
    """Value and gradient of the criterion at alpha.

    Attributes
    ----------
    value : float
        The criterion at the inner solution.
    gradient : float or ndarray
        dC/dalpha, same shape as alpha (not log alpha).
    solution : InnerSolution
        The inner solution the gradient was computed at.
    method : str
        The method that ran ("polish" when "auto" was asked).
    linear_solver : str or None
        The linear solver used by implicit methods.
    note : str
        What the method decided on the way (e.g. a polish step rejected).
    warm_start : WarmStart
        Pass it back as ``warm_start=`` at the next alpha.
    """

    value: float
    gradient: float | np.ndarray
    solution: InnerSolution
    method: str
    linear_solver: str | None
    note: str
    warm_start: WarmStart
