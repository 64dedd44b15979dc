"""Figures of a tuning run (needs the optional extra: pip install "hyperlasso[plot]")."""

from __future__ import annotations

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            'plots need matplotlib: pip install "hyperlasso[plot]".') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_tuning(path_alphas, path_values, history: dict, coef, title: str, filename):
    """Two panels: the criterion along the alpha path with the optimizer's steps,
    and the tuned coefficients.

    Parameters
    ----------
    path_alphas : ndarray of shape (n_path,)
        Penalties of the reference path (the l1 weight for two-penalty models).
    path_values : ndarray of shape (n_path,)
        Criterion along the path.
    history : dict
        An estimator's ``history_``; its "alpha" entries are reduced to the l1
        weight (first component, or the median for one penalty per feature).
    coef : ndarray of shape (n_features,)
    title : str
    filename : str or Path
        Where the PNG goes.
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(path_alphas, path_values, color="0.6", lw=1.5, label="criterion on a grid")
    steps = np.array([_scalar(a) for a in history["alpha"]])
    values = np.asarray(history["value"])
    left.plot(steps, values, "o-", color="tab:red", ms=4, lw=0.8, label="optimizer's steps")
    best = int(np.argmin(values))
    left.plot(steps[best], values[best], "*", color="black", ms=14, label="selected")
    left.set_xscale("log")
    left.set_xlabel("alpha (l1 weight)")
    left.set_ylabel("criterion")
    left.legend(frameon=False)
    coef = np.ravel(coef)
    right.vlines(np.arange(coef.size), 0, coef, color="tab:blue", lw=1)
    right.axhline(0, color="0.3", lw=0.5)
    right.set_xlabel("feature")
    right.set_ylabel("coefficient")
    right.set_title(f"{np.count_nonzero(coef)} non-zero of {coef.size}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(filename, dpi=110)
    plt.close(fig)


def _scalar(alpha) -> float:
    alpha = np.ravel(alpha)
    return float(alpha[0]) if alpha.size <= 2 else float(np.median(alpha))
