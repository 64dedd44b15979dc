"""Datafits F(Xw + b) of the inner problems, as types the numba kernels dispatch on.

A datafit is a ``NamedTuple`` holding the target ``y`` and the coordinate-wise
Lipschitz constants ``lipschitz`` of F(Xw) in w (as skglm's datafits hold them
after ``initialize``). Numba types each class apart, so the kernels are compiled
once per datafit with no branch on a code (the trick ``_design`` uses for dense
and sparse X), and a type that is not registered fails at compile time:

- ``Quadratic``: F(z) = ||y - z||^2 / (2 n);
- ``Logistic``:  F(z) = (1/n) sum_i log(1 + exp(-y_i z_i)), y in {-1, 1}.

Every function takes the datafit's *state* ``s``, an affine function of the
linear predictor z = Xw + b that the solvers update as they move w and b
(``state``): the residual s = z - y for the quadratic, so that its gradient reads
one array and not two, and z itself for the logistic loss. An intercept is one
more coordinate. The names follow skglm (``value``, ``raw_grad``, ``raw_hessian``,
``gradient_scalar``, ``intercept_update_step``, ``dual_value``; ``get_lipschitz``
on the classes); ``curvature`` is n times ``raw_hessian``, the per-sample second
derivatives. Adding a datafit is one class with its per-sample numba functions
(``sample_value``, ``sample_grad``, ``sample_hessian``, ``sample_dual``), its
``lipschitz_factor`` (a bound on ``sample_hessian``) and its entry in
``DATAFITS``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload

#: Let LLVM reorder sums (and fuse multiply-adds) so that column reductions are
#: vectorized; NaN and inf semantics are kept (inputs are checked finite anyway).
REDUCTION_MATH = {"reassoc", "contract"}


@njit(cache=True, nogil=True, inline="always")
def sigmoid(t):
    """Numerically stable logistic function 1 / (1 + exp(-t))."""
    if t >= 0:
        return 1.0 / (1.0 + np.exp(-t))
    e = np.exp(t)
    return e / (1.0 + e)


@njit(cache=True, nogil=True, inline="always")
def _quadratic_value(yi, ri):
    return 0.5 * ri * ri


@njit(cache=True, nogil=True, inline="always")
def _quadratic_grad(yi, ri):
    return ri


@njit(cache=True, nogil=True, inline="always")
def _quadratic_hessian(yi, zi):
    return 1.0


@njit(cache=True, nogil=True, inline="always")
def _quadratic_dual(yi, ti, n):
    return ti * yi - 0.5 * n * ti**2


@njit(cache=True, nogil=True, inline="always")
def _logistic_value(yi, zi):
    t = -yi * zi
    return t + np.log1p(np.exp(-t)) if t > 0 else np.log1p(np.exp(t))


@njit(cache=True, nogil=True, inline="always")
def _logistic_grad(yi, zi):
    return -yi * sigmoid(-yi * zi)


@njit(cache=True, nogil=True, inline="always")
def _logistic_hessian(yi, zi):
    s = sigmoid(yi * zi)
    return s * (1.0 - s)


@njit(cache=True, nogil=True, inline="always")
def _logistic_dual(yi, ti, n):
    u = n * ti * yi
    if 0.0 < u < 1.0:
        return -(u * np.log(u) + (1.0 - u) * np.log(1.0 - u)) / n
    return 0.0


def _get_lipschitz(cls, col_sq_norms: np.ndarray, n_samples: int) -> np.ndarray:
    """Coordinate-wise Lipschitz constants from the squared column norms:
    ``cls.lipschitz_factor * ||X_j||^2 / n`` (a classmethod of every datafit)."""
    return cls.lipschitz_factor * col_sq_norms / n_samples


class Quadratic(NamedTuple):
    """F(z) = ||y - z||^2 / (2 n); its state is the residual z - y.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)
    lipschitz : ndarray of shape (n_features,)
        ||X_j||^2 / n (``get_lipschitz``).
    """

    y: np.ndarray
    lipschitz: np.ndarray

    name = "quadratic"
    classifier = False
    constant_hessian = True  # the restricted system does not move with the point
    lipschitz_factor = 1.0
    sample_value = _quadratic_value
    sample_grad = _quadratic_grad
    sample_hessian = _quadratic_hessian
    sample_dual = _quadratic_dual

    get_lipschitz = classmethod(_get_lipschitz)

    @staticmethod
    def state(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The state the functions take at the linear predictor z: z - y."""
        return z - y

    @staticmethod
    def null_intercept(y: np.ndarray) -> float:
        """The optimal intercept at w = 0: the mean of y."""
        return float(np.mean(y))

    @staticmethod
    def center_dual(y, theta, xt_theta, design):
        """Project the dual point on sum(theta) = 0 (the intercept's constraint)."""
        shift = np.mean(theta)
        return theta - shift, xt_theta - shift * design.col_sums


class Logistic(NamedTuple):
    """F(z) = (1/n) sum_i log(1 + exp(-y_i z_i)), y in {-1, 1}; its state is z.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    lipschitz : ndarray of shape (n_features,)
        ||X_j||^2 / (4 n) (``get_lipschitz``).
    """

    y: np.ndarray
    lipschitz: np.ndarray

    name = "logistic"
    classifier = True
    constant_hessian = False
    lipschitz_factor = 0.25
    sample_value = _logistic_value
    sample_grad = _logistic_grad
    sample_hessian = _logistic_hessian
    sample_dual = _logistic_dual

    get_lipschitz = classmethod(_get_lipschitz)

    @staticmethod
    def state(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The state the functions take at the linear predictor z: z itself."""
        return z

    @staticmethod
    def null_intercept(y: np.ndarray) -> float:
        """The optimal intercept at w = 0: the log-odds of the positive class."""
        frac = np.clip(np.mean(y > 0), 1e-12, 1 - 1e-12)
        return float(np.log(frac / (1.0 - frac)))

    @staticmethod
    def center_dual(y, theta, xt_theta, design):
        """Rescale one class's dual mass so that sum(theta) = 0, keeping u in [0, 1]."""
        positive = y > 0
        mass_pos, mass_neg = theta[positive].sum(), -theta[~positive].sum()
        theta = theta.copy()
        if mass_pos > mass_neg:
            theta[positive] *= mass_neg / mass_pos
        elif mass_neg > 0:
            theta[~positive] *= mass_pos / mass_neg
        return theta, design.rmatvec(theta)


#: The registered datafits, by name.
DATAFITS = {cls.name: cls for cls in (Quadratic, Logistic)}


def check_datafit(datafit) -> type:
    """Return the datafit class, or raise a ValueError naming the registered ones."""
    if isinstance(datafit, type) and datafit in DATAFITS.values():
        return datafit
    if isinstance(datafit, str) and datafit in DATAFITS:
        return DATAFITS[datafit]
    raise ValueError(f"datafit must be one of {sorted(DATAFITS)} (or their classes), "
                     f"got {datafit!r}.")


def _implementation(datafit, name: str):
    """The per-sample numba function ``name`` of a datafit's numba type."""
    cls = getattr(datafit, "instance_class", None)
    impl = getattr(cls, name, None) if cls in DATAFITS.values() else None
    if impl is None:
        raise TypingError(f"{datafit} is not a registered datafit "
                          f"({', '.join(c.__name__ for c in DATAFITS.values())}).")
    return impl


def sample_grad(datafit_, zi_, i_):  # pragma: no cover - numba overload below
    """dF_i/dz_i times n for sample i, at its state ``zi``."""
    raise NotImplementedError


def sample_hessian(datafit_, zi_, i_):  # pragma: no cover - numba overload below
    """d^2 F_i / dz_i^2 times n for sample i."""
    raise NotImplementedError


def lipschitz_factor(datafit_):  # pragma: no cover - numba overload below
    """A bound on ``sample_hessian`` (1 and 1/4)."""
    raise NotImplementedError


# The overloads are not IR-inlined (``inline="always"``): LLVM inlines the
# per-sample calls once numba links them into the kernels (A/B against the
# integer-code kernels: same speed, e.g. dense forward differentiation 3.8 s vs
# 3.9 s), and numba 0.68's IR inliner miscompiled an in-place update of an array
# unpacked from a tuple argument next to an inlined call (``c, u = adjoint;
# u[i] -= ... * sample_hessian(...)``: a backward hypergradient off by 12x) and
# warned (NumbaIRAssumptionWarning) on the logistic Hessian in a loop. The
# argument names with trailing underscores are what numba wants in the stub, the
# overload and the implementation alike.
@overload(sample_grad, jit_options={"cache": True})
def _sample_grad(datafit_, zi_, i_):
    impl = _implementation(datafit_, "sample_grad")
    return lambda datafit_, zi_, i_: impl(datafit_.y[i_], zi_)


@overload(sample_hessian, jit_options={"cache": True})
def _sample_hessian(datafit_, zi_, i_):
    impl = _implementation(datafit_, "sample_hessian")
    return lambda datafit_, zi_, i_: impl(datafit_.y[i_], zi_)


@overload(lipschitz_factor, jit_options={"cache": True})
def _lipschitz_factor(datafit_):
    from hyperlasso.inner.softmax import Multinomial  # it imports this module

    if getattr(datafit_, "instance_class", None) is Multinomial:
        factor = Multinomial.lipschitz_factor
    else:
        factor = float(_implementation(datafit_, "lipschitz_factor"))
    return lambda datafit_: factor


def _sample_value(datafit_, zi_, i_):  # pragma: no cover - numba overload below
    raise NotImplementedError


def _sample_dual(datafit_, ti_, i_, n_):  # pragma: no cover - numba overload below
    raise NotImplementedError


@overload(_sample_value, jit_options={"cache": True})
def _sample_value_impl(datafit_, zi_, i_):
    impl = _implementation(datafit_, "sample_value")
    return lambda datafit_, zi_, i_: impl(datafit_.y[i_], zi_)


@overload(_sample_dual, jit_options={"cache": True})
def _sample_dual_impl(datafit_, ti_, i_, n_):
    impl = _implementation(datafit_, "sample_dual")
    return lambda datafit_, ti_, i_, n_: impl(datafit_.y[i_], ti_, n_)


@njit(cache=True, nogil=True)
def value(datafit, z):
    """Return F at the state ``z`` (module docstring)."""
    n = z.shape[0]
    total = 0.0
    for i in range(n):
        total += _sample_value(datafit, z[i], i)
    return total / n


@njit(cache=True, nogil=True)
def raw_grad(datafit, z):
    """Return the gradient of F in z, shape (n,), at the state ``z``."""
    n = z.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = sample_grad(datafit, z[i], i) / n
    return out


@njit(cache=True, nogil=True)
def curvature(datafit, z):
    """Return n times the diagonal of the Hessian of F in z, shape (n,)."""
    n = z.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = sample_hessian(datafit, z[i], i)
    return out


def raw_hessian(datafit, z):
    """Return the diagonal of the Hessian of F in z, shape (n,) (skglm's name)."""
    return curvature(datafit, z) / z.shape[0]


@njit(cache=True, nogil=True)
def intercept_grad(datafit, z):
    """Return the derivative of F in the intercept: sum_i dF/dz_i."""
    s = 0.0
    for i in range(z.shape[0]):
        s += sample_grad(datafit, z[i], i)
    return s / z.shape[0]


@njit(cache=True, nogil=True)
def intercept_update_step(datafit, z):
    """The intercept's gradient step: its derivative over the Lipschitz factor."""
    return intercept_grad(datafit, z) / lipschitz_factor(datafit)


@njit(cache=True, nogil=True)
def dual_value(datafit, theta):
    """Return -F*(-theta), the dual objective's datafit part.

    ``theta`` must be dual feasible for the datafit: any vector for the quadratic,
    ``u_i = n theta_i y_i`` in [0, 1] for the logistic loss.
    """
    n = theta.shape[0]
    total = 0.0
    for i in range(n):
        total += _sample_dual(datafit, theta[i], i, n)
    return total


def gradient_scalar(X, datafit, z, j):  # pragma: no cover - numba overload below
    """Return ``X[:, j] @ grad F(z)``."""
    raise NotImplementedError


@overload(gradient_scalar, jit_options={"cache": True, "fastmath": REDUCTION_MATH})
def _gradient_scalar(X, datafit, z, j):
    _implementation(datafit, "sample_grad")
    if isinstance(X, types.Array):
        def dense(X, datafit, z, j):
            n = X.shape[0]
            s = 0.0
            for i in range(n):
                s += X[i, j] * sample_grad(datafit, z[i], i)
            return s / n
        return dense

    def sparse(X, datafit, z, j):
        data, indices, indptr = X
        n = z.shape[0]
        s = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            i = indices[k]
            s += data[k] * sample_grad(datafit, z[i], i)
        return s / n
    return sparse
