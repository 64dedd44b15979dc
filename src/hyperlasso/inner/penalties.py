"""Penalties of the inner problems, as types the numba kernels dispatch on.

A penalty is a ``NamedTuple`` of its weights, typed apart by numba like the
datafits (``datafits``), so that every piece of its mathematics has one home:

- ``L1L2``: sum_j lam_j |w_j| + l2/2 ||w||^2 (Lasso, ElasticNet, weighted Lasso,
  sparse logistic regression); one weight per feature;
- ``GroupL2``: sum_g lam_g ||W_g||_F + l2/2 ||W||_F^2 for W of shape (p, T) (group
  Lasso; the multi-task Lasso's l2,1 norm is the case of one-feature groups);
  one weight per group, the groups given apart (``groups.Groups``).

Each class holds what the solvers need (the prox, the distance of -grad to the
subdifferential, the value, the dual norm of the duality gap) and what
differentiation needs: the derivatives of the prox in its input, in lam and in l2
(iterative differentiation), and on the generalized support the penalty's
gradient, its curvature and the cross terms d grad / d(lam, l2) (implicit
differentiation). The solver's kernel (``_cd``) updates one *unit* at a time
(``units``): a feature's row of W for ``L1L2``, through its coordinate functions
(``coordinate_prox``, ``coordinate_distance``, ``coordinate_value``), a group's
rows for ``GroupL2``, through its block functions (``unit_prox``,
``unit_distance``, ``unit_value``); see ``_units``. The numba kernels reach them
through the overloads of ``_penalty_calls`` (``prox``, ``unit_prox``, ...), which
pick them
from the penalty's numba type; a type that is not registered in ``PENALTIES``
fails to compile with an error naming the registered ones. Adding a penalty is
one class here with those functions and its entry in ``PENALTIES``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from hyperlasso.inner._tasks import entry, n_tasks
from hyperlasso.inner.box import Box
from hyperlasso.inner.class_l1 import ClassL1


@njit(cache=True, nogil=True, inline="always")
def soft_threshold(u, t):
    """sign(u) max(|u| - t, 0): the prox of t |.| (also the graphical lasso's)."""
    if u > t:
        return u - t
    if u < -t:
        return u + t
    return 0.0


@njit(cache=True, nogil=True, inline="always")
def _l1l2_prox(u, step, penalty, j):
    """Prox of step * (lam_j |.| + l2/2 (.)^2) at u: soft-thresholding, shrinkage."""
    return soft_threshold(u, step * penalty.lam[j]) / (1.0 + step * penalty.l2)


@njit(cache=True, nogil=True, inline="always")
def _l1l2_distance(w_j, g_j, penalty, j):
    """Distance of -g_j to the subdifferential of the penalty at w_j."""
    lam_j = penalty.lam[j]
    g = g_j + penalty.l2 * w_j
    if w_j > 0:
        return abs(g + lam_j)
    if w_j < 0:
        return abs(g - lam_j)
    return max(abs(g) - lam_j, 0.0)


@njit(cache=True, nogil=True, inline="always")
def _l1l2_value(w_j, penalty, j):
    return penalty.lam[j] * abs(w_j) + 0.5 * penalty.l2 * w_j * w_j


@njit(cache=True, nogil=True, inline="always")
def _l1l2_prox_derivatives(new, step, penalty, j):
    """Derivatives of new = prox(u) in u, lam_j and l2, given new (0 where new = 0)."""
    if new == 0.0:
        return 0.0, 0.0, 0.0
    factor = 1.0 / (1.0 + step * penalty.l2)
    sign = 1.0 if new > 0 else -1.0
    return factor, -factor * step * sign, -factor * step * new


@njit(cache=True, nogil=True, inline="always")
def _l1l2_support_derivatives(w_j, penalty, j):
    """On the support, the penalty's gradient lam_j sign(w_j) + l2 w_j has
    curvature l2 in w_j and derivatives sign(w_j) in lam_j and w_j in l2."""
    return penalty.l2, (1.0 if w_j > 0 else -1.0), w_j


def _dual_terms(lam: np.ndarray, l2: float, dual_norms: np.ndarray):
    """(scale, conjugate) of the dual point whose penalty-side norms are ``dual_norms``.

    Without l2 the dual point is rescaled into the dual ball (||.||_* <= lam);
    with l2 the conjugate of the penalty is sum max(norm - lam, 0)^2 / (2 l2).
    """
    if l2 == 0.0:
        return 1.0 / max(1.0, float(np.max(dual_norms / lam, initial=0.0))), 0.0
    excess = np.maximum(dual_norms - lam, 0.0)
    return 1.0, float(excess @ excess) / (2.0 * l2)


class L1L2(NamedTuple):
    """sum_j lam_j |w_j| + l2/2 ||w||^2.

    Parameters
    ----------
    lam : ndarray of shape (n_features,)
        Positive l1 weights.
    l2 : float
        Non-negative l2 weight.
    """

    lam: np.ndarray
    l2: float

    name = "l1_l2"
    separable = True
    #: The solver's units (``_units``) of this penalty: the features, which take
    #: the coordinate functions below.
    units = "features"
    coordinate_prox = _l1l2_prox
    coordinate_distance = _l1l2_distance
    coordinate_value_of = _l1l2_value
    coordinate_prox_derivatives = _l1l2_prox_derivatives
    coordinate_support_derivatives = _l1l2_support_derivatives

    def value(self, w: np.ndarray) -> float:
        """sum_j lam_j |w_j| + l2/2 ||w||^2 for w of shape (n_features,)."""
        return float(np.sum(self.lam * np.abs(w)) + 0.5 * self.l2 * np.dot(w, w))

    def prox(self, u: np.ndarray, step) -> np.ndarray:
        """Prox of step * penalty at u (step a float or one per feature)."""
        shrunk = np.sign(u) * np.maximum(np.abs(u) - step * self.lam, 0.0)
        return shrunk / (1.0 + step * self.l2)

    def distances(self, w: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Distance of -grad_j to the subdifferential at w_j, elementwise (any
        shape ``lam`` broadcasts to: the graphical lasso's matrices too)."""
        full = grad + self.l2 * w
        return np.where(w != 0, np.abs(full + self.lam * np.sign(w)),
                        np.maximum(np.abs(full) - self.lam, 0.0))

    def dual_terms(self, xt_theta: np.ndarray):
        """(scale, conjugate) of a dual point theta with X^T theta = ``xt_theta``."""
        return _dual_terms(self.lam, self.l2, np.abs(xt_theta))

    @staticmethod
    def generalized_support(w: np.ndarray) -> np.ndarray:
        """Features where the penalty is differentiable and w is free: w_j != 0."""
        return np.flatnonzero(w)

    def support_gradient(self, w_S: np.ndarray, support: np.ndarray) -> np.ndarray:
        """The penalty's gradient on the support: lam_S sign(w_S) + l2 w_S."""
        return self.lam[support] * np.sign(w_S) + self.l2 * w_S

    def support_curvature(self, w_S: np.ndarray) -> float:
        """The penalty's Hessian on the support, diagonal: l2 (the l1 part is flat)."""
        return self.l2

    def pullback(self, w_S: np.ndarray, support: np.ndarray, v: np.ndarray):
        """(g_lam (n_features,), g_l2): minus the cross terms of the support
        gradient, d/dlam_S = diag(sign(w_S)) and d/dl2 = w_S, applied to v."""
        g_lam = np.zeros(self.lam.shape[0])
        g_lam[support] = -np.sign(w_S) * v
        return g_lam, -float(np.dot(w_S, v))


@njit(cache=True, nogil=True, inline="always")
def _group_prox_scale(norm, step, lam_g, l2):
    """Factor of the block prox at U of norm ``norm``: P(U) = scale * U, with
    P(U) = BST(U, step lam_g) / (1 + step l2)."""
    threshold = step * lam_g
    if norm <= threshold:
        return 0.0
    return (1.0 - threshold / norm) / (1.0 + step * l2)


@njit(cache=True, nogil=True)
def _group_unit_prox(U, step, lam_g, l2):
    """The block prox of the group's rows U (size, T), in place."""
    U *= _group_prox_scale(np.sqrt(np.sum(U * U)), step, lam_g, l2)


@njit(cache=True, nogil=True)
def _group_unit_distance(G, W, rows, lam_g, l2):
    """Distance of -G to lam_g d||.||(W_g) + l2 W_g, W_g = W[rows]; ``G``
    (|rows|, T) is overwritten."""
    w_sq = 0.0
    for k in range(rows.shape[0]):
        for t in range(G.shape[1]):
            w = entry(W, rows[k], t)
            G[k, t] += l2 * w
            w_sq += w * w
    if w_sq == 0.0:
        return max(np.sqrt(np.sum(G ** 2)) - lam_g, 0.0)
    scale = lam_g / np.sqrt(w_sq)
    total = 0.0
    for k in range(rows.shape[0]):
        for t in range(G.shape[1]):
            total += (G[k, t] + scale * entry(W, rows[k], t)) ** 2
    return np.sqrt(total)


@njit(cache=True, nogil=True)
def _group_unit_value(W, rows, lam_g, l2):
    norm_sq = 0.0
    for k in range(rows.shape[0]):
        for t in range(n_tasks(W)):
            norm_sq += entry(W, rows[k], t) ** 2
    return lam_g * np.sqrt(norm_sq) + 0.5 * l2 * norm_sq


class GroupProxStep:
    """The block prox P(U) = BST(U, step lam_g) / (1 + step l2) at U, and its
    derivatives: DP(U) V = (c V + (t/||U||) u <u, V>) / s, dP/dlam_g = -step u / s,
    dP/dl2 = -step P(U) / s, with u = U / ||U||, c = 1 - t / ||U||, t = step lam_g,
    s = 1 + step l2; all zero where P(U) = 0 (``zero``)."""

    def __init__(self, U: np.ndarray, step: float, lam_g: float, l2: float):
        norm = float(np.sqrt(np.sum(U**2)))
        self.step, self.shrink = step, 1.0 + step * l2
        threshold = step * lam_g
        self.zero = norm <= threshold
        if not self.zero:
            self.u = U / norm
            self.c = 1.0 - threshold / norm
            self.ratio = threshold / norm
            self.new = self.c * U / self.shrink

    def jacobian_apply(self, V: np.ndarray) -> np.ndarray:
        """DP(U) V for V of shape U.shape (+ trailing direction axes)."""
        inner = np.tensordot(self.u, V, axes=(tuple(range(self.u.ndim)),) * 2)
        return (self.c * V + self.ratio * np.multiply.outer(self.u, inner)) / self.shrink

    def d_lam(self) -> np.ndarray:
        """dP / dlam_g."""
        return -self.step * self.u / self.shrink

    def d_l2(self) -> np.ndarray:
        """dP / dl2."""
        return -self.step * self.new / self.shrink


class GroupL2(NamedTuple):
    """sum_g lam_g ||W_g||_F + l2/2 ||W||_F^2 over the groups of a ``Groups``.

    Parameters
    ----------
    lam : ndarray of shape (n_groups,)
        Positive group weights.
    l2 : float
        Non-negative l2 weight.
    """

    lam: np.ndarray
    l2: float

    name = "group_l2"
    separable = False
    #: The solver's units (``_units``) of this penalty: the groups, which take the
    #: block functions below.
    units = "groups"
    unit_prox_of = _group_unit_prox
    unit_distance_of = _group_unit_distance
    unit_value_of = _group_unit_value

    def value(self, W: np.ndarray, groups) -> float:
        """sum_g lam_g ||W_g|| + l2/2 ||W||^2 for W of shape (p, T)."""
        return float(self.lam @ groups.norms(W) + 0.5 * self.l2 * np.sum(W**2))

    def distances(self, W: np.ndarray, grad: np.ndarray, groups) -> np.ndarray:
        """Distance of -grad_g to the subdifferential at W_g, shape (n_groups,)."""
        norms = groups.norms(W)
        active = norms > 0
        scaled = np.zeros_like(norms)
        scaled[active] = self.lam[active] / norms[active]
        full = grad + self.l2 * W
        moved = groups.norms(full + scaled[groups.group_of_feature][:, None] * W)
        return np.where(active, moved, np.maximum(groups.norms(full) - self.lam, 0.0))

    def dual_terms(self, xt_theta: np.ndarray, groups):
        """(scale, conjugate) of a dual point theta with X^T theta = ``xt_theta``."""
        return _dual_terms(self.lam, self.l2, groups.norms(xt_theta))

    @staticmethod
    def generalized_support(W: np.ndarray, groups) -> np.ndarray:
        """Groups where the penalty is differentiable: W_g != 0."""
        return np.flatnonzero(groups.norms(W))

    def prox_step(self, U: np.ndarray, step: float, g: int) -> GroupProxStep:
        """The prox of group g at U with its derivatives (``GroupProxStep``)."""
        return GroupProxStep(U, step, float(self.lam[g]), float(self.l2))

    def support_curvature(self, U: np.ndarray, lam_over_norm: np.ndarray,
                          along: np.ndarray, V: np.ndarray) -> np.ndarray:
        """blockdiag(lam_g (I - u_g u_g^T) / ||W_g||) V on the active rows.

        ``U`` holds u_g = W_g / ||W_g|| and ``lam_over_norm`` lam_g / ||W_g|| on
        every active row (|F|, T) and (|F|,); ``along`` is <u_g, V_g> per row.
        """
        return lam_over_norm[:, None] * (V - U * along[:, None])


#: The registered penalties, by name.
PENALTIES = {cls.name: cls for cls in (L1L2, GroupL2, Box, ClassL1)}


def check_penalty(penalty, separable: bool | None = None) -> type:
    """Return the penalty class, or raise a ValueError naming the registered ones
    (of the kind asked: separable, or block, when ``separable`` is given)."""
    known = {name: cls for name, cls in PENALTIES.items()
             if separable is None or cls.separable == separable}
    if isinstance(penalty, type) and penalty in known.values():
        return penalty
    if isinstance(penalty, str) and penalty in known:
        return known[penalty]
    kind = "" if separable is None else ("separable " if separable else "block ")
    raise ValueError(f"penalty must be one of the {kind}penalties {sorted(known)} "
                     f"(or their classes), got {penalty!r}.")
