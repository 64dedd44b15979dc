"""The hypergradient methods, each a function of one ``Context``.

Every method returns a ``MethodOutput``: the inner solution it ends at, the
gradient in (lam, l2) or directly in alpha, and what it wants to hand to the next
outer step. The public entry point (``api.hypergradient``) turns that into a
``HypergradientResult``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from hyperlasso.hypergradients import _kernels
from hyperlasso.hypergradients.linear import choose_linear_solver, factorize
from hyperlasso.hypergradients.restricted import RestrictedSystem
from hyperlasso.inner.convergence import inner_convergence_warning_class, warn_convergence
from hyperlasso.inner.models import Model
from hyperlasso.inner.problem import InnerProblem
from hyperlasso.inner.solver import InnerSolution, solve

#: Epochs between two stopping checks of forward and backward differentiation.
CHECK_EVERY = 10
#: Cap on the epochs of forward and backward differentiation (plain CD, no
#: working set: they are reference methods, not the fast path).
MAX_EPOCHS = 50_000
#: Jacobian sweeps stop when the largest change in an epoch is below this times
#: max|J|. Gauss-Seidel converges linearly, so the error is about the change
#: divided by (1 - rate): 1e-12 keeps it below 1e-9 for rates up to 0.999.
JACOBIAN_RTOL = 1e-12
#: Largest Jacobian (entries) forward differentiation may carry.
MAX_FORWARD_ENTRIES = 50_000_000
#: Relative slack of the off-support optimality check after the Newton step.
POLISH_SLACK = 1e-8
#: A rejected polish (the solver's support is not yet the solution's) re-solves
#: the inner problem, warm-started, to this fraction of the last tolerance until
#: the polish is accepted or the tolerance reaches ``RESOLVE_FLOOR``. Falling
#: back to implicit differentiation at the loose point instead gave a gradient
#: 1.3 % off (ElasticNet on a 500 x 5000 correlated design at alpha_max / 100 and
#: tol 1e-8: a spurious coefficient of 1e-9 whose sign the Newton step flipped).
RESOLVE_FACTOR = 1e-3
RESOLVE_FLOOR = 1e-14


def needs(*names: str):
    """Declare what a method needs of a model (its functions), for ``check_needs``."""
    def declare(function):
        function.needs = names
        return function
    return declare


def check_needs(model, method: str, function) -> None:
    """Raise a ValueError naming what ``method`` (``function``) needs of ``model``
    and the model does not provide; checked once, before any work."""
    missing = [name for name in getattr(function, "needs", ())
               if not callable(getattr(model, name, None))]
    if missing:
        raise ValueError(f"method={method!r} needs the model to provide "
                         f"{', '.join(missing)}; {type(model).__name__} does not. Use "
                         "another method, or give the model these functions.")


@dataclass(frozen=True)
class JacobianState:
    """dw/dalpha on a support, kept across outer steps to warm-start sweeps."""

    support: np.ndarray
    directions: np.ndarray
    jacobian: np.ndarray
    jacobian_intercept: np.ndarray


@dataclass(frozen=True)
class Context:
    """Everything a method needs; built once per call by the entry point."""

    model: Model
    problem: InnerProblem
    alpha: np.ndarray
    criterion: object
    tol: float
    stop: str
    max_iter: int
    linear_solver: str
    start: tuple[np.ndarray, float] | None
    jacobian: JacobianState | None
    given: tuple[np.ndarray, float] | None = None


@dataclass(frozen=True)
class MethodOutput:
    """What a method returns: solution, gradient in alpha, and what it used."""

    solution: InnerSolution
    value: float
    gradient: np.ndarray
    linear_solver: str | None = None
    jacobian: JacobianState | None = None
    note: str = ""


def criterion_on_support(criterion, coef: np.ndarray, intercept: float,
                         support: np.ndarray):
    """The criterion and its gradient, exact on ``support`` (where it is used).

    Criteria with ``value_and_grad_on(coef, intercept, support)`` (the held-out
    ones) skip the columns off the support, a full pass over the validation
    design; any other criterion is asked for its full gradient.
    """
    restricted = getattr(criterion, "value_and_grad_on", None)
    if restricted is not None:
        return restricted(coef, intercept, support)
    return criterion.value_and_grad(coef, intercept)


def _inner_solution(ctx: Context) -> InnerSolution:
    """Solve the inner problem, or take the point the user gave (``coef=``)."""
    if ctx.given is None:
        return solve(ctx.problem, tol=ctx.tol, stop=ctx.stop, max_iter=ctx.max_iter,
                     warm_start=ctx.start)
    coef, intercept = ctx.given
    opt = ctx.problem.optimality_at(coef, intercept)
    converged = (opt.gap if ctx.stop == "gap" else opt.kkt) <= ctx.tol
    return InnerSolution(coef, intercept, np.flatnonzero(coef), opt.gap, opt.kkt,
                         0, 0, converged)


def _adjoint_gradient(ctx, system: RestrictedSystem, solver) -> tuple[float, np.ndarray]:
    """Criterion value and its gradient in alpha by one adjoint solve."""
    value, grad_coef, grad_intercept = criterion_on_support(
        ctx.criterion, system.coef, system.intercept, system.support)
    adjoint = solver(system.restrict(grad_coef, grad_intercept))
    g_lam, g_l2 = system.pullback(adjoint)
    return value, ctx.model.pullback(g_lam, g_l2, ctx.alpha)


@needs("pullback")
def implicit(ctx: Context) -> MethodOutput:
    """Implicit differentiation: one adjoint solve H v = r on the support."""
    solution = _inner_solution(ctx)
    return _implicit_at(ctx, solution)


def _implicit_at(ctx: Context, solution: InnerSolution, note: str = "") -> MethodOutput:
    system = RestrictedSystem.at(ctx.problem, solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(ctx.linear_solver, system.size)
    value, gradient = _adjoint_gradient(ctx, system, factorize(system, linear_solver))
    return MethodOutput(solution, value, gradient, linear_solver, note=note)


@needs("pullback")
def polish(ctx: Context) -> MethodOutput:
    """One Newton step on the identified support, then implicit differentiation.

    For quadratic datafits the restricted problem is quadratic once the signs are
    fixed, so the step lands on the exact solution and the hypergradient is exact
    (the factorization is reused). For the logistic loss H is re-evaluated at the
    new point (reusing the old H would keep the error linear) and the error is
    quadratic in the inner error. The step is accepted only if the signs are kept
    and the off-support optimality conditions still hold; else the inner problem
    is solved tighter and the step tried again (``polish_until_accepted``).
    """
    return polish_until_accepted(ctx, _inner_solution(ctx),
                                 lambda s, last: _polish_at(ctx, s, last))


def _polish_at(ctx: Context, solution: InnerSolution, last: bool) -> MethodOutput | None:
    """Polish from ``solution``; if the step is rejected, None, or implicit
    differentiation at ``solution`` when this is the ``last`` attempt."""
    step = _newton_step(ctx.problem, solution, ctx.linear_solver)
    if step.reason:
        singular = is_rank_deficient(step.system)
        if not (last or singular):
            return None
        value, gradient = _adjoint_gradient(ctx, step.system, step.solver)
        why = "; more unknowns than samples, not re-solved" if singular else ""
        return MethodOutput(solution, value, gradient, step.linear_solver,
                            note=f"polish rejected ({step.reason}{why}); implicit")
    solver = step.solver
    if not ctx.problem.datafit.constant_hessian:  # the Hessian moved with the point
        solver = factorize(step.new_system, step.linear_solver)
    value, gradient = _adjoint_gradient(ctx, step.new_system, solver)
    return MethodOutput(step.polished, value, gradient, step.linear_solver)


def is_rank_deficient(system: RestrictedSystem) -> bool:
    """Whether H is singular by its shape: no curvature from the penalty and more
    unknowns than the datafit's rows (the SVR's dual at a degenerate point, a
    Lasso with more support features than samples). A tighter solve does not
    make the Newton step unique there, and re-solving the SVR's dual to 1e-14
    took minutes; polish then falls back at once."""
    curvature = np.asarray(system.problem.penalty.support_curvature(
        system.coef[system.support]))
    return bool(np.all(curvature == 0) and system.size > system.problem.n_samples)


@dataclass(frozen=True)
class NewtonStep:
    """One Newton step on a solution's support: the systems before and after, the
    factorization, the polished solution, and why it is refused ("" if not)."""

    system: RestrictedSystem
    new_system: RestrictedSystem
    solver: object
    linear_solver: str
    polished: InnerSolution
    reason: str


def _newton_step(problem: InnerProblem, solution: InnerSolution,
                 linear_solver: str) -> NewtonStep:
    system = RestrictedSystem.at(problem, solution.coef, solution.intercept)
    linear_solver = choose_linear_solver(linear_solver, system.size)
    solver = factorize(system, linear_solver)
    coef, intercept = system.moved(solver(system.optimality_map()))
    new_system = system.at_point(coef, intercept)
    opt = problem.optimality_at(coef, intercept, new_system.state)
    polished = replace(solution, coef=coef, intercept=float(intercept), gap=opt.gap,
                       kkt=opt.kkt)
    return NewtonStep(system, new_system, solver, linear_solver, polished,
                      _polish_rejection(problem, system, coef, intercept, opt))


def polished(problem: InnerProblem, solution: InnerSolution) -> InnerSolution:
    """``solution`` after a Newton step on its support (exact for a quadratic
    datafit once the support is identified), or ``solution`` itself if the step
    is refused (``_polish_rejection``) or the support is empty."""
    if solution.support.size == 0:
        return solution
    step = _newton_step(problem, solution, "auto")
    return solution if step.reason else step.polished


def polish_until_accepted(ctx: Context, solution, attempt) -> MethodOutput:
    """``attempt(solution, last) -> output``, with the inner problem re-solved
    (warm-started, ``RESOLVE_FACTOR`` times the last tolerance) while the polish is
    rejected and the tolerance is above ``RESOLVE_FLOOR``; not when the user gave
    the inner point (``coef=``). ``attempt`` returns None for a rejected step
    unless ``last`` (then implicit differentiation at ``solution``), so that no
    gradient is computed at a point about to be re-solved. The note says to which
    tolerance it re-solved."""
    tol, note = ctx.tol, ""
    while True:
        last = ctx.given is not None or tol <= RESOLVE_FLOOR
        output = attempt(solution, last)
        if output is not None:
            return replace(output, note="; ".join(filter(None, [output.note, note])))
        tol = max(tol * RESOLVE_FACTOR, RESOLVE_FLOOR)
        with warnings.catch_warnings():  # the last point is the best there is
            warnings.simplefilter("ignore", inner_convergence_warning_class())
            solution = solve(ctx.problem, tol=tol, stop=ctx.stop, max_iter=ctx.max_iter,
                             warm_start=(solution.coef, solution.intercept))
        note = f"re-solved to tol {tol:.0e} for polish"


def _polish_rejection(problem, system, coef, intercept, opt) -> str:
    """Why the Newton step must be refused ("" if it is accepted)."""
    if not np.all(np.isfinite(coef)) or not np.isfinite(intercept):
        return "non-finite Newton step"
    if np.any(np.sign(coef[system.support]) != system.signs):
        return "a sign changed"
    if not np.array_equal(problem.penalty.generalized_support(coef), system.support):
        return "a coordinate left the generalized support"
    off = np.ones(problem.n_features, dtype=bool)
    off[system.support] = False
    if np.any(opt.violations[off] > POLISH_SLACK * problem.violation_scale()[off]):
        return "off-support optimality violated"
    return ""


@needs("directions_on")
def implicit_forward(ctx: Context) -> MethodOutput:
    """Implicit forward (Bertrand et al. 2020): Gauss-Seidel sweeps of the Jacobian.

    The support is frozen at the inner solution; only the directions of alpha
    that touch it are carried (|S| of them for the weighted Lasso), warm-started
    from the previous outer step's Jacobian where supports overlap.
    """
    solution = _inner_solution(ctx)
    problem, support = ctx.problem, solution.support
    active, dlam_S, dl2_active = ctx.model.directions_on(ctx.alpha, problem.n_features,
                                                         support)
    value, grad_coef, grad_intercept = criterion_on_support(
        ctx.criterion, solution.coef, solution.intercept, support)
    if active.size == 0:  # empty support: nothing moves with alpha
        return MethodOutput(solution, value, np.zeros(np.shape(ctx.alpha)))
    J, Jb = _warm_jacobian(ctx.jacobian, support, active, problem.fit_intercept)
    z = problem.datafit_state(solution.coef,
                              problem.internal_intercept(solution.coef, solution.intercept))
    ZJ = np.asarray(problem.design.columns(support) @ J).reshape(len(z), active.size)
    ZJ = np.ascontiguousarray(ZJ + Jb[None, :])
    epochs = _kernels.implicit_forward_sweeps(
        problem.design.kernel_view, problem.kernel_datafit, problem.kernel_penalty,
        (support, z, solution.coef),
        (np.ascontiguousarray(dlam_S), np.ascontiguousarray(dl2_active)),
        (J, Jb, ZJ), problem.fit_intercept, (JACOBIAN_RTOL, MAX_EPOCHS),
    )
    if epochs >= MAX_EPOCHS:
        _warn_capped("implicit forward sweeps")
    gradient = np.zeros(np.size(ctx.alpha))
    grad_coef = problem.internal_gradient(grad_coef, grad_intercept)
    gradient[active] = J.T @ grad_coef[support] + grad_intercept * Jb
    state = JacobianState(support, active, J, Jb)
    return MethodOutput(solution, value, gradient.reshape(np.shape(ctx.alpha)),
                        jacobian=state)


def _warm_jacobian(state, support, active, fit_intercept):
    J = np.zeros((support.size, active.size))
    Jb = np.zeros(active.size)
    if state is None:
        return J, Jb
    rows = np.isin(support, state.support)
    cols = np.isin(active, state.directions)
    old_rows = np.searchsorted(state.support, support[rows])
    old_cols = np.searchsorted(state.directions, active[cols])
    J[np.ix_(rows, cols)] = state.jacobian[np.ix_(old_rows, old_cols)]
    if fit_intercept:
        Jb[cols] = state.jacobian_intercept[old_cols]
    return J, Jb


def _warn_capped(what: str) -> None:
    warn_convergence(f"{what} reached {MAX_EPOCHS} epochs before converging; the "
                     "hypergradient may be inaccurate.", stacklevel=3)
