"""Block models: a map from hyperparameters alpha to the group weights (lam, l2).

As ``models.py`` for the Lasso family: a model says how alpha sets the weights
of the block problem (``block.py``), their derivatives in alpha, and how a
gradient in (lam, l2) pulls back to alpha. Four models share one solver and one
hypergradient stack:

- ``MultiTaskLasso``: ||Y - XW - 1b^T||_F^2 / (2n) + alpha sum_j ||W_j||  (rows);
- ``WeightedMultiTaskLasso``: one alpha_j per row, alpha of shape (n_features,);
- ``MultiTaskElasticNet``: alpha = (l1 weight, l2 weight), as ``ElasticNet``;
- ``GroupLasso(groups)``: ||y - Xw - b||^2 / (2n) + alpha sum_g v_g ||w_g||,
  v_g = sqrt(|g|) by default (``group_weights``); ``WeightedGroupLasso``: one
  alpha_g per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperlasso._validation import check_target_matrix, check_vector
from hyperlasso.inner.block import BlockProblem, BlockSolution
from hyperlasso.inner.datafits import Quadratic
from hyperlasso.inner.groups import Groups
from hyperlasso.inner.models import check_positive_alpha
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import solve


@dataclass(frozen=True, eq=False)
class BlockModel:
    """Base class of the block models (see the module docstring).

    Parameters
    ----------
    fit_intercept : bool, default=True
    """

    fit_intercept: bool = True
    kind = "block"
    name = "block"
    layout = "scalar"  # see models.Model.layout
    datafit = Quadratic
    held_out = "mse"
    #: Whether the target is one vector (group Lasso) rather than a matrix Y.
    single_task = False

    @property
    def multi_output(self) -> bool:
        """Whether criteria take coef of shape (n_features, n_tasks)."""
        return not self.single_task

    def groups_for(self, n_features: int) -> Groups:
        """The groups of the model for ``n_features`` features."""
        return Groups.singletons(n_features)

    def group_weights(self, groups: Groups) -> np.ndarray:
        """Fixed weights v_g multiplying alpha in lam_g, shape (n_groups,)."""
        return np.ones(groups.n_groups)

    def n_hyperparameters(self, groups: Groups) -> int:
        """Number of components of alpha (1 for a single penalty)."""
        return 1

    def check_alpha(self, alpha, groups: Groups) -> np.ndarray:
        """Validate alpha: a positive float, or one value per group if weighted."""
        groups = self._resolve(groups)
        alpha = np.asarray(alpha, dtype=np.float64)
        k = self.n_hyperparameters(groups)
        if k == 1:
            if alpha.size != 1:
                raise ValueError(f"alpha must be a single positive number for "
                                 f"{self.name}, got shape {alpha.shape}.")
            alpha = alpha.reshape(())
        elif alpha.ndim == 0:
            alpha = np.full(k, float(alpha))
        elif alpha.shape != (k,):
            raise ValueError(f"alpha must have shape ({k},) for {self.name} (one "
                             f"penalty per {self._unit}), got shape {alpha.shape}.")
        check_positive_alpha(alpha)
        return alpha

    _unit = "group"

    def _resolve(self, groups) -> Groups:
        """Groups, or the model's groups for ``groups`` features (an int)."""
        return groups if isinstance(groups, Groups) else self.groups_for(int(groups))

    def criterion_point(self, problem, solution) -> tuple:
        """(coef, intercept) of ``solution`` of ``problem`` as criteria take them."""
        return self.user_point(solution.coef, solution.intercept)

    def user_point(self, coef: np.ndarray, intercept: np.ndarray):
        """(coef, intercept) as criteria take them: 1-D for a single-task model."""
        if self.single_task:
            return coef[:, 0], float(intercept[0])
        return coef, intercept

    def solve(self, problem: BlockProblem, **options) -> BlockSolution:
        """Solve the model's problem (options of :func:`hyperlasso.inner.solver.solve`)."""
        return solve(problem, **options)

    def penalty(self, alpha: np.ndarray, groups: Groups) -> tuple[np.ndarray, float]:
        """``(lam, l2)``: group weights of shape (n_groups,) and the l2 weight."""
        return alpha * self.group_weights(groups), 0.0

    def directions(self, alpha: np.ndarray, groups: Groups):
        """``(dlam, dl2)`` of shapes (n_groups, k) and (k,), k = alpha.size."""
        v = self.group_weights(groups)
        if np.size(alpha) == 1:
            return v[:, None], np.zeros(1)
        return np.diag(v), np.zeros(v.size)

    def pullback(self, g_lam: np.ndarray, g_l2: float, alpha: np.ndarray, groups: Groups):
        """Gradient in alpha from the gradient in (lam (n_groups,), l2)."""
        weighted = g_lam * self.group_weights(groups)
        if np.size(alpha) == 1:
            return np.asarray(np.sum(weighted)).reshape(np.shape(alpha))
        return weighted

    def check_target(self, Y, n_samples: int) -> np.ndarray:
        """Y as a finite float64 array of shape (n_samples, n_tasks), C order."""
        if self.single_task:
            return check_vector(Y, n_samples, "y")[:, None].copy()
        return check_target_matrix(Y, n_samples, "Y")

    def problem(self, alpha: np.ndarray, design: Design, Y: np.ndarray) -> BlockProblem:
        """The block problem at ``alpha`` (validated) on ``(design, Y)``."""
        groups = self.groups_for(design.shape[1])
        lam, l2 = self.penalty(alpha, groups)
        return BlockProblem(design, Y, groups, lam, l2, self.fit_intercept)

    def alpha_max(self, design: Design, Y: np.ndarray):
        """Smallest alpha with an all-zero solution (one per group if weighted)."""
        groups = self.groups_for(design.shape[1])
        unit = BlockProblem(design, Y, groups, np.ones(groups.n_groups), 0.0,
                            self.fit_intercept)
        thresholds = groups.norms(unit.gradient_at_zero()) / self.group_weights(groups)
        if self.n_hyperparameters(groups) == 1:
            return float(np.max(thresholds, initial=0.0))
        return thresholds


@dataclass(frozen=True, eq=False)
class MultiTaskLasso(BlockModel):
    """||Y - XW - 1b^T||_F^2 / (2n) + alpha sum_j ||W_j||_2 (scikit-learn's)."""

    name = "multitask_lasso"


@dataclass(frozen=True, eq=False)
class WeightedMultiTaskLasso(BlockModel):
    """The multi-task Lasso with one penalty per row: alpha of shape (n_features,)."""

    name = "weighted_multitask_lasso"
    layout = "per_unit"
    _unit = "feature"

    def n_hyperparameters(self, groups):
        return groups.n_groups


@dataclass(frozen=True, eq=False)
class MultiTaskElasticNet(BlockModel):
    """alpha = (l1, l2): ... + alpha[0] sum_j ||W_j|| + alpha[1] / 2 ||W||_F^2.

    scikit-learn's ``MultiTaskElasticNet(alpha=a, l1_ratio=r)`` is
    ``alpha = (a r, a (1 - r))``.
    """

    name = "multitask_elastic_net"
    layout = "l1_l2"

    def n_hyperparameters(self, groups):
        return 2

    def check_alpha(self, alpha, groups):
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.shape != (2,):
            raise ValueError("alpha must be a pair (l1 weight, l2 weight) for the "
                             f"multi-task ElasticNet, got shape {alpha.shape}.")
        check_positive_alpha(alpha)
        return alpha

    def penalty(self, alpha, groups):
        return np.full(groups.n_groups, alpha[0]), float(alpha[1])

    def directions(self, alpha, groups):
        dlam = np.zeros((groups.n_groups, 2))
        dlam[:, 0] = 1.0
        return dlam, np.array([0.0, 1.0])

    def pullback(self, g_lam, g_l2, alpha, groups):
        return np.array([np.sum(g_lam), g_l2])

    def alpha_max(self, design, Y):
        return MultiTaskLasso(self.fit_intercept).alpha_max(design, Y)


@dataclass(frozen=True, eq=False, kw_only=True)
class GroupLasso(BlockModel):
    """||y - Xw - b||^2 / (2n) + alpha sum_g v_g ||w_g||_2.

    Parameters
    ----------
    groups : list of array-like of int, or array-like of shape (n_features,)
        The groups as lists of feature indices, or one label per feature. They
        must be non-empty, disjoint and cover every feature.
    weights : array-like of shape (n_groups,), optional
        v_g; sqrt(|g|) by default (Yuan and Lin, 2006).
    fit_intercept : bool, default=True
    """

    groups: object = None
    weights: object = None
    name = "group_lasso"
    single_task = True

    def __post_init__(self):
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError("fit_intercept must be a bool; pass the groups by name: "
                            f"{type(self).__name__}(groups=...).")

    def groups_for(self, n_features):
        if self.groups is None:
            raise ValueError(f"{self.name} needs groups=: a list of feature index "
                             "arrays or one label per feature.")
        return Groups.of(self.groups, n_features, "groups")

    def group_weights(self, groups):
        if self.weights is None:
            return np.sqrt(groups.sizes.astype(np.float64))
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (groups.n_groups,):
            raise ValueError(f"weights must have shape (n_groups,) = ({groups.n_groups},)"
                             f", got shape {weights.shape}.")
        if not (np.all(np.isfinite(weights)) and np.all(weights > 0)):
            raise ValueError("weights must be positive and finite.")
        return weights


@dataclass(frozen=True, eq=False)
class WeightedGroupLasso(GroupLasso):
    """The group Lasso with one alpha_g per group: lam_g = alpha_g v_g."""

    name = "weighted_group_lasso"
    layout = "per_unit"

    def n_hyperparameters(self, groups):
        return groups.n_groups


BLOCK_MODELS = {
    "multitask_lasso": MultiTaskLasso,
    "weighted_multitask_lasso": WeightedMultiTaskLasso,
    "multitask_elastic_net": MultiTaskElasticNet,
    "group_lasso": GroupLasso,
    "weighted_group_lasso": WeightedGroupLasso,
}


def names_block_model(model) -> bool:
    """Whether ``model`` names (``BLOCK_MODELS``) or is a block model."""
    if isinstance(model, str):
        return model in BLOCK_MODELS
    return getattr(model, "kind", None) == "block"


def make_block_model(model) -> BlockModel:
    """Resolve a block model name (``BLOCK_MODELS``) or instance."""
    return BLOCK_MODELS[model]() if isinstance(model, str) else model
