"""Layer 2: how alpha moves. Sees only ``value_and_grad(theta)`` and ``value(theta)``.

First-order optimizers (gradient descent with line search, Adam, L-BFGS-B) and
zero-order baselines (grid, random and TPE search), all returning an
``OuterResult`` with the same ``History``.
"""

from hyperlasso.outer.base import History, OuterResult, make_optimizer
from hyperlasso.outer.first_order import LBFGS, Adam, GradientDescent
from hyperlasso.outer.search import GridSearch, RandomSearch, TPESearch

__all__ = ["LBFGS", "Adam", "GradientDescent", "GridSearch", "History", "OuterResult",
           "RandomSearch", "TPESearch", "make_optimizer"]
