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


def plot_tuning(path_alphas, path_values, history: dict, coef, title: str, filename,
                xlabel: str = "alpha (l1 weight)"):
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
    xlabel : str, default="alpha (l1 weight)"
        Name of the path's hyperparameter (e.g. "C" for the SVM).
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
    left.set_xlabel(xlabel)
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


def plot_error_study(study, ax=None, title: str | None = None):
    """The figure of Ye et al. (2024): hypergradient error vs inner error.

    Log-log axes, the distance axis reversed (the inner solver converges to the
    right), mean and +-1 standard deviation over seeds of log10 error at each
    target distance, and guide lines of slope 1 and 2.

    Parameters
    ----------
    study : hyperlasso.accuracy.ErrorStudy
    ax : matplotlib Axes, optional
        Drawn on a new figure if None.
    title : str, optional
        Defaults to the study's title.

    Returns
    -------
    matplotlib Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    distance = 10 ** _column_stats(np.log10(study.distances))[0]
    for method in study.methods:
        logs = np.log10(np.where(study.errors[method] > 0, study.errors[method], np.nan))
        mean, std = _column_stats(logs)
        keep = np.isfinite(mean) & np.isfinite(distance)
        finite = study.slopes[method][np.isfinite(study.slopes[method])]
        slope = float(np.median(finite)) if finite.size else np.nan
        label = f"{method} (slope {slope:.2f})" if np.isfinite(slope) else method
        line, = ax.plot(distance[keep], 10 ** mean[keep], marker=".", label=label)
        ax.fill_between(distance[keep], 10 ** (mean - std)[keep],
                        10 ** (mean + std)[keep], color=line.get_color(), alpha=0.2)
    _slope_guides(ax, distance, study)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("|x_t - x*| / |x*|")
    ax.set_ylabel("|h_t - h*| / |h*|")
    ax.set_title(title or study.title)
    ax.legend(fontsize="small")
    return ax


def _column_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring mean and std over seeds (rows); NaN where a column is empty."""
    counts = np.sum(np.isfinite(values), axis=0)
    filled = np.where(np.isfinite(values), values, 0.0)
    mean = np.where(counts > 0, filled.sum(axis=0) / np.maximum(counts, 1), np.nan)
    spread = np.where(np.isfinite(values), (values - mean) ** 2, 0.0)
    std = np.where(counts > 0, np.sqrt(spread.sum(axis=0) / np.maximum(counts, 1)),
                   np.nan)
    return mean, std


def _slope_guides(ax, distance, study) -> None:
    low, high = study.fit_range
    xs = np.geomspace(low, high, 10)
    anchor = np.nanmedian([np.nanmedian(e) for e in study.errors.values()])
    anchor = anchor if np.isfinite(anchor) and anchor > 0 else 1e-6
    middle = np.sqrt(low * high)
    for order, style in ((1, ":"), (2, "--")):
        ax.plot(xs, anchor * (xs / middle) ** order, "k" + style, linewidth=0.8,
                label=f"slope {order}")
