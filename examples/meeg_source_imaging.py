"""EEG source imaging: the multi-task Lasso tuned by SURE, single and weighted.

Simulates a 64-channel EEG recording of a few active brain sources (a 3-shell
sphere head model and a 7 mm volume grid of 5346 candidate sources, built by
MNE-Python from files in its wheel), tunes the penalty of the multi-task Lasso
(rows = sources, columns = time samples) by SURE with hypergradient descent, then
one penalty per source from that optimum, and shows what a person looks at:
true and estimated source positions, the SURE curve with the optimizer's steps,
the time courses.

Run: ``pip install "hyperlasso[meeg,plot]"`` then
``python examples/meeg_source_imaging.py [--out FIGURE.png] [--force]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import hyperlasso as hl
from hyperlasso.criteria import make_objective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.block_models import MultiTaskLasso
from hyperlasso.meeg import eeg_gain, make_meeg_problem


def localization(problem, coef) -> tuple[float, int, np.ndarray]:
    """Mean distance (mm) from each true source to the nearest estimated one, the
    number of estimated sources farther than 15 mm from every true one, and the
    estimated sources."""
    found = np.flatnonzero(np.linalg.norm(coef, axis=0))
    if found.size == 0:
        return np.inf, 0, found
    pairs = np.linalg.norm(problem.positions[problem.active][:, None]
                           - problem.positions[found][None], axis=-1)
    spurious = int(np.sum(pairs.min(axis=0) > 0.015))
    return 1000 * float(pairs.min(axis=1).mean()), spurious, found


def tune(problem, estimator, name):
    start = time.perf_counter()
    estimator.fit(problem.gain, problem.measurements)
    elapsed = time.perf_counter() - start
    distance, spurious, found = localization(problem, estimator.coef_)
    print(f"{name:>26}: {elapsed:5.2f} s, SURE {estimator.best_score_:.4f}, "
          f"{found.size:3d} sources, mean distance {distance:5.1f} mm, "
          f"{spurious} spurious")
    return estimator


def sure_curve(problem, n_points=25):
    """SURE on a log grid of alpha (same Monte-Carlo direction as the estimator)."""
    objective = make_objective("sure", MultiTaskLasso(fit_intercept=False), problem.gain,
                               problem.measurements, Settings(tol=1e-6),
                               sigma=problem.sigma)
    a_max = hl.alpha_max(MultiTaskLasso(fit_intercept=False), problem.gain,
                         problem.measurements)
    grid = a_max * np.logspace(-0.1, -2, n_points)
    return grid, [objective.value(a).value for a in grid]


def plot(problem, single, weighted, curve, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    xy = 1000 * problem.positions[:, :2]
    ax.scatter(*xy.T, s=1, c="0.85", label="candidate sources")
    for est, marker, color, name in [(single, "o", "tab:blue", "single penalty"),
                                     (weighted, "x", "tab:green", "one per source")]:
        found = np.flatnonzero(np.linalg.norm(est.coef_, axis=0))
        ax.scatter(*xy[found].T, marker=marker, c=color, s=30, label=name)
    ax.scatter(*xy[problem.active].T, marker="*", c="tab:red", s=200, label="true")
    ax.set(xlabel="x (mm)", ylabel="y (mm)", title="Sources seen from above",
           aspect="equal")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    grid, values = curve
    ax.semilogx(grid, values, c="0.4", label="SURE on a grid")
    history = single.history_
    ax.plot(np.ravel(history["alpha"]), history["value"], "o-", c="tab:blue", ms=4,
            label="hypergradient steps")
    ax.axvline(float(np.ravel(single.alpha_)[0]), c="tab:blue", ls=":")
    ax.set(xlabel="alpha", ylabel="SURE / (n T)", title="Choosing alpha by SURE",
           yscale="log")
    ax.legend(fontsize=8)
    ax = axes[2]
    ms = 1000 * problem.times
    for k, source in enumerate(problem.active):
        color = f"C{k}"
        ax.plot(ms, problem.sources[source], c=color, lw=2, alpha=0.5)
        nearest = np.argmin(np.linalg.norm(problem.positions - problem.positions[source],
                                           axis=1)
                            + np.where(np.linalg.norm(weighted.coef_, axis=0) > 0, 0, 1e9))
        ax.plot(ms, weighted.coef_[:, nearest], c=color, ls="--")
    ax.set(xlabel="time (ms)", ylabel="activity (normalized gain units)",
           title="Time courses: true (solid), weighted (dashed)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"figure: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("meeg_source_imaging.png"))
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists: pass --force to overwrite it")
    start = time.perf_counter()
    gain = eeg_gain()
    problem = make_meeg_problem(n_active=3, n_times=60, snr=3.0, random_state=args.seed,
                                gain=gain)
    print(f"EEG problem: {problem.gain.shape[0]} channels, {problem.gain.shape[1]} "
          f"sources, {problem.measurements.shape[1]} time samples "
          f"({time.perf_counter() - start:.1f} s to build)")
    options = dict(criterion="sure", sigma=problem.sigma, fit_intercept=False,
                   n_jobs=2)  # SURE's two inner problems in two threads
    single = tune(problem, hl.MultiTaskLassoCV(**options), "MultiTaskLassoCV")
    weighted = tune(problem, hl.WeightedMultiTaskLassoCV(monitor_fraction=None,
                                                         **options),
                    "WeightedMultiTaskLassoCV")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print('no figure: it needs matplotlib (pip install "hyperlasso[plot]")')
        return
    plot(problem, single, weighted, sure_curve(problem), args.out)


if __name__ == "__main__":
    main()
