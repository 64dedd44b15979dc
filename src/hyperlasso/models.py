"""Inner models, re-exported from ``hyperlasso.inner.models`` for users."""

from hyperlasso.inner.models import (
    ElasticNet,
    Lasso,
    Model,
    SparseLogisticRegression,
    WeightedLasso,
    make_model,
)

__all__ = [
    "ElasticNet", "Lasso", "Model", "SparseLogisticRegression", "WeightedLasso",
    "make_model",
]
