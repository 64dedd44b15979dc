"""Convergence warnings, subclasses of scikit-learn's, created on first use.

``sklearn.exceptions`` imports the whole of scikit-learn (about 1 s, most of the
start-up of a new process), so the classes are built the first time a warning is
raised or the name is looked up, not when hyperlasso is imported.
"""

from __future__ import annotations

import functools
import warnings


@functools.cache
def inner_convergence_warning_class() -> type:
    """``InnerConvergenceWarning``: the inner solver stopped before its tolerance.

    A subclass of ``sklearn.exceptions.ConvergenceWarning`` whose instances carry
    the achieved relative duality gap (``gap``) and optimality violation (``kkt``).
    """
    from sklearn.exceptions import ConvergenceWarning

    class InnerConvergenceWarning(ConvergenceWarning):
        __doc__ = inner_convergence_warning_class.__doc__

        def __init__(self, message: str, gap: float = float("nan"),
                     kkt: float = float("nan")):
            super().__init__(message)
            self.gap = gap
            self.kkt = kkt

    InnerConvergenceWarning.__module__ = "hyperlasso"
    return InnerConvergenceWarning


def warn_not_converged(message: str, gap: float, kkt: float, stacklevel: int = 2):
    """Raise an ``InnerConvergenceWarning`` carrying the achieved gap and violation."""
    warning = inner_convergence_warning_class()(message, gap=gap, kkt=kkt)
    warnings.warn(warning, stacklevel=stacklevel + 1)


def warn_convergence(message: str, stacklevel: int = 2) -> None:
    """Raise scikit-learn's ``ConvergenceWarning`` (a linear solve that stalled)."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel + 1)
