"""Layer 1: scikit-learn estimators that tune their penalties by hypergradient."""

from hyperlasso.estimators.classifiers import SparseLogisticRegressionCV
from hyperlasso.estimators.graphical import GraphicalLassoCV
from hyperlasso.estimators.multitask import (
    GroupLassoCV,
    MultiTaskLassoCV,
    WeightedGroupLassoCV,
    WeightedMultiTaskLassoCV,
)
from hyperlasso.estimators.regressors import ElasticNetCV, LassoCV, WeightedLassoCV
from hyperlasso.estimators.svm import LinearSVCCV, LinearSVRCV

__all__ = ["ElasticNetCV", "GraphicalLassoCV", "LassoCV", "SparseLogisticRegressionCV",
           "WeightedLassoCV", "GroupLassoCV", "MultiTaskLassoCV", "WeightedGroupLassoCV",
           "WeightedMultiTaskLassoCV", "LinearSVCCV", "LinearSVRCV"]
