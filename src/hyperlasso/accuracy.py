"""The error study of Ye et al. (AISTATS 2024): hypergradient error vs inner error.

An inner solver (gradient descent for smooth models, ISTA for Lasso-type ones)
runs from a far start; at iterates spread log-uniformly in their distance to the
exact solution x*, every estimator is compared with the exact hypergradient h*,
and the slope of log(error) against log(distance) tells its order: 1 for plain
implicit differentiation, 2 (or exact) for the Newton-preconditioned one.

Cases reproduce the paper's shapes on generated data (its LIBSVM sets mpg and
liver-disorders cannot be downloaded here): :func:`ridge_case` (392 x 7, one
penalty per feature drawn in [3, 6], outer quadratic on held-out data, linear, or
the inner objective itself), :func:`logistic_case` (145 x 5, held-out logistic
loss), :func:`lasso_case` and :func:`sparse_logistic_case`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hyperlasso.criteria.heldout import HeldOutLogistic, HeldOutMSE
from hyperlasso.hypergradients import hypergradient
from hyperlasso.hypergradients import smooth as sm
from hyperlasso.inner import datafits
from hyperlasso.inner.models import Lasso, SparseLogisticRegression
from hyperlasso.inner.problem import Design

#: Fit ranges of the slopes (relative distance to x*): smooth models, and
#: Lasso-type models after support identification.
SMOOTH_FIT_RANGE = (1e-5, 1e-1)
SPARSE_FIT_RANGE = (1e-8, 1e-2)
#: Errors below this are round-off and left out of the slope fits.
ERROR_FLOOR = 1e-11


@dataclass
class Case:
    """One study problem.

    Attributes
    ----------
    kind : {"smooth", "sparse"}
    problem : SmoothProblem or None
        The smooth inner problem (``kind="smooth"``).
    outer : object or None
        The smooth outer (``value_and_grads(w, problem)``).
    model, criterion, alpha, X, y
        The Lasso-type model, its criterion and data (``kind="sparse"``).
    title : str
    """

    kind: str
    title: str
    problem: sm.SmoothProblem | None = None
    outer: object | None = None
    model: object | None = None
    criterion: object | None = None
    alpha: object | None = None
    X: np.ndarray | None = None
    y: np.ndarray | None = None


@dataclass
class ErrorStudy:
    """Distances, errors and slopes of every estimator over seeds.

    Attributes
    ----------
    title : str
    methods : list of str
    distances : ndarray of shape (n_seeds, n_points)
        |x_t - x*| / |x*| at the evaluated iterates (NaN where none was reached).
    errors : dict of str to ndarray of shape (n_seeds, n_points)
        |h_t - h*| / |h*| of each estimator.
    slopes : dict of str to ndarray of shape (n_seeds,)
        Least-squares slope of log10 error on log10 distance within
        ``fit_range`` (errors below ``ERROR_FLOOR`` dropped; NaN if < 3 points).
    fit_range : tuple of float
    notes : list of str
        What the estimators reported (e.g. a rejected step).
    """

    title: str
    methods: list
    distances: np.ndarray
    errors: dict
    slopes: dict
    fit_range: tuple
    notes: list = field(default_factory=list)

    def max_error(self, method: str) -> float:
        """Largest error of ``method`` over all seeds and points."""
        return float(np.nanmax(self.errors[method]))

    def median_error(self, method: str) -> float:
        """Median error of ``method`` over all seeds and points."""
        return float(np.nanmedian(self.errors[method]))


# ------------------------------------------------------------------------ cases

def ridge_case(seed: int, outer: str = "quadratic", n_samples: int = 392,
               n_features: int = 7) -> Case:
    """Ridge, one penalty per feature in U[3, 6] (the paper's mpg shape).

    ``outer``: "quadratic" (held-out MSE), "linear" (b.x + |alpha|^2) or
    "minmin" (the inner objective itself).
    """
    rng = np.random.default_rng(seed)
    X, y, X_val, y_val = _regression(rng, n_samples, n_features)
    alpha = rng.uniform(3.0, 6.0, n_features) / n_features
    problem = sm.SmoothModel("ridge").problem(alpha, X, y)
    outers = {"quadratic": lambda: sm.CriterionOuter(HeldOutMSE(X_val, y_val)),
              "linear": lambda: sm.LinearOuter(rng.standard_normal(n_features)),
              "minmin": sm.InnerAsOuter}
    if outer not in outers:
        raise ValueError(f"outer must be one of {sorted(outers)}, got {outer!r}.")
    return Case("smooth", f"ridge, {outer} outer", problem=problem,
                outer=outers[outer]())


def logistic_case(seed: int, n_samples: int = 145, n_features: int = 5) -> Case:
    """l2-logistic regression with held-out logistic loss (liver-disorders shape).

    Penalties exp(U[-1, 1]) / 10, one per feature.
    """
    rng = np.random.default_rng(seed)
    X, y, X_val, y_val = _classification(rng, n_samples, n_features)
    alpha = np.exp(rng.uniform(-1.0, 1.0, n_features)) / 10
    problem = sm.SmoothModel("l2_logreg").problem(alpha, X, y)
    return Case("smooth", "l2-logistic, held-out logistic outer", problem=problem,
                outer=sm.CriterionOuter(HeldOutLogistic(X_val, y_val)))


def lasso_case(seed: int, n_samples: int = 100, n_features: int = 40) -> Case:
    """Lasso without intercept at alpha_max / 5, held-out MSE."""
    rng = np.random.default_rng(seed)
    X, y, X_val, y_val = _regression(rng, n_samples, n_features)
    model = Lasso(fit_intercept=False)
    alpha = float(np.max(np.abs(X.T @ y)) / n_samples) / 5
    return Case("sparse", "Lasso, held-out MSE", model=model,
                criterion=HeldOutMSE(X_val, y_val), alpha=alpha, X=X, y=y)


def sparse_logistic_case(seed: int, n_samples: int = 145, n_features: int = 20) -> Case:
    """L1 logistic regression without intercept at alpha_max / 4, held-out logistic."""
    rng = np.random.default_rng(seed)
    X, y, X_val, y_val = _classification(rng, n_samples, n_features)
    model = SparseLogisticRegression(fit_intercept=False)
    alpha = float(np.max(np.abs(X.T @ y)) / (2 * n_samples)) / 4
    return Case("sparse", "sparse logistic, held-out logistic", model=model,
                criterion=HeldOutLogistic(X_val, y_val), alpha=alpha, X=X, y=y)


def _design_matrix(rng, n, p):
    """Correlated columns (Toeplitz 0.8) with scales spread over a decade, like
    raw regression features: the slow mode of gradient descent dominates early,
    so the iterates approach x* along one direction and the slopes are clean."""
    correlation = 0.8 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(correlation).T
    return X * np.geomspace(1.0, 10.0, p)


def _regression(rng, n, p):
    coef = rng.standard_normal(p)
    coef[p // 2:] = 0.0 if p > 10 else coef[p // 2:]
    X = _design_matrix(rng, 2 * n, p)
    y = X @ coef + 0.5 * rng.standard_normal(2 * n)
    return X[:n], y[:n], X[n:], y[n:]


def _classification(rng, n, p):
    coef = rng.standard_normal(p)
    X = _design_matrix(rng, 2 * n, p)
    y = np.where(X @ coef + 0.5 * rng.standard_normal(2 * n) > 0, 1.0, -1.0)
    return X[:n], y[:n], X[n:], y[n:]


# ------------------------------------------------------------------------ study

SMOOTH_STUDY_METHODS = ("implicit", "newton", "jacobi", "reparam_diag", "reparam_exp")
SPARSE_STUDY_METHODS = ("implicit", "polish")


def error_study(make_case: Callable[[int], Case], methods=None, seeds=(0, 1, 2),
                n_points: int = 30, max_iter: int = 200_000,
                start_distance: float = 1000.0) -> ErrorStudy:
    """Run the inner solver from a far start and evaluate every estimator.

    Parameters
    ----------
    make_case : callable
        ``seed -> Case`` (e.g. ``ridge_case`` or ``functools.partial`` of it).
    methods : sequence, optional
        Method names, or ``(name, function(problem, outer, w) -> Estimate)`` pairs
        for a custom smooth estimator. Default: every applicable method.
    seeds : sequence of int
        One case and one random start per seed.
    n_points : int, default=30
        Iterates kept, at relative distances log-spaced from 1 down to the end of
        the fit range / 10.
    max_iter : int, default=200000
        Inner iterations at most.
    start_distance : float, default=1000.0
        Relative distance of the start point to x*: from far away, gradient
        descent has aligned with its slowest mode before the fit range, where
        the error is then a clean power of the distance (from 10, the Jacobi
        slope on ridge was 1.14 for one seed, 1.00 from 1000).

    Returns
    -------
    ErrorStudy
    """
    rows, notes, title, fit_range, names = [], [], "", None, None
    for seed in seeds:
        case = make_case(seed)
        title = case.title
        run = _smooth_run if case.kind == "smooth" else _sparse_run
        fit_range = SMOOTH_FIT_RANGE if case.kind == "smooth" else SPARSE_FIT_RANGE
        chosen = methods if methods is not None else _default_methods(case)
        names = [m if isinstance(m, str) else m[0] for m in chosen]
        targets = np.geomspace(1.0, fit_range[0] / 10, n_points)
        distances, errors, seed_notes = run(case, chosen, targets, seed, max_iter,
                                            start_distance)
        rows.append((distances, errors))
        notes += seed_notes
    distances = np.array([r[0] for r in rows])
    errors = {name: np.array([r[1][name] for r in rows]) for name in names}
    slopes = {name: np.array([fitted_slope(d, e, fit_range)
                              for d, e in zip(distances, errors[name], strict=True)])
              for name in names}
    return ErrorStudy(title, names, distances, errors, slopes, fit_range, notes)


def fitted_slope(distances, errors, fit_range) -> float:
    """Least-squares slope of log10(error) on log10(distance) within ``fit_range``."""
    distances, errors = np.asarray(distances), np.asarray(errors)
    keep = ((distances >= fit_range[0]) & (distances <= fit_range[1])
            & (errors > ERROR_FLOOR) & np.isfinite(errors))
    if np.count_nonzero(keep) < 3:
        return np.nan
    return float(np.polyfit(np.log10(distances[keep]), np.log10(errors[keep]), 1)[0])


def _default_methods(case: Case):
    if case.kind == "sparse":
        return SPARSE_STUDY_METHODS
    extra = ("reparam_newton",) if case.problem.name == "ridge" else ()
    return SMOOTH_STUDY_METHODS + extra


def _far_start(rng, exact, start_distance):
    direction = rng.standard_normal(exact.shape)
    scale = start_distance * max(np.linalg.norm(exact), 1e-12)
    return exact + scale * direction / np.linalg.norm(direction)


def _smooth_run(case, methods, targets, seed, max_iter, start_distance):
    problem, outer = case.problem, case.outer
    exact = problem.solve()
    reference = sm.plain(problem, outer, exact).gradient
    # 1 / L: the ridge Hessian is constant, the logistic one largest at z = 0.
    widest = exact if problem.name == "ridge" else np.zeros_like(exact)
    step = 1.0 / np.linalg.eigvalsh(problem.hessian(widest)).max()
    rng = np.random.default_rng(1000 + seed)
    iterates = _descend(lambda w: w - step * problem.gradient(w),
                        _far_start(rng, exact, start_distance), exact, targets, max_iter)

    def evaluate(method, w):
        if isinstance(method, str):
            return sm.estimate(problem, outer, w, method)
        return method[1](problem, outer, w)

    return _evaluate(iterates, exact, reference, methods, evaluate, targets)


def _sparse_run(case, methods, targets, seed, max_iter, start_distance):
    def estimator(method, w, tol=1e-8):
        return hypergradient(case.model, case.criterion, case.alpha, case.X, case.y,
                             method=method, tol=tol, coef=w)

    exact = hypergradient(case.model, case.criterion, case.alpha, case.X, case.y,
                          method="implicit", tol=1e-13, stop="kkt").solution.coef
    reference = np.atleast_1d(estimator("polish", exact).gradient)
    problem = case.model.problem(case.model.check_alpha(case.alpha, case.X.shape[1]),
                                 _design(case), case.model.check_target(case.y))
    factor = problem.datafit.lipschitz_factor
    step = case.X.shape[0] / (factor * np.linalg.norm(case.X, 2) ** 2)
    signs = np.sign(exact)
    rng = np.random.default_rng(1000 + seed)
    iterates = _descend(lambda w: _ista_step(problem, w, step),
                        _far_start(rng, exact, start_distance), exact, targets, max_iter,
                        accept=lambda w: np.array_equal(np.sign(w), signs))

    def evaluate(method, w):
        out = estimator(method, w)
        return sm.Estimate(out.value, np.atleast_1d(out.gradient), w, out.note)

    return _evaluate(iterates, exact, reference, methods, evaluate, targets)


def _design(case):
    return Design.of(case.X, case.model.fit_intercept)


def _ista_step(problem, w, step):
    state = problem.datafit_state(w, 0.0)
    grad = problem.design.rmatvec(datafits.raw_grad(problem.kernel_datafit, state))
    return problem.penalty.prox(w - step * grad, step)


def _descend(update, start, exact, targets, max_iter, accept=None):
    """Iterates of ``update`` at the first time their relative distance falls below
    each target (None where the target is not reached, or not ``accept``-ed)."""
    norm = max(np.linalg.norm(exact), 1e-300)
    kept, w, k = [None] * len(targets), start, 0
    for _ in range(max_iter):
        distance = np.linalg.norm(w - exact) / norm
        first = True  # an iterate is kept once, for the first target it meets
        while k < len(targets) and distance <= targets[k]:
            if first and (accept is None or accept(w)):
                kept[k] = w.copy()
            first = False
            k += 1
        if k == len(targets):
            break
        w = update(w)
    return kept


def _evaluate(iterates, exact, reference, methods, evaluate, targets):
    norm_x = max(np.linalg.norm(exact), 1e-300)
    norm_h = max(np.linalg.norm(reference), 1e-300)
    names = [m if isinstance(m, str) else m[0] for m in methods]
    distances = np.full(len(targets), np.nan)
    errors = {name: np.full(len(targets), np.nan) for name in names}
    notes = []
    for k, w in enumerate(iterates):
        if w is None:
            continue
        distances[k] = np.linalg.norm(w - exact) / norm_x
        for name, method in zip(names, methods, strict=True):
            out = evaluate(method, w)
            errors[name][k] = np.linalg.norm(np.ravel(out.gradient) - reference) / norm_h
            if out.note:
                notes.append(f"{name} at distance {distances[k]:.1e}: {out.note}")
    return distances, errors, notes
