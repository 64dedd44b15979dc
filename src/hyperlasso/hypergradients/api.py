"""The public entry point: ``hypergradient(model, criterion, alpha, X, y, ...)``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from hyperlasso._validation import check_matrix, check_vector
from hyperlasso.hypergradients import iterative, methods, smooth
from hyperlasso.hypergradients.block_api import block_context, run_block_method
from hyperlasso.hypergradients.dual_api import dual_hypergradient, make_dual_model
from hyperlasso.hypergradients.graphical import graphical_hypergradient
from hyperlasso.hypergradients.linear import choose_linear_solver
from hyperlasso.hypergradients.methods import Context
from hyperlasso.hypergradients.ovr_api import ovr_hypergradient
from hyperlasso.hypergradients.results import (
    AllZeroWarning,
    HypergradientResult,
    WarmStart,
)
from hyperlasso.hypergradients.smooth import SMOOTH_MODELS, SmoothModel
from hyperlasso.inner.block_models import (
    BLOCK_MODELS,
    make_block_model,
    names_block_model,
)
from hyperlasso.inner.dual import DUAL_MODELS
from hyperlasso.inner.graphical import GraphicalLasso, empirical_covariance
from hyperlasso.inner.models import Model, make_model
from hyperlasso.inner.problem import Design
from hyperlasso.inner.solver import STOP_CRITERIA, InnerSolution
from hyperlasso.inner.threads import single_threaded_blas

METHODS = {
    "forward": iterative.forward,
    "backward": iterative.backward,
    "implicit": methods.implicit,
    "implicit_forward": methods.implicit_forward,
    "polish": methods.polish,
}

#: Default inner tolerance (relative duality gap) of ``method="polish"`` and
#: ``"auto"``: enough to identify the support, after which polish is exact.
POLISH_TOL = 1e-8
#: Default inner tolerance of the other methods, whose error is linear in the
#: inner error: a relative gap of 1e-12 keeps the hypergradient error near 1e-6.
PLAIN_TOL = 1e-12


def hypergradient(
    model: str | Model,
    criterion,
    alpha,
    X,
    y=None,
    method: str = "auto",
    tol: float | None = None,
    *,
    stop: str = "gap",
    linear_solver: str = "auto",
    max_iter: int = 100,
    warm_start: WarmStart | None = None,
    coef: np.ndarray | None = None,
    intercept: float = 0.0,
    preconditioner=None,
) -> HypergradientResult:
    """Criterion value and its gradient in the hyperparameters alpha.

    Parameters
    ----------
    model : str or Model
        ``"lasso"``, ``"elastic_net"``, ``"weighted_lasso"``, ``"sparse_logreg"``
        or a :class:`hyperlasso.models.Model` instance (e.g. without intercept);
        ``"graphical_lasso"`` or a :class:`hyperlasso.GraphicalLasso` (then X holds
        samples in rows, y is None, the criterion takes a precision matrix, e.g.
        :class:`hyperlasso.HeldOutGaussianNLL`, and a ``GraphicalHypergradient`` is
        returned; pass it back as ``warm_start``); ``"ridge"`` or ``"l2_logreg"``
        (smooth, no intercept: see :mod:`hyperlasso.hypergradients.smooth`);
        ``"multitask_lasso"``, ``"weighted_multitask_lasso"``,
        ``"multitask_elastic_net"`` (Y of shape (n_samples, n_tasks)) or a
        :class:`hyperlasso.GroupLasso` / :class:`hyperlasso.WeightedGroupLasso`
        instance (its ``groups``): the criterion then takes coef of shape
        (n_features, n_tasks) and intercept (n_tasks,) (1-D for the group Lasso);
        ``"svm"``, ``"svr"`` or a :class:`hyperlasso.LinearSVM` /
        :class:`hyperlasso.LinearSVR` (alpha is C, or (C, epsilon) for
        ``LinearSVR(epsilon=None)``; solved in the dual, ``coef=`` unavailable).
    criterion : object
        Has ``value_and_grad(coef, intercept) -> (value, grad_coef, grad_intercept)``,
        e.g. :class:`hyperlasso.HeldOutMSE`.
    alpha : float or array-like
        A positive float (Lasso, sparse logistic), a pair (l1, l2) (ElasticNet) or
        shape (n_features,) (weighted Lasso).
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        Training design (float32 accepted, computed in float64).
    y : array-like of shape (n_samples,)
        Training target; two classes for logistic models.
    method : {"auto", "polish", "implicit", "implicit_forward", "forward", "backward"}
        ``"auto"`` runs ``"polish"``, exact for quadratic models once the support
        is identified, with the linear solver chosen from the support size.
        Smooth models: ``"auto"`` (= ``"newton"``), ``"implicit"``, ``"newton"``,
        ``"jacobi"``, ``"preconditioned"``, ``"reparam_diag"``, ``"reparam_exp"``,
        ``"reparam_newton"`` (ridge).
    tol : float, optional
        Inner tolerance on ``stop``; default 1e-8 for polish/auto, 1e-12 otherwise.
    stop : {"gap", "kkt"}, default="gap"
        Relative duality gap or absolute optimality violation.
    linear_solver : {"auto", "cholesky", "cg"}, default="auto"
        Linear solver of the implicit methods.
    max_iter : int, default=100
        Working-set iterations of the inner solver.
    warm_start : WarmStart, optional
        The ``warm_start`` of a previous result.
    coef : ndarray of shape (n_features,), optional
        An approximate inner solution: skip the inner solve and evaluate the
        estimator at ``(coef, intercept)`` (implicit methods and polish only).
    intercept : float, default=0.0
        Intercept that goes with ``coef``.
    preconditioner : array-like or callable, optional
        For ``method="preconditioned"`` (smooth models): P of shape (p,)
        (diagonal) or (p, p), or a function of coef returning one; the estimate is
        taken at ``coef - P^{-1} F(coef)``.

    Returns
    -------
    HypergradientResult
    """
    kind = model_kind(model)
    if preconditioner is not None and kind != "smooth":
        raise ValueError("preconditioner= applies to the smooth models ('ridge', "
                         "'l2_logreg') only.")
    if kind == "graphical":
        return _graphical(model, criterion, alpha, (X, y), (method, tol, linear_solver),
                          warm_start)
    if kind == "smooth":
        return _smooth(model, criterion, alpha, X, y, method, coef, preconditioner)
    settings = Settings(method, tol, stop, linear_solver, max_iter)
    given = None if coef is None else (coef, intercept)
    return _sparse(model, criterion, alpha, X, y, settings, warm_start, given)


def model_kind(model) -> str:
    """"graphical", "smooth", "block" or "separable": the stack that serves ``model``
    (a name, or an instance's ``kind`` attribute)."""
    if isinstance(model, str):
        for kind, names in (("graphical", GRAPHICAL_NAMES), ("smooth", SMOOTH_MODELS),
                            ("block", BLOCK_MODELS), ("dual", DUAL_MODELS)):
            if model in names:
                return kind
        return "separable"  # make_model names the known models if it is not one
    return getattr(model, "kind", "separable")


def _sparse(model, criterion, alpha, X, y, settings, warm_start, given):
    """The separable and block models: validated data, then ``hypergradient_on``."""
    X = check_matrix(X, "X")
    if names_block_model(model):
        model = make_block_model(model)
        y = model.check_target(y, X.shape[0])
    elif model_kind(model) == "dual":
        model = make_dual_model(model)
        y = check_vector(model.check_target(y), X.shape[0], "y")
    else:
        model = make_model(model)
        y = check_vector(model.check_target(y), X.shape[0], "y")
    design = Design.of(X, model.fit_intercept)
    return hypergradient_on(model, criterion, alpha, design, y, settings, warm_start, given)


@dataclass(frozen=True)
class Settings:
    """How to compute a hypergradient (see :func:`hypergradient` for the meaning)."""

    method: str = "auto"
    tol: float | None = None
    stop: str = "gap"
    linear_solver: str = "auto"
    max_iter: int = 100

    def resolved(self) -> Settings:
        """Validated copy with ``"auto"`` and the default tolerance filled in."""
        method = "polish" if self.method == "auto" else self.method
        if method in NOT_FOR_LASSO:
            raise ValueError(NOT_FOR_LASSO[method])
        if method not in METHODS:
            raise ValueError(
                f"method must be 'auto' or one of {sorted(METHODS)}, got {self.method!r}."
            )
        if self.stop not in STOP_CRITERIA:
            raise ValueError(f"stop must be one of {STOP_CRITERIA}, got {self.stop!r}.")
        choose_linear_solver(self.linear_solver, 0)
        tol = self.tol
        if tol is None:
            tol = POLISH_TOL if method == "polish" else PLAIN_TOL
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a positive finite number, got {tol!r}.")
        return replace(self, method=method, tol=float(tol))


def hypergradient_on(
    model: Model,
    criterion,
    alpha,
    design: Design,
    y: np.ndarray,
    settings: Settings = Settings(),
    warm_start: WarmStart | None = None,
    given: tuple[np.ndarray, float] | None = None,
    warn_all_zero: bool = True,
) -> HypergradientResult:
    """:func:`hypergradient` on validated data, for loops over many alphas.

    Parameters
    ----------
    model : Model
    criterion : object with ``value_and_grad(coef, intercept)``
    alpha : float or array-like
    design : Design
        Validated design (its column statistics are computed once and reused).
    y : ndarray of shape (n_samples,)
        Target already converted by ``model.check_target``.
    settings : Settings
    warm_start : WarmStart, optional
    given : tuple (coef, intercept), optional
        Evaluate at this point instead of solving (see ``coef=``).
    warn_all_zero : bool, default=True
        Warn when alpha gives an all-zero solution (outer loops that visit
        alpha_max on purpose turn it off).

    Returns
    -------
    HypergradientResult
    """
    settings = settings.resolved()
    _check_criterion(criterion, design.shape[1])
    if names_block_model(model):
        ctx = block_context(model, criterion, alpha, design, y, settings, warm_start,
                            given)
        return _result(ctx, run_block_method(ctx, settings.method), settings.method,
                       warn_all_zero)
    if model.kind == "ovr":
        methods.check_needs(model.binary, settings.method, METHODS[settings.method])
        if given is not None:
            raise ValueError("coef= is not available for the one-vs-rest models.")
        return ovr_hypergradient(model, criterion, alpha, (design, y), settings,
                                 warm_start, METHODS)
    methods.check_needs(model, settings.method, METHODS[settings.method])
    if model.kind == "dual":
        if given is not None:
            raise ValueError("coef= is not available for the SVM and SVR, whose "
                             "methods run on the dual variables.")
        return dual_hypergradient(model, criterion, alpha, (design, y), settings,
                                  warm_start, METHODS)
    alpha = model.check_alpha(alpha, design.shape[1])
    start = None if warm_start is None else (warm_start.coef, warm_start.intercept)
    ctx = Context(model, model.problem(alpha, design, y), alpha, criterion, settings.tol,
                  settings.stop, settings.max_iter, settings.linear_solver, start,
                  None if warm_start is None else warm_start.jacobian)
    if given is not None:
        ctx = _at_given_point(ctx, settings.method, *given)
    with single_threaded_blas():
        out = METHODS[settings.method](ctx)
    return _result(ctx, out, settings.method, warn_all_zero)


def _result(ctx: Context, out, method: str, warn_all_zero: bool) -> HypergradientResult:
    gradient = out.gradient
    if out.solution.support.size == 0:
        gradient = np.zeros_like(gradient)
        if warn_all_zero:
            warnings.warn(AllZeroWarning(
                f"alpha = {ctx.alpha} gives an all-zero solution (alpha >= alpha_max): "
                "the hypergradient is zero; start from a smaller alpha."), stacklevel=3)
    gradient = float(gradient) if np.ndim(ctx.alpha) == 0 else np.asarray(gradient)
    return HypergradientResult(
        value=float(out.value), gradient=gradient, solution=out.solution, method=method,
        linear_solver=out.linear_solver, note=out.note,
        warm_start=WarmStart(out.solution.coef, out.solution.intercept, out.jacobian),
    )


GRAPHICAL_NAMES = ("graphical_lasso", "glasso")

_REPARAM = ("reparameterization has nothing to fix for Lasso-type models: on an "
            "identified support their optimality map is affine, the restricted "
            "Jacobian is exact and method='polish' makes the hypergradient exact.")
_NEWTON = ("for Lasso-type models the Newton step on the support is method='polish' "
           "(preconditioned estimators apply to 'ridge' and 'l2_logreg').")
NOT_FOR_LASSO = {"reparam_diag": _REPARAM, "reparam_exp": _REPARAM,
                 "reparam_newton": _REPARAM, "newton": _NEWTON, "jacobi": _NEWTON,
                 "preconditioned": _NEWTON}


def _smooth(model, criterion, alpha, X, y, method, coef, preconditioner):
    """Ridge and l2-logistic: the estimators of Ye et al. at ``coef`` (or x*)."""
    model = SmoothModel(model) if isinstance(model, str) else model
    X = check_matrix(X, "X")
    y = check_vector(model.check_target(y), X.shape[0], "y")
    _check_criterion(criterion, X.shape[1])
    problem = model.problem(alpha, X, y)
    if coef is None:
        solved = problem.solve()
        point, n_iter = solved, 1
    else:
        point = np.asarray(coef, dtype=np.float64)
        if point.shape != (X.shape[1],) or not np.all(np.isfinite(point)):
            raise ValueError(f"coef must be finite with shape ({X.shape[1]},), got "
                             f"shape {point.shape}.")
        n_iter = 0
    method = "newton" if method == "auto" else method
    out = smooth.estimate(problem, smooth.CriterionOuter(criterion), point, method,
                          preconditioner)
    kkt = float(np.max(np.abs(problem.gradient(out.point))))
    solution = InnerSolution(out.point, 0.0, np.flatnonzero(out.point), np.nan, kkt,
                             n_iter, 0, coef is None)
    gradient = out.gradient.reshape(np.shape(alpha))
    gradient = float(gradient) if np.ndim(alpha) == 0 else gradient
    return HypergradientResult(float(out.value), gradient, solution, method, None,
                               out.note, WarmStart(out.point, 0.0))


def _graphical(model, criterion, alpha, data, settings, warm_start):
    """The graphical lasso: ``data = (X, y)``, X holds samples in rows and y must be
    None; ``settings = (method, tol, linear_solver)``."""
    (X, y), (method, tol, linear_solver) = data, settings
    if y is not None:
        raise ValueError("the graphical lasso takes samples X only: pass y=None.")
    model = GraphicalLasso() if isinstance(model, str) else model
    S = empirical_covariance(X, "X")
    alpha = model.check_alpha(alpha, S.shape[0])
    _check_criterion(criterion, S.shape[0])
    warm = None if warm_start is None else warm_start.solution.precision
    result = graphical_hypergradient(S, model.penalty_matrix(alpha, S.shape[0]), criterion,
                                     method=method, tol=1e-8 if tol is None else tol,
                                     warm_start=warm, linear_solver=linear_solver)
    return replace(result, gradient=model.pullback(result.gradient, alpha))


def _at_given_point(ctx: Context, method: str, coef, intercept) -> Context:
    if method in ("forward", "backward"):
        raise ValueError(
            f"coef= cannot be used with method={method!r}, which runs its own "
            "iterations; use 'implicit', 'implicit_forward' or 'polish'."
        )
    coef = np.asarray(coef, dtype=np.float64)
    if coef.shape != (ctx.problem.n_features,):
        raise ValueError(
            f"coef must have shape ({ctx.problem.n_features},), got {coef.shape}."
        )
    if not (np.all(np.isfinite(coef)) and np.isfinite(intercept)):
        raise ValueError("coef and intercept must be finite.")
    intercept = float(intercept) if ctx.problem.fit_intercept else 0.0
    return replace(ctx, given=(coef.copy(), intercept))


def _check_criterion(criterion, n_features: int) -> None:
    if not callable(getattr(criterion, "value_and_grad", None)):
        raise TypeError(
            "criterion must have a method value_and_grad(coef, intercept) returning "
            f"(value, grad_coef, grad_intercept); got {type(criterion).__name__}."
        )
    expected = getattr(criterion, "n_features", n_features)
    if expected != n_features:
        raise ValueError(
            f"criterion expects {expected} features but X has {n_features}: "
            "shapes mismatch."
        )
