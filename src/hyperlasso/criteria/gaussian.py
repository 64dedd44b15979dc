"""Held-out Gaussian negative log-likelihood of a precision matrix."""

from __future__ import annotations

import numpy as np

from hyperlasso.criteria.objectives import Evaluation
from hyperlasso.criteria.parallel import FoldRunner
from hyperlasso.hypergradients.graphical import graphical_hypergradient
from hyperlasso.inner.graphical import empirical_covariance, inverse_spd, solve_graphical


class HeldOutGaussianNLL:
    """C(Theta) = -logdet(Theta) + tr(S_val Theta) on validation samples.

    C estimates the risk -logdet(Theta) + tr(Sigma Theta) of a precision matrix
    Theta fitted on other samples (twice the expected negative log-likelihood of
    a new sample, up to constants). Centered on their own mean, the validation
    samples' sum of squares / n_val underestimates Sigma by the factor
    (n_val - 1) / n_val, which biases cross-validation towards small penalties,
    the more so the smaller the folds; / (n_val - 1) makes C unbiased. Measured
    in ``benchmarks/results/graphical_refit.md``: the test-optimal refit penalty
    over the cross-validated one was within 0.06 of the fold-size rate
    sqrt((K - 1) / K) on all 9 settings with ``ddof=1``, but up to 0.18 above it
    with ``ddof=0`` (10 folds of 8 samples); see ``docs/graphical_lasso.md``.

    Parameters
    ----------
    X_val : array-like of shape (n_val, p)
        Validation samples (rows), centered on their own mean.
    ddof : {0, 1}, default=1
        S_val = sum of squares / (n_val - ddof): 1, unbiased (the default); 0, the
        maximum-likelihood estimate (scikit-learn's ``score``).
    """

    def __init__(self, X_val, ddof: int = 1):
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 or 1, got {ddof!r}.")
        self.covariance = empirical_covariance(X_val, "X_val", ddof)

    @property
    def n_features(self) -> int:
        """p."""
        return self.covariance.shape[0]

    def value_and_grad(self, precision: np.ndarray):
        """Value and gradient S_val - inv(Theta), shape (p, p)."""
        if precision.shape != self.covariance.shape:
            raise ValueError(f"precision has shape {precision.shape} but X_val has "
                             f"{self.n_features} features.")
        sign, logdet = np.linalg.slogdet(precision)
        if sign <= 0:
            raise ValueError("precision must be positive definite.")
        value = -logdet + float(np.sum(self.covariance * precision))
        return value, self.covariance - inverse_spd(precision)

    def value(self, precision: np.ndarray) -> float:
        """Value only."""
        return self.value_and_grad(precision)[0]


class GraphicalObjective:
    """Mean held-out Gaussian NLL over folds of samples, as a function of alpha.

    Each fold has its own training covariance and warm start (state that lives
    only inside an estimator's ``fit``).

    Parameters
    ----------
    model : GraphicalLasso
    X : ndarray of shape (n_samples, p)
        Samples in rows.
    splits : list of (train, validation) index arrays
    tol : float
        Optimality violation of the inner solver.
    method : str, default="auto"
        Hypergradient method ("auto"/"polish" or "implicit").
    n_jobs : int or None
        Folds in parallel threads, or on Dask inside
        ``joblib.parallel_backend("dask")`` (``criteria/parallel.py``).
    ddof : {0, 1}, default=1
        Of the validation covariances (see :class:`HeldOutGaussianNLL`).
    """

    def __init__(self, model, X, splits, tol: float, method: str = "auto",
                 n_jobs: int | None = None, ddof: int = 1):
        if not splits:
            raise ValueError("splits must hold at least one training/validation split.")
        self.model, self.tol, self.method, self.n_jobs = model, tol, method, n_jobs
        self.folds = [(empirical_covariance(X[train], f"fold {k} training samples"),
                       HeldOutGaussianNLL(X[test], ddof))
                      for k, (train, test) in enumerate(splits)]
        self._warm = [None] * len(self.folds)
        self._runner = FoldRunner(self.folds, n_jobs)
        #: Called with no argument as each fold's inner problem ends (progress bars).
        self.on_fold_done = None

    def _evaluate(self, alpha, with_gradient: bool) -> Evaluation:
        args = [(self.model, alpha, with_gradient, self.method, self.tol, warm)
                for warm in self._warm]
        results = self._runner.map(_graphical_fold, args, on_done=self.on_fold_done)
        for k, (_, _, solution) in enumerate(results):
            self._warm[k] = solution.precision
        values, gradients, solutions = zip(*results, strict=True)
        gradient = None
        if with_gradient:
            gradient = self.model.pullback(np.mean(gradients, axis=0), np.asarray(alpha))
        return Evaluation(float(np.mean(values)), gradient,
                          int(sum(s.n_iter for s in solutions)),
                          float(np.mean([(s.support.sum() - s.support.shape[0]) / 2
                                         for s in solutions])),
                          tuple(float(v) for v in values))

    def value_and_grad(self, alpha) -> Evaluation:
        """Mean held-out NLL and its gradient in alpha (float or (p, p))."""
        return self._evaluate(alpha, True)

    def value(self, alpha) -> Evaluation:
        """Mean held-out NLL only."""
        return self._evaluate(alpha, False)


def _graphical_fold(fold, model, alpha, with_gradient: bool, method: str, tol: float,
                    warm):
    """One fold's held-out NLL, gradient (or None) and solution (a task)."""
    S, criterion = fold
    Lam = model.penalty_matrix(model.check_alpha(alpha, S.shape[0]), S.shape[0])
    if with_gradient:
        result = graphical_hypergradient(S, Lam, criterion, method=method, tol=tol,
                                         warm_start=warm)
        return result.value, result.gradient, result.solution
    solution = solve_graphical(S, Lam, tol=tol, warm_start=warm)
    return criterion.value(solution.precision), None, solution
