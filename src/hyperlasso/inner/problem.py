"""The inner problem: a design, a target, a datafit and penalty weights.

Every separable model of hyperlasso reduces, for the solver and the hypergradient
methods, to

    minimize_{w, b}  F(Xw + b) + sum_j lam_j |w_j| + l2 / 2 ||w||^2

with F quadratic or logistic (``datafits``). Models (``models.py``) map their
hyperparameters alpha to ``(lam, l2)``; this module never sees alpha. For the
solver (``solver.py``) the problem is the case of one task and one-feature units
of the kernel ``_cd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from hyperlasso.inner import _cd, datafits
from hyperlasso.inner._design import as_design
from hyperlasso.inner.penalties import L1L2, check_penalty
from hyperlasso.inner.solver import InnerSolution, Optimality, SolverRun

#: Center a dense design when some |mean_j| exceeds this times the column's
#: standard deviation (correlation with the intercept above 1 / sqrt(2)).
CENTERING_RATIO = 1.0


@dataclass(frozen=True, eq=False)
class Design:
    """A validated design matrix with the column statistics the solvers need.

    Parameters
    ----------
    matrix : ndarray of shape (n_samples, n_features) or scipy.sparse CSC matrix
        float64 design, centered if ``offset`` is given.
    offset : ndarray of shape (n_features,) or None
        Column means subtracted from a dense design (see ``Design.of``).
    """

    matrix: object
    offset: np.ndarray | None = None

    @classmethod
    def of(cls, X, fit_intercept: bool) -> Design:
        """The design the solvers use for X.

        With an intercept, a dense X whose columns have large means is centered:
        Xw + b = X_c w + (b + mean(X).w), an exact change of variables of the
        intercept that removes its coupling with the features (coordinate descent
        crawls when a column's mean exceeds its spread: their correlation with the
        intercept's column of ones is mean / sqrt(mean^2 + var)). Other designs
        are used as they are (no copy); sparse X stays sparse.
        """
        if fit_intercept and not sp.issparse(X):
            offset = np.asarray(X).mean(axis=0)
            squares = np.einsum("ij,ij->j", X, X)
            spread = np.sqrt(np.maximum(squares / X.shape[0] - offset**2, 0.0))
            if np.any(np.abs(offset) > CENTERING_RATIO * spread):
                return cls(np.asfortranarray(X - offset), offset)
            design = cls(X)
            design.__dict__["col_sq_norms"] = squares  # fills the cached property
            return design
        return cls(X)

    @cached_property
    def kernel_view(self):
        """Numba view: Fortran array or CSC triple ``(data, indices, indptr)``."""
        return as_design(self.matrix)

    @property
    def shape(self) -> tuple[int, int]:
        """(n_samples, n_features)."""
        return self.matrix.shape

    @property
    def is_sparse(self) -> bool:
        """Whether the design is a scipy.sparse matrix."""
        return sp.issparse(self.matrix)

    @cached_property
    def col_sq_norms(self) -> np.ndarray:
        """Squared Euclidean norms of the columns, shape (n_features,)."""
        if self.is_sparse:
            return _csc_column_reduce(self.matrix.tocsc(), np.square)
        return np.einsum("ij,ij->j", self.matrix, self.matrix)

    @cached_property
    def col_sums(self) -> np.ndarray:
        """Column sums X^T 1, shape (n_features,)."""
        if self.is_sparse:
            return _csc_column_reduce(self.matrix.tocsc(), lambda data: data)
        return self.matrix.sum(axis=0)

    def matvec(self, w: np.ndarray) -> np.ndarray:
        """Return X @ w, shape (n_samples,), reading only the columns where w != 0."""
        support = np.flatnonzero(w)
        if support.size > 0.5 * w.size:
            return np.asarray(self.matrix @ w).ravel()
        return np.asarray(self.matrix[:, support] @ w[support]).ravel()

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """Return X^T @ v, shape (n_features,)."""
        return np.asarray(self.matrix.T @ v).ravel()

    def matmat(self, W: np.ndarray) -> np.ndarray:
        """Return X @ W, shape (n_samples, T), reading only the rows of W != 0."""
        rows = np.flatnonzero(np.any(W != 0, axis=1))
        if rows.size > 0.5 * W.shape[0]:
            return np.asarray(self.matrix @ W)
        return np.asarray(self.matrix[:, rows] @ W[rows])

    def rmatmat(self, V: np.ndarray) -> np.ndarray:
        """Return X^T @ V, shape (n_features, T)."""
        return np.asarray(self.matrix.T @ V)

    def derived(self, key, build):
        """``build(self)``, computed once per design and ``key`` and kept on it: what
        a model derives from the design alone (the SVM's transposed design)."""
        cache = self.__dict__.setdefault("_derived", {})
        if key not in cache:
            cache[key] = build(self)
        return cache[key]

    def columns(self, support: np.ndarray):
        """Return X[:, support] (dense or CSC), shape (n_samples, len(support))."""
        return self.matrix[:, support]


#: Stored entries that ``_csc_column_reduce`` transforms at a time: a bounded
#: temporary (squaring all the data at once took half the bytes of X, on top of
#: it, for a fold of a design of E2006-log1p's shape).
REDUCE_CHUNK = 1 << 22


def _csc_column_reduce(csc, transform) -> np.ndarray:
    """Per-column sums of ``transform(data)`` of a CSC matrix, shape (n_features,).

    ``np.add.reduceat`` over the column pointers: X.sum(axis=0) goes through a
    sparse product and took 0.8 ms against 0.2 ms on 20000 x 20000, density 0.002.
    Whole columns at a time, about ``REDUCE_CHUNK`` entries each: every column is
    summed in the same order as in one pass.
    """
    sums = np.zeros(csc.shape[1])
    nonempty = np.flatnonzero(np.diff(csc.indptr))
    starts = csc.indptr[nonempty]
    begin = 0
    while begin < nonempty.size:
        first = starts[begin]
        stop = max(int(np.searchsorted(starts, first + REDUCE_CHUNK)), begin + 1)
        last = csc.indptr[nonempty[stop - 1] + 1]
        sums[nonempty[begin:stop]] = np.add.reduceat(transform(csc.data[first:last]),
                                                     starts[begin:stop] - first)
        begin = stop
    return sums


@dataclass(frozen=True, eq=False)
class InnerProblem:
    """F(Xw + b) + sum_j lam_j |w_j| + l2/2 ||w||^2, the problem the solver sees.

    Parameters
    ----------
    design : Design
        The design X, shape (n_samples, n_features).
    y : ndarray of shape (n_samples,)
        Target; in {-1, 1} for the logistic datafit.
    datafit : type
        A datafit class of ``datafits`` (``Quadratic``, ``Logistic``); checked.
    lam : ndarray of shape (n_features,)
        Positive l1 weights.
    l2 : float
        Non-negative l2 weight.
    fit_intercept : bool
        Whether an unpenalized intercept b is fitted.
    penalty_type : type, default=L1L2
        A separable penalty class of ``penalties`` built from ``(lam, l2)``; checked.
    """

    design: Design
    y: np.ndarray
    datafit: type
    lam: np.ndarray
    l2: float = 0.0
    fit_intercept: bool = True
    penalty_type: type = L1L2

    def __post_init__(self):
        object.__setattr__(self, "datafit", datafits.check_datafit(self.datafit))
        object.__setattr__(self, "penalty_type", check_penalty(self.penalty_type,
                                                                 separable=True))

    @cached_property
    def kernel_datafit(self):
        """The datafit with y and the Lipschitz constants, as the kernels take it."""
        return self.datafit(np.ascontiguousarray(self.y, dtype=np.float64),
                            np.ascontiguousarray(self.lipschitz, dtype=np.float64))

    @cached_property
    def penalty(self):
        """The penalty ``penalty_type(lam, l2)``, as the kernels take it."""
        return self.penalty_type(np.ascontiguousarray(self.lam, dtype=np.float64),
                                 float(self.l2))

    @property
    def kernel_penalty(self) -> L1L2:
        """The penalty as the kernels take it (``penalty``)."""
        return self.penalty

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.design.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features."""
        return self.design.shape[1]

    @property
    def lipschitz(self) -> np.ndarray:
        """Coordinate-wise Lipschitz constants of the datafit, shape (n_features,)."""
        return self.datafit.get_lipschitz(self.design.col_sq_norms, self.n_samples)

    def null_intercept(self) -> float:
        """Optimal intercept when w = 0 (0 without intercept)."""
        if not self.fit_intercept:
            return 0.0
        return self.datafit.null_intercept(self.y)

    def datafit_state(self, w: np.ndarray, b_internal) -> np.ndarray:
        """The datafit's state at (w, internal intercept), shape (n_samples,):
        the residual Xw + b - y for the quadratic, Xw + b for the logistic loss.
        ``b_internal`` is a float or an array of one entry."""
        z = self.design.matvec(w) + float(np.asarray(b_internal).reshape(-1)[0])
        return self.datafit.state(z, self.y)

    def state_of_intercept(self, b: float) -> np.ndarray:
        """The datafit's state at w = 0 and intercept b, shape (n_samples,)."""
        return self.datafit.state(np.full(self.n_samples, b), self.y)

    # ---------------------------------------------- what the solver asks (solver.py)
    newton_finisher = None
    #: A working set is solved to its tolerance before the gap is checked again.
    epochs_per_check = None
    #: Epochs visit the units in their order (cyclic coordinate descent).
    shuffle_units = False

    @staticmethod
    def kernel_state(state):
        """The state ``(w, S, b)`` as ``_cd`` takes it: as it is (one task)."""
        return state

    @cached_property
    def units(self):
        """One unit per feature, with its Lipschitz constant, as ``_cd`` takes them."""
        p = self.n_features
        return (np.arange(p), np.arange(p + 1),
                np.ascontiguousarray(self.lipschitz, dtype=np.float64))

    def kernel_args(self):
        """``(X, datafit, penalty, units)`` for ``_cd``."""
        return self.design.kernel_view, self.kernel_datafit, self.penalty, self.units

    def initial_point(self, warm_start) -> tuple[np.ndarray, np.ndarray]:
        """(w, internal intercept as an array of one entry): the warm start
        (validated, copied) or zero with the null intercept."""
        if warm_start is None:
            return np.zeros(self.n_features), np.array([self.null_intercept()])
        coef, intercept = warm_start
        coef = np.array(coef, dtype=np.float64)
        if coef.shape != (self.n_features,):
            raise ValueError(f"warm_start coef must have shape ({self.n_features},), "
                             f"got {coef.shape}.")
        b = float(intercept) if self.fit_intercept else 0.0
        return coef, np.array([self.internal_intercept(coef, b)])

    def optimality(self, w: np.ndarray, b_internal, state: np.ndarray) -> Optimality:
        """Gradient, violations, KKT violation and relative gap at a point whose
        datafit state is ``state`` (``datafit_state``)."""
        datafit = self.kernel_datafit
        grad = self.design.rmatvec(datafits.raw_grad(datafit, state))
        viol = _cd.violations(grad, w, self.penalty, self.units)
        kkt = float(viol.max(initial=0.0))
        if self.fit_intercept:
            kkt = max(kkt, abs(datafits.intercept_grad(datafit, state)))
        gap = self.duality_gap(w, state, grad) / max(self.null_objective(), 1e-300)
        return Optimality(grad, viol, kkt, max(gap, 0.0))

    def optimality_at(self, w: np.ndarray, b: float, state=None) -> Optimality:
        """``optimality`` at (w, the user's intercept b); ``state`` if known."""
        b_internal = self.internal_intercept(w, b)
        state = self.datafit_state(w, b_internal) if state is None else state
        return self.optimality(w, b_internal, state)

    def violation_scale(self) -> np.ndarray:
        """The size of the penalty's weights per feature (lam), against which a
        Newton step's off-support violations are judged."""
        return self.lam

    @staticmethod
    def active_units(w: np.ndarray) -> np.ndarray:
        """The non-zero features."""
        return w != 0

    def solution(self, w, b_internal, opt: Optimality, run: SolverRun) -> InnerSolution:
        """The ``InnerSolution`` at (w, internal intercept)."""
        intercept = self.external_intercept(w, float(b_internal[0]))
        return InnerSolution(
            coef=w, intercept=float(intercept), support=np.flatnonzero(w), gap=opt.gap,
            kkt=opt.kkt, n_iter=run.n_iter, n_epochs=run.n_epochs,
            converged=run.converged)

    def internal_intercept(self, w: np.ndarray, b: float) -> float:
        """The intercept of the centered design: b + mean(X).w."""
        offset = self.design.offset
        return b if offset is None else b + float(np.dot(offset, w))

    def external_intercept(self, w: np.ndarray, b_internal: float) -> float:
        """The user's intercept from the centered design's one."""
        offset = self.design.offset
        return b_internal if offset is None else b_internal - float(np.dot(offset, w))

    def internal_gradient(self, grad_coef: np.ndarray, grad_intercept: float):
        """Gradient in w at fixed internal intercept, from the one at fixed b."""
        offset = self.design.offset
        return grad_coef if offset is None else grad_coef - offset * grad_intercept

    def gradient_at_zero(self) -> np.ndarray:
        """Gradient of the datafit in w at w = 0 (optimal intercept), shape (p,)."""
        state = self.state_of_intercept(self.null_intercept())
        return self.design.rmatvec(datafits.raw_grad(self.kernel_datafit, state))

    @cached_property
    def _null_objective(self) -> float:
        state = self.state_of_intercept(self.null_intercept())
        return float(datafits.value(self.kernel_datafit, state))

    def null_objective(self) -> float:
        """Objective at w = 0 with the optimal intercept: the scale of the gap."""
        return self._null_objective

    def primal(self, w: np.ndarray, z: np.ndarray) -> float:
        """Objective value at w, z its datafit state."""
        return float(datafits.value(self.kernel_datafit, z)) + self.penalty.value(w)

    def duality_gap(self, w: np.ndarray, z: np.ndarray, grad: np.ndarray) -> float:
        """Duality gap at w, z its datafit state, given ``grad`` = X^T grad F.

        The dual point is the rescaled negative gradient of F (centered to satisfy
        sum(theta) = 0 when an intercept is fitted), so the gap is a certificate:
        primal(w) - optimum <= gap.
        """
        theta = -datafits.raw_grad(self.kernel_datafit, z)
        xt_theta = -grad
        if self.fit_intercept:
            theta, xt_theta = self._center_dual(theta, xt_theta)
        scale, conj = self.penalty.dual_terms(xt_theta)
        dual = datafits.dual_value(self.kernel_datafit, theta * scale) - conj
        return self.primal(w, z) - dual

    def _center_dual(self, theta, xt_theta):
        return self.datafit.center_dual(self.y, theta, xt_theta, self.design)
