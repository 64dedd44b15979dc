"""The numba entry points of the penalties: overloads on the penalty's type.

A kernel calls ``prox(penalty, u, step, j)`` (and the others below); numba picks
the per-coordinate or per-block function of the penalty's class (``penalties``)
from its numba type, so kernels never look inside a penalty and a new penalty is
one class in ``penalties``. Separable penalties provide ``prox``, ``distance``,
``coordinate_value``, ``prox_derivatives`` and ``support_derivatives``; block
penalties ``block_prox_scale``, ``block_distance`` and ``block_value``. The
overloads are not IR-inlined, as the datafits' (see ``datafits``): LLVM inlines
them.
"""

from __future__ import annotations

from numba.core.errors import TypingError
from numba.extending import overload

from hyperlasso.inner.penalties import PENALTIES


def _implementation(penalty, name: str):
    """The per-coordinate numba function ``name`` of a penalty's numba type."""
    cls = getattr(penalty, "instance_class", None)
    impl = getattr(cls, name, None) if cls in PENALTIES.values() else None
    if impl is None:
        raise TypingError(f"{penalty} is not a registered penalty with {name} "
                          f"({', '.join(c.__name__ for c in PENALTIES.values())}).")
    return impl


def prox(penalty_, u_, step_, j_):  # pragma: no cover - numba overload below
    """Prox of step * (the penalty of coordinate j) at u."""
    raise NotImplementedError


def distance(penalty_, w_, g_, j_):  # pragma: no cover - numba overload below
    """Distance of -g to the subdifferential of coordinate j's penalty at w."""
    raise NotImplementedError


def coordinate_value(penalty_, w_, j_):  # pragma: no cover - numba overload below
    """The penalty of coordinate j at w."""
    raise NotImplementedError


def prox_derivatives(penalty_, new_, step_, j_):  # pragma: no cover - numba overload
    """(d new / d u, d new / d lam_j, d new / d l2) of new = prox(u), given new."""
    raise NotImplementedError


def support_derivatives(penalty_, w_, j_):  # pragma: no cover - numba overload below
    """(curvature, d/dlam_j, d/dl2) of coordinate j's penalty gradient at w != 0."""
    raise NotImplementedError


@overload(prox, jit_options={"cache": True})
def _prox(penalty_, u_, step_, j_):
    impl = _implementation(penalty_, "coordinate_prox")
    return lambda penalty_, u_, step_, j_: impl(u_, step_, penalty_.lam[j_],
                                                penalty_.l2)


@overload(distance, jit_options={"cache": True})
def _distance(penalty_, w_, g_, j_):
    impl = _implementation(penalty_, "coordinate_distance")
    return lambda penalty_, w_, g_, j_: impl(w_, g_, penalty_.lam[j_], penalty_.l2)


@overload(coordinate_value, jit_options={"cache": True})
def _coordinate_value(penalty_, w_, j_):
    impl = _implementation(penalty_, "coordinate_value_of")
    return lambda penalty_, w_, j_: impl(w_, penalty_.lam[j_], penalty_.l2)


@overload(prox_derivatives, jit_options={"cache": True})
def _prox_derivatives(penalty_, new_, step_, j_):
    impl = _implementation(penalty_, "coordinate_prox_derivatives")
    return lambda penalty_, new_, step_, j_: impl(new_, step_, penalty_.lam[j_],
                                                  penalty_.l2)


@overload(support_derivatives, jit_options={"cache": True})
def _support_derivatives(penalty_, w_, j_):
    impl = _implementation(penalty_, "coordinate_support_derivatives")
    return lambda penalty_, w_, j_: impl(w_, penalty_.lam[j_], penalty_.l2)


def block_prox_scale(penalty_, norm_, step_, g_):  # pragma: no cover - numba overload
    """P(U) / U for the block prox of step * (group g's penalty) at U of norm ``norm``."""
    raise NotImplementedError


def block_value(penalty_, norm_sq_, g_):  # pragma: no cover - numba overload below
    """Group g's penalty at W_g with ||W_g||^2 = ``norm_sq``."""
    raise NotImplementedError


def block_distance(penalty_, grad_, W_, rows_, g_):  # pragma: no cover - overload
    """Distance of -grad to the subdifferential of group g's penalty at W[rows]
    (``grad`` of shape (|rows|, T) is overwritten)."""
    raise NotImplementedError


@overload(block_distance, jit_options={"cache": True})
def _block_distance(penalty_, grad_, W_, rows_, g_):
    impl = _implementation(penalty_, "block_distance_of")
    return lambda penalty_, grad_, W_, rows_, g_: impl(grad_, W_, rows_,
                                                       penalty_.lam[g_], penalty_.l2)


@overload(block_prox_scale, jit_options={"cache": True})
def _block_prox_scale(penalty_, norm_, step_, g_):
    impl = _implementation(penalty_, "block_prox_scale_of")
    return lambda penalty_, norm_, step_, g_: impl(norm_, step_, penalty_.lam[g_],
                                                   penalty_.l2)


@overload(block_value, jit_options={"cache": True})
def _block_value(penalty_, norm_sq_, g_):
    impl = _implementation(penalty_, "block_value_of")
    return lambda penalty_, norm_sq_, g_: impl(norm_sq_, penalty_.lam[g_], penalty_.l2)
