"""One-vs-rest multiclass models: one binary problem per class, one alpha for all.

For K classes, class k's coefficients solve the binary problem of "k against the
rest" (``binary``, e.g. sparse logistic regression, labels +1 for class k and -1
otherwise) at the same alpha. The problems do not share unknowns, so solving is
K solves; what couples the classes is the criterion, which judges the K columns
together (``HeldOutMulticlassLogLoss``: the normalized one-vs-rest probabilities
of scikit-learn's ``OneVsRestClassifier``). Its hypergradient is the sum over
classes of the binary hypergradients, each with the criterion's gradient in that
class's coefficients (``hypergradients.ovr_api``).

The target the model takes is the class index 0..K-1 of every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperlasso._validation import check_class_indices
from hyperlasso.inner.models import Model, SparseLogisticRegression
from hyperlasso.inner.problem import Design


@dataclass(frozen=True)
class OvrProblem:
    """The K binary problems of one alpha on one design."""

    problems: tuple

    @property
    def n_classes(self) -> int:
        """K."""
        return len(self.problems)


@dataclass(frozen=True)
class OvrSolution:
    """K binary solutions side by side.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_classes)
    intercept : ndarray of shape (n_classes,)
    support : ndarray of int
        Features non-zero for at least one class.
    gap : float
        The largest relative duality gap.
    n_iter, n_epochs : int
        Summed over the classes.
    converged : bool
        Whether every class converged.
    solutions : tuple of InnerSolution
    """

    coef: np.ndarray
    intercept: np.ndarray
    support: np.ndarray
    gap: float
    n_iter: int
    n_epochs: int
    converged: bool
    solutions: tuple

    @classmethod
    def of(cls, solutions) -> OvrSolution:
        """Stack the classes' solutions."""
        coef = np.column_stack([s.coef for s in solutions])
        return cls(coef, np.array([s.intercept for s in solutions]),
                   np.flatnonzero(np.any(coef != 0, axis=1)),
                   max(s.gap for s in solutions), sum(s.n_iter for s in solutions),
                   sum(s.n_epochs for s in solutions),
                   all(s.converged for s in solutions), tuple(solutions))


@dataclass(frozen=True)
class OneVsRest(Model):
    """K binary models "class k against the rest" sharing one alpha.

    Parameters
    ----------
    n_classes : int
        K >= 2 (the target holds class indices 0..K-1).
    binary : Model, default=SparseLogisticRegression()
        The binary model of every class; its ``fit_intercept`` is the model's.
    """

    n_classes: int = 2
    binary: Model = SparseLogisticRegression()
    kind = "ovr"
    name = "ovr"
    held_out = "multiclass_log_loss"
    multi_output = True
    #: The target is the class indices 0..K-1 (``check_target``).
    class_indices = True

    def __post_init__(self):
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes}.")
        if self.binary.fit_intercept != self.fit_intercept:
            object.__setattr__(self, "binary",
                               type(self.binary)(fit_intercept=self.fit_intercept))

    @property
    def layout(self) -> str:
        return self.binary.layout

    @property
    def datafit(self):
        return self.binary.datafit

    def check_alpha(self, alpha, n_features: int):
        return self.binary.check_alpha(alpha, n_features)

    def check_target(self, y) -> np.ndarray:
        """Class indices 0..K-1, shape (n_samples,), as integers."""
        return check_class_indices(y, self.n_classes, "one-vs-rest")

    def class_targets(self, y: np.ndarray) -> list:
        """The binary targets, +1 for class k and -1 otherwise, k = 0..K-1."""
        return [np.where(y == k, 1.0, -1.0) for k in range(self.n_classes)]

    def problem(self, alpha, design: Design, y: np.ndarray) -> OvrProblem:
        return OvrProblem(tuple(self.binary.problem(alpha, design, target)
                                for target in self.class_targets(y)))

    def solve(self, problem: OvrProblem, warm_start=None, **options) -> OvrSolution:
        """Solve every class (``warm_start``: coef (p, K) and intercepts (K,))."""
        starts = class_starts(warm_start, problem.n_classes)
        return OvrSolution.of([self.binary.solve(p, warm_start=start, **options)
                               for p, start in zip(problem.problems, starts,
                                                   strict=True)])

    def criterion_point(self, problem: OvrProblem, solution: OvrSolution) -> tuple:
        return solution.coef, solution.intercept

    def alpha_max(self, design: Design, y: np.ndarray) -> float:
        """The largest of the classes' alpha_max (above it every class is zero)."""
        return max(self.binary.alpha_max(design, target)
                   for target in self.class_targets(y))


def class_starts(warm_start, n_classes: int) -> list:
    """Per-class warm starts (coef_k, intercept_k) from (coef (p, K), intercepts (K,)),
    or None for each class."""
    if warm_start is None:
        return [None] * n_classes
    coef, intercept = warm_start
    intercept = np.broadcast_to(np.asarray(intercept, dtype=np.float64), (n_classes,))
    return [(coef[:, k], float(intercept[k])) for k in range(n_classes)]
