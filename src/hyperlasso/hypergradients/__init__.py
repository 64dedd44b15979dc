"""Layer 4: dcoef/dalpha contracted with the criterion's gradient.

Forward and backward iterative differentiation, implicit differentiation on the
support (Cholesky or conjugate gradient), implicit forward and the Newton "polish".
"""

from hyperlasso.hypergradients.api import (
    METHODS,
    AllZeroWarning,
    HypergradientResult,
    Settings,
    WarmStart,
    hypergradient,
    hypergradient_on,
)

__all__ = ["METHODS", "AllZeroWarning", "HypergradientResult", "Settings", "WarmStart",
           "hypergradient", "hypergradient_on"]
