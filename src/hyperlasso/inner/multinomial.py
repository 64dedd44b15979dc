"""Sparse multinomial logistic regression as an inner problem of the block solver.

    minimize_{W, b}  F(XW + 1 b^T) + Omega(W),   W of shape (p, K), b of shape (K,),

F the multinomial loss (``softmax.Multinomial``, Y the one-hot classes) and Omega
either the group penalty across classes, sum_j lam_j ||W_j||_2 (a feature is in
or out for every class; ``penalty="group"``), or the l1 penalty
sum_j lam_j sum_k |W_jk| (``penalty="l1"``). It is ``BlockProblem`` with another
datafit: the same solver (``solver.py``), kernel (``_cd``) and units (one row of
W per feature), the datafit state being Z = XW + 1 b^T instead of a residual.
The Newton finisher of the block solver applies, on the system of
``multinomial_system``.

The intercept is defined up to a common shift (the softmax does not see it);
the solver starts from the centered log class frequencies and its gradient
steps keep sum_k b_k constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hyperlasso._validation import check_class_indices
from hyperlasso.inner import _cd, softmax
from hyperlasso.inner.block import BlockProblem
from hyperlasso.inner.block_models import BlockModel
from hyperlasso.inner.block_newton import newton_on_active_groups
from hyperlasso.inner.class_l1 import ClassL1
from hyperlasso.inner.multinomial_system import MultinomialSystem
from hyperlasso.inner.penalties import L1L2, GroupL2
from hyperlasso.inner.problem import Design
from hyperlasso.inner.softmax import Multinomial
from hyperlasso.inner.solver import Optimality

PENALTIES = ("group", "l1")


@dataclass(frozen=True, eq=False)
class MultinomialProblem(BlockProblem):
    """The problem of the module docstring.

    Parameters
    ----------
    design : Design
    Y : ndarray of shape (n_samples, n_classes)
        One-hot classes.
    groups : Groups
        One group per feature (``Groups.singletons``).
    lam : ndarray of shape (n_features,)
        Positive penalty weights, one per feature.
    l2 : float
        Must be 0.
    fit_intercept : bool
    penalty_kind : {"group", "l1"}
    """

    penalty_kind: str = "group"

    def __post_init__(self):
        if self.penalty_kind not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got "
                             f"{self.penalty_kind!r}.")
        if not self.groups.are_singletons:
            raise ValueError("the multinomial problem takes one group per feature.")
        missing = np.flatnonzero(self.Y.sum(axis=0) == 0)
        if self.fit_intercept and missing.size:
            raise ValueError(
                f"class {int(missing[0])} has no sample in the training data, so its "
                "intercept is unbounded (-inf): use fewer folds (stratified) or "
                "remove the class.")

    @cached_property
    def lipschitz(self) -> np.ndarray:
        """||X_j||^2 / (2 n): the bound of ``softmax`` on the rows' Hessians."""
        return softmax.Multinomial.get_lipschitz(self.design.col_sq_norms,
                                                 self.n_samples)

    def null_intercept(self) -> np.ndarray:
        """Centered log class frequencies (zero without an intercept), shape (K,)."""
        if not self.fit_intercept:
            return np.zeros(self.Y.shape[1])
        return softmax.null_intercept(self.Y)

    def null_objective(self) -> float:
        """F at W = 0 with the optimal intercept: the scale of the gap."""
        return softmax.loss(np.broadcast_to(self.null_intercept(), self.Y.shape), self.Y)

    def residual(self, W: np.ndarray, b_internal: np.ndarray) -> np.ndarray:
        raise TypeError("the multinomial problem has no residual; its state is "
                        "Z = XW + 1 b^T (datafit_state).")

    def gradient_at_zero(self) -> np.ndarray:
        """X^T grad F at W = 0 with the optimal intercept, shape (p, K)."""
        Z = np.broadcast_to(self.null_intercept(), self.Y.shape)
        return self.design.rmatmat(softmax.probabilities(Z) - self.Y) / self.n_samples

    @cached_property
    def penalty(self):
        """``GroupL2(lam, 0)`` (group) or ``ClassL1(lam, 0)`` (l1: the prox that
        also takes the best shift of each row, see ``class_l1``), as the kernels
        take it."""
        lam = np.ascontiguousarray(self.lam, dtype=np.float64)
        return GroupL2(lam, 0.0) if self.penalty_kind == "group" else ClassL1(lam, 0.0)

    def penalty_value(self, W: np.ndarray) -> float:
        """Omega(W)."""
        if self.penalty_kind == "group":
            return self.penalty.value(W, self.groups)
        return self.penalty.value(W)

    def objective(self, W: np.ndarray, Z: np.ndarray) -> float:
        """F(Z) + Omega(W), Z the state of W."""
        return softmax.loss(Z, self.Y) + self.penalty_value(W)

    def violations(self, W: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Distance of -grad_j to the subdifferential at W_j, shape (n_features,)
        (for l1 the Euclidean norm of the entries' distances)."""
        if self.penalty_kind == "group":
            return self.penalty.distances(W, grad, self.groups)
        entries = L1L2(self.lam[:, None], 0.0).distances(W, grad)
        return np.sqrt(np.sum(entries**2, axis=1))

    def dual_scale(self, xt_theta: np.ndarray) -> float:
        """Largest c <= 1 with c X^T theta in the dual ball of Omega."""
        if self.penalty_kind == "group":
            size = np.linalg.norm(xt_theta, axis=1)
        else:
            size = np.max(np.abs(xt_theta), axis=1)
        ratio = np.divide(self.lam, size, out=np.full(size.shape, np.inf),
                          where=size > 0)
        return float(min(1.0, ratio.min(initial=np.inf)))

    def gap_at(self, W: np.ndarray, Z: np.ndarray, P: np.ndarray,
               grad: np.ndarray) -> float:
        """Primal objective at (W, b) minus a dual objective: the dual point
        theta = c (Y - P*) / n with P* = softmax(Z + 1 delta^T) at the optimal
        shift delta of the intercepts for this W (``softmax.optimal_shift``),
        so that sum_i theta_i = 0 (the intercepts' dual constraint); F's
        conjugate is then the entropy of u_i = (1 - c) y_i + c p*_i, in the
        simplex, and the dual objective sum_i H(u_i) / n bounds the joint
        minimum over (W, b) from below (a certificate). ``P`` and ``grad`` are
        those at Z, reused when no shift is needed (no intercept)."""
        delta = softmax.optimal_shift(Z, self.Y) if self.fit_intercept else None
        if delta is not None and np.any(delta):
            P = softmax.probabilities(Z + delta)
            grad = self.design.rmatmat(P - self.Y) / self.n_samples
        c = self.dual_scale(-grad)
        dual = softmax.entropy_sum((1.0 - c) * self.Y + c * P) / self.n_samples
        return self.objective(W, Z) - dual

    def active_system(self, coef: np.ndarray, intercept: np.ndarray):
        """The optimality system on the support (``multinomial_system``)."""
        return MultinomialSystem.at(self, coef, intercept)

    # ---------------------------------------------- what the solver asks (solver.py)
    #: Damped Newton steps on the support (``block_newton``, on this problem's
    #: ``active_system``) once coordinate descent has settled it: the 1/2 bound
    #: of the steps is loose near separable classes (digits at 0.2 % of
    #: alpha_max: 4330 epochs to a gap of 1e-8).
    newton_finisher = staticmethod(newton_on_active_groups)
    #: Looks at the support every 11 epochs (``solver.NEWTON_EVERY``): Newton
    #: steps start sooner, and a chunk that converged is told apart from one that
    #: ran out (its convergence check, every ``_cd.CHECK_EVERY`` epochs, falls on
    #: epoch 10). Digits tuned by 5-fold CV (bench_multiclass's setting), same
    #: alpha_ to 13 digits: l1 144 -> 84 s, group 27.3 -> 19.2 s; a chunk of 10
    #: alone (every converged chunk taken as unconverged) gave 27.4 s.
    newton_every = _cd.CHECK_EVERY + 1

    def newton_support(self, W: np.ndarray) -> np.ndarray:
        """The entries (l1) or rows (group) whose Newton system the finisher
        solves: the finisher runs when they stay the same over a chunk."""
        if self.penalty_kind == "l1":
            return np.flatnonzero(W.ravel())
        return np.flatnonzero(self.active_units(W))

    @cached_property
    def kernel_datafit(self) -> softmax.Multinomial:
        """The multinomial datafit on Y, as ``_cd`` takes it."""
        return softmax.Multinomial(np.ascontiguousarray(self.Y, dtype=np.float64),
                                   self.lipschitz)

    @staticmethod
    def kernel_state(state):
        """The state ``(W, Z, b)`` as it is (K >= 2 columns)."""
        return state

    def datafit_state(self, W: np.ndarray, b_internal: np.ndarray) -> np.ndarray:
        """Z = XW + 1 b^T, shape (n, K), C order (the kernels read its rows)."""
        return np.ascontiguousarray(self.design.matmat(W) + b_internal)

    def optimality(self, W, b_internal, Z=None) -> Optimality:
        """Gradient X^T (P - Y) / n, violations, KKT violation (the intercepts'
        derivatives included) and relative duality gap (``gap_at``) at (W, b)."""
        Z = self.datafit_state(W, b_internal) if Z is None else Z
        P = softmax.probabilities(Z)
        grad = self.design.rmatmat(P - self.Y) / self.n_samples
        viol = self.violations(W, grad)
        kkt = float(viol.max(initial=0.0))
        gap = self.gap_at(W, Z, P, grad) / max(self.null_objective(), 1e-300)
        if self.fit_intercept:
            kkt = max(kkt, float(np.max(np.abs((P - self.Y).mean(axis=0)))))
        return Optimality(grad, viol, kkt, max(gap, 0.0))


@dataclass(frozen=True, eq=False, kw_only=True)
class MultinomialLogistic(BlockModel):
    """Sparse multinomial logistic regression: F(XW + 1 b^T) + alpha Omega(W).

    The block model (``block_models``) of ``MultinomialProblem``: one alpha for
    every feature (``penalty_kind="group"``: a feature is in or out for every
    class; ``"l1"``: each entry on its own, scikit-learn's
    ``LogisticRegression(penalty="l1")`` with C = 1 / (alpha n)). The target is
    the class indices 0..K-1 (``check_target``).

    Parameters
    ----------
    n_classes : int
        K >= 2.
    penalty_kind : {"group", "l1"}, default="group"
    fit_intercept : bool, default=True
    """

    n_classes: int
    penalty_kind: str = "group"
    name = "multinomial_logistic"
    datafit = Multinomial
    held_out = "multinomial_log_loss"
    #: The target is the class indices 0..K-1 (``check_target``).
    class_indices = True
    #: The iterative differentiations of the block models are written for the
    #: quadratic datafit's residual; implicit differentiation and polish take
    #: the multinomial system (``multinomial_system``).
    hypergradient_methods = ("implicit", "polish")

    def __post_init__(self):
        if int(self.n_classes) < 2:
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes}.")
        if self.penalty_kind not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got "
                             f"{self.penalty_kind!r}.")

    def check_target(self, y, n_samples: int | None = None) -> np.ndarray:
        """Class indices 0..K-1, shape (n_samples,), as integers."""
        return check_class_indices(y, self.n_classes, "multinomial", n_samples)

    def problem(self, alpha, design: Design, y: np.ndarray) -> MultinomialProblem:
        """The problem at ``alpha`` on ``(design, y)`` (y the class indices)."""
        groups = self.groups_for(design.shape[1])
        lam, l2 = self.penalty(alpha, groups)
        return MultinomialProblem(design, softmax.one_hot(self.check_target(y),
                                                          self.n_classes),
                                  groups, lam, l2, self.fit_intercept, self.penalty_kind)

    def alpha_max(self, design: Design, y: np.ndarray) -> float:
        """Smallest alpha with an all-zero W."""
        unit = self.problem(np.array(1.0), design, y)
        gradient = unit.gradient_at_zero()
        if self.penalty_kind == "group":
            return float(np.max(np.linalg.norm(gradient, axis=1), initial=0.0))
        return float(np.max(np.abs(gradient), initial=0.0))
