"""Layer 3: what is minimized (held-out losses, K-fold CV, SURE) and its gradient."""

from hyperlasso.criteria.heldout import (
    HeldOutLogistic,
    HeldOutMSE,
    HeldOutMulticlassLogLoss,
    HeldOutSmoothedHinge,
)
from hyperlasso.criteria.objectives import Evaluation, Fold, FoldObjective
from hyperlasso.criteria.splits import CRITERIA, make_objective
from hyperlasso.criteria.sure import sure_objective

__all__ = ["CRITERIA", "Evaluation", "Fold", "FoldObjective", "HeldOutLogistic",
           "HeldOutMSE", "HeldOutMulticlassLogLoss", "HeldOutSmoothedHinge",
           "make_objective", "sure_objective"]
