"""Linear SVM and SVR, solved in the dual by the core's coordinate descent.

The primal problems, with X~ = [X, s 1] (s the ``intercept_scaling``) and
w~ = (w, b / s), are those of liblinear's dual solvers (scikit-learn's
``LinearSVC(loss="hinge")`` and ``LinearSVR(loss="epsilon_insensitive")``):

    SVM:  1/2 ||w~||^2 + C sum_i max(0, 1 - y_i x~_i.w~),      y in {-1, 1}
    SVR:  1/2 ||w~||^2 + C sum_i max(0, |y_i - x~_i.w~| - epsilon)

The intercept is the coefficient of the constant column s, so it is penalized
like the weights (as in liblinear; a larger s penalizes it less). Their dual,
in beta = C u, is the box problem of ``box`` with w~ = C X~^T u: a quadratic
datafit on the transposed design (one "sample" per feature of X~, one
coordinate per sample of X) plus the ``Box`` penalty, which the working-set
solver and the hypergradient methods of the separable models take as they are.
The quadratic datafit's 1/(2m) (m the rows of X~^T) is absorbed by scaling the
transposed design by sqrt(m). The gap is the SVM's own: primal at w~ minus the
dual at beta, relative to the primal at w~ = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from hyperlasso.inner import datafits
from hyperlasso.inner.box import Box
from hyperlasso.inner.models import Model, binary_labels, check_positive_alpha
from hyperlasso.inner.problem import Design, InnerProblem
from hyperlasso.inner.solver import InnerSolution


def augmented(X, fit_intercept: bool, scaling: float):
    """X~ = [X, s 1] (or X), dense C-ordered or CSR, shape (n, p + fit_intercept)."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        if fit_intercept:
            X = sp.hstack([X, np.full((X.shape[0], 1), scaling)], format="csr")
        return X if X.has_sorted_indices else X.sorted_indices()  # the user's stays
    X = np.asarray(X, dtype=np.float64)
    if fit_intercept:
        X = np.hstack([X, np.full((X.shape[0], 1), scaling)])
    return np.ascontiguousarray(X)


def transposed_design(X_aug) -> Design:
    """sqrt(m) X~^T as a Design (Fortran for a C-ordered X~, CSC for a CSR X~)."""
    m = X_aug.shape[1]
    if sp.issparse(X_aug):
        Z = sp.csc_matrix((X_aug.data * np.sqrt(m), X_aug.indices, X_aug.indptr),
                          shape=(m, X_aug.shape[0]))
        return Design(Z)
    return Design(np.sqrt(m) * X_aug.T)


@dataclass(frozen=True, eq=False)
class DualProblem(InnerProblem):
    """The box dual of ``box`` on the design sqrt(m) X~^T, with the SVM's gap.

    Extra parameters: ``primal`` (X~, shape (n, m)), ``C``, ``epsilon``,
    ``loss`` ("hinge" or "epsilon_insensitive"), ``lower`` and ``upper``.
    """

    primal: object = None
    C: float = 1.0
    epsilon: float = 0.0
    loss: str = "hinge"
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    target: np.ndarray | None = None

    #: The gap is checked every 100 epochs at most: at a degenerate solution the
    #: largest violation lags far behind the gap (the SVR on 10000 x 100 reached a
    #: gap of 5e-9 while coordinate descent ran 10000 epochs after a violation of
    #: 5e-4 it did not reach).
    epochs_per_check = 100
    #: Every epoch visits the dual variables in a new order, as liblinear does
    #: (Hsieh et al. 2008): on sparse 2000 x 10000 TF-IDF rows at C = 0.92,
    #: cyclic or one fixed random order left a relative gap of 3e-2 after 200
    #: epochs, a new order every epoch reached 7e-8 in 40.
    shuffle_units = True

    @cached_property
    def penalty(self) -> Box:
        """The box penalty of the scaled dual (``box``)."""
        return Box(np.ascontiguousarray(self.lam, dtype=np.float64), float(self.l2),
                   self.target, self.lower, self.upper)

    def primal_coef(self, u: np.ndarray) -> np.ndarray:
        """w~ = C X~^T u, shape (m,)."""
        return self.C * np.asarray(self.primal.T @ u).ravel()

    def losses(self, margins: np.ndarray) -> np.ndarray:
        """Per-sample losses at the predictions X~ w~ (hinge or epsilon-insensitive)."""
        if self.loss == "hinge":
            return np.maximum(1.0 - self.target * margins, 0.0)
        return np.maximum(np.abs(self.target - margins) - self.epsilon, 0.0)

    def duality_gap(self, u, state, grad) -> float:
        """P(w~) - D(beta) with beta = C u, w~ = C X~^T u and X~ w~ = C grad."""
        w = self.C * state / np.sqrt(state.shape[0])
        primal = 0.5 * w @ w + self.C * np.sum(self.losses(self.C * grad))
        dual = self.C * (self.target @ u - self.epsilon * np.sum(np.abs(u))) - 0.5 * w @ w
        return float(primal - dual)

    def null_objective(self) -> float:
        """The primal at w~ = 0: C sum_i loss_i(0)."""
        return self.C * float(np.sum(self.losses(np.zeros(self.target.shape[0]))))

    def solution(self, w, b_internal, opt, run) -> InnerSolution:
        """The dual solution u, its support the free coordinates."""
        return InnerSolution(coef=w, intercept=0.0,
                             support=self.penalty.generalized_support(w), gap=opt.gap,
                             kkt=opt.kkt, n_iter=run.n_iter, n_epochs=run.n_epochs,
                             converged=run.converged)

    def violation_scale(self) -> np.ndarray:
        """The size of the penalty's weights per coordinate, lam + l2 |y|."""
        return self.lam + self.l2 * np.abs(self.target)


@dataclass(frozen=True)
class _DualModel(Model):
    """The shared part of the SVM and the SVR: alpha holds C (and epsilon)."""

    fit_intercept: bool = True
    intercept_scaling: float = 1.0
    penalty_type = Box
    kind = "dual"
    loss = "hinge"

    def _epsilon(self, alpha) -> float:
        return 0.0

    def _dual_designs(self, design: Design):
        """(X~, the Design of sqrt(m) X~^T) of the primal ``design``, built once per
        design and kept on it (``Design.derived``): alpha does not change them, and
        rebuilding them took 0.22 s per evaluation and fold on 5000 x 1000 dense X
        against 0.46 s for the solve."""
        def build(design):
            X = design.matrix if design.offset is None else design.matrix + design.offset
            X_aug = augmented(X, self.fit_intercept, self.intercept_scaling)
            return X_aug, transposed_design(X_aug)
        return design.derived(("svm dual", self.fit_intercept, self.intercept_scaling),
                              build)

    def problem(self, alpha, design: Design, y: np.ndarray) -> DualProblem:
        """The dual on ``design`` (the primal X, as the estimators build it)."""
        X_aug, transposed = self._dual_designs(design)
        C, epsilon = float(np.ravel(alpha)[0]), self._epsilon(alpha)
        lower, upper = self.box(y)
        return DualProblem(
            transposed, np.zeros(X_aug.shape[1]), datafits.Quadratic,
            np.full(y.shape[0], epsilon / C), 1.0 / C, False, Box, X_aug, C, epsilon,
            self.loss, lower, upper, np.ascontiguousarray(y, dtype=np.float64))

    def box(self, y: np.ndarray):
        """(lower, upper) of the scaled dual variables."""
        return np.minimum(y, 0.0), np.maximum(y, 0.0)

    def reference_C(self, design: Design) -> float:
        """1 / mean_i ||x~_i||^2: the C where the loss and the penalty balance, the
        middle of the default search range (``hyperparameters``)."""
        n = design.shape[0]
        squares = float(np.sum(design.col_sq_norms))
        if design.offset is not None:  # the centered columns' means are 0
            squares += n * float(design.offset @ design.offset)
        mean_sq = squares / n + self.intercept_scaling**2 * float(self.fit_intercept)
        return 1.0 / max(mean_sq, 1e-300)

    def criterion_point(self, problem: DualProblem, solution) -> tuple:
        """The primal (coef, intercept) of a dual solution."""
        return self.primal_point(problem, solution.coef)

    def primal_point(self, problem: DualProblem, u: np.ndarray):
        """(coef (p,), intercept) of the primal at the dual point u."""
        return self.split(problem.primal_coef(u))

    def split(self, w: np.ndarray):
        """(coef (p,), intercept) of w~ = (w, b / s)."""
        if self.fit_intercept:
            return w[:-1], float(w[-1] * self.intercept_scaling)
        return w, 0.0


@dataclass(frozen=True)
class LinearSVM(_DualModel):
    """Linear SVM, hinge loss: 1/2 ||w||^2 + C sum_i max(0, 1 - y_i (x_i.w + b)).

    alpha is C; y in {-1, 1} (any two-class target: the smaller label is -1). The
    intercept is penalized, as in liblinear (module docstring).
    """

    name = "svm"
    layout = "svm"
    held_out = "smoothed_hinge"

    def check_alpha(self, alpha, n_features):
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.size != 1:
            raise ValueError(f"C must be a single positive number for the SVM, got "
                             f"shape {alpha.shape}.")
        check_positive_alpha(alpha, "C")
        return alpha.reshape(())

    def check_target(self, y):
        return binary_labels(y, "y")

    def directions(self, alpha, n_features):
        return np.zeros((n_features, 1)), np.array([-1.0 / float(alpha) ** 2])

    def pullback(self, g_lam, g_l2, alpha):
        return np.asarray(-g_l2 / float(alpha) ** 2).reshape(np.shape(alpha))

    def penalty(self, alpha, n_features):
        return np.zeros(n_features), 1.0 / float(alpha)


@dataclass(frozen=True)
class LinearSVR(_DualModel):
    """Linear SVR: 1/2 ||w||^2 + C sum_i max(0, |y_i - x_i.w - b| - epsilon).

    With ``epsilon=None`` alpha is (C, epsilon), both tuned; otherwise alpha is C
    and epsilon (>= 0) is fixed.
    """

    epsilon: float | None = 0.0
    name = "svr"
    loss = "epsilon_insensitive"
    held_out = "mse"

    def __post_init__(self):
        if self.epsilon is not None and not (np.isfinite(self.epsilon)
                                             and self.epsilon >= 0):
            raise ValueError(f"epsilon must be >= 0 and finite, got {self.epsilon!r}.")

    @property
    def layout(self) -> str:
        return "svr" if self.epsilon is None else "svm"

    def check_alpha(self, alpha, n_features):
        alpha = np.asarray(alpha, dtype=np.float64)
        size = 2 if self.epsilon is None else 1
        if alpha.size != size:
            what = "(C, epsilon)" if size == 2 else "a single positive C"
            raise ValueError(f"alpha must be {what} for this SVR, got shape "
                             f"{alpha.shape}.")
        check_positive_alpha(alpha, "(C, epsilon)" if size == 2 else "C")
        return alpha if size == 2 else alpha.reshape(())

    def _epsilon(self, alpha) -> float:
        return float(np.ravel(alpha)[1]) if self.epsilon is None else float(self.epsilon)

    def box(self, y):
        return -np.ones(y.shape[0]), np.ones(y.shape[0])

    def penalty(self, alpha, n_features):
        C = float(np.ravel(alpha)[0])
        return np.full(n_features, self._epsilon(alpha) / C), 1.0 / C

    def directions(self, alpha, n_features):
        C, eps = float(np.ravel(alpha)[0]), self._epsilon(alpha)
        dlam = np.full((n_features, np.size(alpha)), -eps / C**2)
        dl2 = np.zeros(np.size(alpha))
        dl2[0] = -1.0 / C**2
        if np.size(alpha) == 2:
            dlam[:, 1] = 1.0 / C
        return dlam, dl2

    def pullback(self, g_lam, g_l2, alpha):
        C, eps = float(np.ravel(alpha)[0]), self._epsilon(alpha)
        total = float(np.sum(g_lam))
        d_C = -total * eps / C**2 - g_l2 / C**2
        if np.size(alpha) == 2:
            return np.array([d_C, total / C])
        return np.asarray(d_C).reshape(np.shape(alpha))


def primal_solution(dual: InnerSolution, coef: np.ndarray, intercept: float):
    """The ``InnerSolution`` with the primal (coef, intercept) of a dual one; its
    support stays the dual's: the free support vectors (0 < |u_i| < 1), as in
    the searches' ``support_size``."""
    return InnerSolution(coef, float(intercept), dual.support, dual.gap, dual.kkt,
                         dual.n_iter, dual.n_epochs, dual.converged)


DUAL_MODELS = {"svm": LinearSVM, "svc": LinearSVM, "svr": LinearSVR}
