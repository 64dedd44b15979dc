"""Layer 3: what is minimized (held-out losses) and its gradient in the coefficients."""

from hyperlasso.criteria.heldout import HeldOutLogistic, HeldOutMSE

__all__ = ["HeldOutLogistic", "HeldOutMSE"]
