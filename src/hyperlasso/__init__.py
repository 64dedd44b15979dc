"""hyperlasso: tune the penalties of sparse models by gradient descent.

The hypergradient comes from implicit differentiation of the inner solver,
restricted to the support of the solution.
"""

from hyperlasso.criteria import (
    HeldOutLogistic,
    HeldOutMSE,
    HeldOutMulticlassLogLoss,
    HeldOutSmoothedHinge,
)
from hyperlasso.criteria.gaussian import HeldOutGaussianNLL
from hyperlasso.estimators import (
    ElasticNetCV,
    GraphicalLassoCV,
    GroupLassoCV,
    LassoCV,
    LinearSVCCV,
    LinearSVRCV,
    MultiTaskLassoCV,
    SparseLogisticRegressionCV,
    WeightedGroupLassoCV,
    WeightedLassoCV,
    WeightedMultiTaskLassoCV,
)
from hyperlasso.hypergradients import (
    AllZeroWarning,
    HypergradientResult,
    WarmStart,
    hypergradient,
)
from hyperlasso.inner.api import alpha_max, fit
from hyperlasso.inner.block import BlockSolution
from hyperlasso.inner.block_models import (
    GroupLasso,
    MultiTaskElasticNet,
    MultiTaskLasso,
    WeightedGroupLasso,
    WeightedMultiTaskLasso,
)
from hyperlasso.inner.convergence import inner_convergence_warning_class
from hyperlasso.inner.dual import LinearSVM, LinearSVR
from hyperlasso.inner.graphical import GraphicalLasso
from hyperlasso.inner.models import (
    ElasticNet,
    Lasso,
    SparseLogisticRegression,
    WeightedLasso,
)
from hyperlasso.inner.multinomial import MultinomialLogistic
from hyperlasso.inner.ovr import OneVsRest
from hyperlasso.inner.solver import InnerSolution

__version__ = "0.1.0"

__all__ = [
    "ElasticNetCV", "LassoCV", "SparseLogisticRegressionCV", "WeightedLassoCV",
    "GraphicalLasso", "GraphicalLassoCV", "HeldOutGaussianNLL",
    "AllZeroWarning", "ElasticNet", "HeldOutLogistic", "HeldOutMSE", "HeldOutSmoothedHinge",
    "HypergradientResult", "InnerConvergenceWarning", "InnerSolution", "Lasso",
    "SparseLogisticRegression", "WarmStart", "WeightedLasso", "alpha_max", "fit",
    "hypergradient", "BlockSolution", "GroupLasso", "MultiTaskElasticNet",
    "MultiTaskLasso", "WeightedGroupLasso", "WeightedMultiTaskLasso", "GroupLassoCV",
    "MultiTaskLassoCV", "WeightedGroupLassoCV", "WeightedMultiTaskLassoCV",
    "LinearSVCCV", "LinearSVRCV", "LinearSVM", "LinearSVR", "HeldOutMulticlassLogLoss",
    "OneVsRest", "MultinomialLogistic",
]


def __getattr__(name: str):
    """``InnerConvergenceWarning`` is built on first use (it imports scikit-learn)."""
    if name == "InnerConvergenceWarning":
        return inner_convergence_warning_class()
    raise AttributeError(f"module 'hyperlasso' has no attribute {name!r}")
