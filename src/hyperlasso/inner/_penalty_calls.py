"""The numba entry points of the penalties: overloads on the penalty's type.

A kernel calls ``prox(penalty, u, step, j)`` (and the others below); numba picks
the per-coordinate or per-block function of the penalty's class (``penalties``)
from its numba type, so kernels never look inside a penalty and a new penalty is
one class in ``penalties``. Separable penalties provide ``prox``, ``distance``,
``prox_derivatives`` and ``support_derivatives`` (what iterative and implicit
differentiation of one coordinate need); every penalty ``unit_prox``,
``unit_distance`` and ``unit_value`` on the solver's units (one feature's row
for a separable penalty, a group's rows for a block one). The
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
    return lambda penalty_, u_, step_, j_: impl(u_, step_, penalty_, j_)


@overload(distance, jit_options={"cache": True})
def _distance(penalty_, w_, g_, j_):
    impl = _implementation(penalty_, "coordinate_distance")
    return lambda penalty_, w_, g_, j_: impl(w_, g_, penalty_, j_)


@overload(coordinate_value, jit_options={"cache": True})
def _coordinate_value(penalty_, w_, j_):
    impl = _implementation(penalty_, "coordinate_value_of")
    return lambda penalty_, w_, j_: impl(w_, penalty_, j_)


@overload(prox_derivatives, jit_options={"cache": True})
def _prox_derivatives(penalty_, new_, step_, j_):
    impl = _implementation(penalty_, "coordinate_prox_derivatives")
    return lambda penalty_, new_, step_, j_: impl(new_, step_, penalty_, j_)


@overload(support_derivatives, jit_options={"cache": True})
def _support_derivatives(penalty_, w_, j_):
    impl = _implementation(penalty_, "coordinate_support_derivatives")
    return lambda penalty_, w_, j_: impl(w_, penalty_, j_)


def unit_kind(penalty) -> str:
    """The units of a penalty's numba type: "features" or "groups" (``penalties``)."""
    return _implementation(penalty, "units")


def unit_prox(penalty_, U_, step_, g_):  # pragma: no cover - numba overload below
    """Prox of step * (unit g's penalty) at the unit's rows U (size, T), in place."""
    raise NotImplementedError


def unit_distance(penalty_, G_, W_, rows_, g_):  # pragma: no cover - numba overload
    """Distance of -G to the subdifferential of unit g's penalty at W[rows]
    (``G`` of shape (|rows|, T) may be overwritten)."""
    raise NotImplementedError


def unit_value(penalty_, W_, rows_, g_):  # pragma: no cover - numba overload below
    """Unit g's penalty at W[rows]."""
    raise NotImplementedError


@overload(unit_prox, jit_options={"cache": True})
def _unit_prox(penalty_, U_, step_, g_):
    impl = _implementation(penalty_, "unit_prox_of")

    def call(penalty_, U_, step_, g_):
        impl(U_, step_, penalty_.lam[g_], penalty_.l2)
    return call


@overload(unit_distance, jit_options={"cache": True})
def _unit_distance(penalty_, G_, W_, rows_, g_):
    impl = _implementation(penalty_, "unit_distance_of")
    return lambda penalty_, G_, W_, rows_, g_: impl(G_, W_, rows_, penalty_.lam[g_],
                                                    penalty_.l2)


@overload(unit_value, jit_options={"cache": True})
def _unit_value(penalty_, W_, rows_, g_):
    impl = _implementation(penalty_, "unit_value_of")
    return lambda penalty_, W_, rows_, g_: impl(W_, rows_, penalty_.lam[g_], penalty_.l2)
