"""Smooth inner models and hypergradient estimators at an approximate solution.

Ye, Peyre, Cremers and Ablin (AISTATS 2024) study the hypergradient
h = grad_a L + J^T grad_x L, J = -F1^{-1} F2, evaluated at an approximate inner
solution x_t instead of x*. With F the inner gradient, F1 its Jacobian in x (the
Hessian) and F2 its Jacobian in the hyperparameters a:

- ``implicit`` (plain IFT) evaluates everything at x_t: error linear in |x_t - x*|;
- ``newton`` moves to x_hat = x_t - F1(x_t)^{-1} F(x_t) and re-evaluates F1, F2
  and grad L there: exact for ridge, quadratic in the inner error otherwise
  (reusing F1(x_t) at x_hat, a tempting shortcut, keeps the error linear);
- ``jacobi`` does the same with diag(F1(x_t)), ``preconditioned`` with a matrix
  the user gives: linear error, smaller constant;
- ``reparam_*`` apply the IFT to G(phi(z, a), a) at z_t = phi^{-1}(x_t, a). In
  closed form J_phi = -(F1 + R1)^{-1} (F2 + R2) where R1, R2 vanish at x*:
  ``reparam_diag`` (x = D(a)^{-1} z, D = diag F1 at x_t): R1 = 0,
  R2 = -diag(F / D) dD/da; ``reparam_exp`` (x = sign(x_t) exp(z)):
  R1 = diag(F / x), R2 = 0; ``reparam_newton`` (ridge only, x = F1(a)^{-1}
  F(z, a_t) + x_t): R1 = 0, R2 = -diag(F1^{-1} F) dD/da.

Models, with one penalty per feature or one for all (``alpha_vector = E alpha``,
E the identity or a column of ones), no intercept:
``"ridge"``: ||y - Xw||^2 / (2n) + (1/2) sum_j alpha_j w_j^2;
``"l2_logreg"``: (1/n) sum_i log(1 + exp(-y_i x_i.w)) + (1/2) sum_j alpha_j w_j^2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from hyperlasso.inner.models import binary_labels

SMOOTH_MODELS = ("ridge", "l2_logreg")

#: Inner gradient norm (relative to the gradient at w = 0) of the exact solve.
EXACT_RTOL = 1e-14


@dataclass(frozen=True)
class SmoothModel:
    """A smooth inner model: ``"ridge"`` or ``"l2_logreg"`` (no intercept)."""

    name: str = "ridge"
    #: The stack of ``hypergradient`` that serves it.
    kind = "smooth"

    def __post_init__(self):
        if self.name not in SMOOTH_MODELS:
            raise ValueError(f"smooth model must be one of {SMOOTH_MODELS}, "
                             f"got {self.name!r}.")

    def check_target(self, y):
        """y as float; in {-1, 1} for the logistic model."""
        if self.name == "l2_logreg":
            return binary_labels(y, "y")
        return y

    def problem(self, alpha, X, y) -> SmoothProblem:
        """The inner problem at ``alpha`` (a positive float or shape (n_features,))."""
        p = X.shape[1]
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.ndim == 0:
            expansion = np.ones((p, 1))
        elif alpha.shape == (p,):
            expansion = np.eye(p)
        else:
            raise ValueError(f"alpha must be a float or have shape ({p},) for the "
                             f"{self.name} model, got shape {alpha.shape}.")
        if not (np.all(np.isfinite(alpha)) and np.all(alpha > 0)):
            raise ValueError(f"alpha must be positive and finite, got {alpha}.")
        return SmoothProblem(X, y, self.name, expansion @ np.atleast_1d(alpha), expansion)


@dataclass(frozen=True, eq=False)
class SmoothProblem:
    """G(w) = datafit(Xw) + (1/2) sum_j penalty_j w_j^2 and its derivatives.

    Attributes
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    name : {"ridge", "l2_logreg"}
    penalty : ndarray of shape (n_features,)
        The l2 weight of each feature, ``expansion @ alpha``.
    expansion : ndarray of shape (n_features, n_hyperparameters)
        d penalty / d alpha.
    """

    X: object
    y: np.ndarray
    name: str
    penalty: np.ndarray
    expansion: np.ndarray

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    def _raw(self, w):
        """(derivative, curvature) of the datafit in z = Xw, both divided by n."""
        z = np.asarray(self.X @ w).ravel()
        n = self.n_samples
        if self.name == "ridge":
            return (z - self.y) / n, np.full(n, 1.0 / n)
        margin = self.y * z
        sig_neg = np.exp(-np.logaddexp(0.0, margin))  # sigmoid(-margin)
        return -self.y * sig_neg / n, sig_neg * (1.0 - sig_neg) / n

    def objective(self, w: np.ndarray) -> float:
        """G(w)."""
        z = np.asarray(self.X @ w).ravel()
        if self.name == "ridge":
            fit = 0.5 * np.mean((self.y - z) ** 2)
        else:
            fit = np.mean(np.logaddexp(0.0, -self.y * z))
        return float(fit + 0.5 * np.dot(self.penalty, w * w))

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """F(w) = grad_w G, shape (n_features,)."""
        raw, _ = self._raw(w)
        return np.asarray(self.X.T @ raw).ravel() + self.penalty * w

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """F1(w) = X^T diag(c) X + diag(penalty), dense (n_features, n_features)."""
        _, curvature = self._raw(w)
        if sp.issparse(self.X):
            gram = (self.X.T @ self.X.multiply(curvature[:, None])).toarray()
        else:
            gram = self.X.T @ (curvature[:, None] * self.X)
        return gram + np.diag(self.penalty)

    def cross(self, w: np.ndarray) -> np.ndarray:
        """F2(w) = dF/dalpha = diag(w) E, shape (n_features, n_hyperparameters)."""
        return w[:, None] * self.expansion

    def solve(self, start: np.ndarray | None = None, max_iter: int = 100) -> np.ndarray:
        """The exact minimizer (Newton with backtracking; one solve for ridge)."""
        w = np.zeros(self.X.shape[1]) if start is None else np.array(start, dtype=float)
        scale = max(np.linalg.norm(self.gradient(np.zeros_like(w))), 1e-300)
        for _ in range(max_iter):
            grad = self.gradient(w)
            if np.linalg.norm(grad) <= EXACT_RTOL * scale:
                break
            step = scipy.linalg.solve(self.hessian(w), grad, assume_a="pos")
            moved = self._backtrack(w, step, grad)
            if moved is w:  # no progress possible at this precision
                break
            w = moved
        return w

    def _backtrack(self, w, step, grad):
        """Armijo backtracking; near x*, where objective differences are below
        round-off, a step that shrinks the gradient is taken instead."""
        value, t, norm = self.objective(w), 1.0, np.linalg.norm(grad)
        for _ in range(50):
            candidate = w - t * step
            if (self.objective(candidate) <= value - 0.25 * t * np.dot(grad, step)
                    or np.linalg.norm(self.gradient(candidate)) < 0.5 * norm):
                return candidate
            t *= 0.5
        return w


# ----------------------------------------------------------------------- outers

class CriterionOuter:
    """A foundation criterion (``value_and_grad(coef, intercept)``) as an outer L(x).

    It does not depend on alpha: grad_alpha L = 0.
    """

    def __init__(self, criterion):
        self.criterion = criterion

    def value_and_grads(self, w, problem: SmoothProblem):
        """(L, grad_x L, grad_penalty L of shape (n_features,))."""
        value, grad_w, _ = self.criterion.value_and_grad(w, 0.0)
        return float(value), np.asarray(grad_w, dtype=float), np.zeros_like(w)


class LinearOuter:
    """L(x, alpha) = b.x + ||penalty||^2 (the paper's linear outer)."""

    def __init__(self, b: np.ndarray):
        self.b = np.asarray(b, dtype=float)

    def value_and_grads(self, w, problem: SmoothProblem):
        """(L, grad_x L, grad_penalty L)."""
        pen = problem.penalty
        return float(self.b @ w + pen @ pen), self.b.copy(), 2.0 * pen


class InnerAsOuter:
    """L = G (the min-min case): the plain IFT is already quadratic there."""

    def value_and_grads(self, w, problem: SmoothProblem):
        """(G, F, dG/dpenalty = w^2 / 2)."""
        return problem.objective(w), problem.gradient(w), 0.5 * w * w


# ------------------------------------------------------------------- estimators

@dataclass(frozen=True)
class Estimate:
    """An estimate of dL/dalpha, where it was evaluated and what was decided."""

    value: float
    gradient: np.ndarray
    point: np.ndarray
    note: str = ""


def plain(problem: SmoothProblem, outer, w: np.ndarray) -> Estimate:
    """Plain IFT at w: grad_a L - F2^T F1^{-1} grad_x L, everything at w."""
    value, grad_x, grad_pen = outer.value_and_grads(w, problem)
    adjoint = scipy.linalg.solve(problem.hessian(w), grad_x, assume_a="pos")
    gradient = problem.expansion.T @ (grad_pen - w * adjoint)
    return Estimate(value, gradient, w)


def preconditioned(problem, outer, w, step: Callable, name: str) -> Estimate:
    """Plain IFT at x_hat = w - step(F(w)), with the safeguard.

    ``step`` maps the inner gradient to the displacement (F1^{-1} F for Newton).
    If x_hat has a larger inner gradient than w, plain IFT at w is returned and
    the note says so.
    """
    grad = problem.gradient(w)
    moved = w - step(grad)
    if not np.all(np.isfinite(moved)) or (
            np.linalg.norm(problem.gradient(moved)) > np.linalg.norm(grad)):
        estimate = plain(problem, outer, w)
        return Estimate(estimate.value, estimate.gradient, w,
                        f"{name} step rejected (the inner gradient grew); implicit")
    return plain(problem, outer, moved)


def newton(problem, outer, w) -> Estimate:
    """Newton-preconditioned IFT: F1, F2 and grad L re-evaluated at x_hat."""
    hessian = problem.hessian(w)
    return preconditioned(
        problem, outer, w,
        lambda grad: scipy.linalg.solve(hessian, grad, assume_a="pos"), "newton")


def jacobi(problem, outer, w) -> Estimate:
    """Jacobi-preconditioned IFT: the step uses diag(F1(w))."""
    diagonal = np.diag(problem.hessian(w))
    return preconditioned(problem, outer, w, lambda grad: grad / diagonal, "jacobi")


def user_preconditioned(problem, outer, w, preconditioner) -> Estimate:
    """IFT at w - P^{-1} F(w), P given: shape (p,) (diagonal), (p, p), or a
    function of w returning either."""
    P = preconditioner(w) if callable(preconditioner) else preconditioner
    P = np.asarray(P, dtype=float)
    p = w.shape[0]
    if P.shape == (p,):
        if not np.all(P > 0):
            raise ValueError("a diagonal preconditioner must be positive.")
        return preconditioned(problem, outer, w, lambda grad: grad / P, "preconditioned")
    if P.shape != (p, p):
        raise ValueError(f"preconditioner must have shape ({p},) or ({p}, {p}), "
                         f"got {P.shape}.")
    return preconditioned(problem, outer, w, lambda grad: np.linalg.solve(P, grad),
                          "preconditioned")


def reparameterized(problem, outer, w, R1: np.ndarray | None,
                    R2_diagonal: np.ndarray | None,
                    hessian: np.ndarray | None = None) -> Estimate:
    """IFT with the reparameterization terms: J = -(F1 + R1)^{-1} (F2 + R2).

    ``R1`` is (p, p) or None (zero); R2 = diag(R2_diagonal) E (None: zero), the
    form every map here has. ``hessian`` is F1(w) if the caller has it.
    """
    value, grad_x, grad_pen = outer.value_and_grads(w, problem)
    F1 = problem.hessian(w) if hessian is None else hessian
    if R1 is not None:
        F1 = F1 + R1
    adjoint = scipy.linalg.solve(F1, grad_x)
    effective = w if R2_diagonal is None else w + R2_diagonal
    return Estimate(value, problem.expansion.T @ (grad_pen - effective * adjoint), w)


def reparam_diag(problem, outer, w) -> Estimate:
    """x = D(a)^{-1} z, D = diag F1(x_t; a): R2 = -diag(F / D) dD/da."""
    hessian = problem.hessian(w)
    return reparameterized(problem, outer, w, None,
                           -problem.gradient(w) / np.diag(hessian), hessian)


def reparam_exp(problem, outer, w) -> Estimate:
    """x = sign(x_t) exp(z): R1 = diag(F / x); every coordinate must be non-zero."""
    zero = np.flatnonzero(w == 0)
    if zero.size:
        raise ValueError(
            f"reparam_exp maps x = sign(x) exp(z), which cannot reach x = 0: coef is "
            f"zero at {zero.size} coordinate(s) (first: {zero[0]}). Use 'newton' or "
            "'reparam_diag'.")
    return reparameterized(problem, outer, w, np.diag(problem.gradient(w) / w), None)


def reparam_newton(problem, outer, w) -> Estimate:
    """x = F1(a)^{-1} F(z, a_t) + x_t (ridge): R2 = -diag(F1^{-1} F) dD/da."""
    if problem.name != "ridge":
        raise ValueError("reparam_newton needs a quadratic inner problem (model "
                         f"'ridge'), got {problem.name!r}: use 'newton'.")
    hessian = problem.hessian(w)
    step = scipy.linalg.solve(hessian, problem.gradient(w), assume_a="pos")
    return reparameterized(problem, outer, w, None, -step, hessian)


SMOOTH_METHODS = {
    "implicit": plain,
    "newton": newton,
    "jacobi": jacobi,
    "reparam_diag": reparam_diag,
    "reparam_exp": reparam_exp,
    "reparam_newton": reparam_newton,
}


def estimate(problem: SmoothProblem, outer, w: np.ndarray, method: str,
             preconditioner=None) -> Estimate:
    """The estimator ``method`` at w (see the module docstring)."""
    if method == "preconditioned":
        if preconditioner is None:
            raise ValueError("method='preconditioned' needs preconditioner= (shape (p,), "
                             "(p, p) or a function of coef).")
        return user_preconditioned(problem, outer, w, preconditioner)
    if preconditioner is not None:
        raise ValueError(f"preconditioner= is used by method='preconditioned' only, "
                         f"not {method!r}.")
    if method not in SMOOTH_METHODS:
        raise ValueError(f"method must be 'auto', 'preconditioned' or one of "
                         f"{sorted(SMOOTH_METHODS)} for smooth models, got {method!r}.")
    return SMOOTH_METHODS[method](problem, outer, w)
