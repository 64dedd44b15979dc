"""EEG source imaging tuned by SURE: hyperlasso against MNE's grid (issue 11).

Problems: ``hyperlasso.datasets.make_meeg_problem`` (64-channel biosemi EEG,
3-shell sphere, 5346 sources on a 7 mm volume grid, 60 time samples, whitened,
unit-norm gain columns), for several numbers of active sources and SNRs, a few
random draws (seeds) each.

Runs on every problem, in the same process:

- **hyperlasso single**: ``hl.MultiTaskLassoCV(criterion="sure", sigma=1,
  n_jobs=2)`` (L-BFGS on the SURE hypergradient; SURE's two inner problems in
  two threads), and the same with ``n_jobs=1``;
- **hyperlasso weighted**: ``hl.WeightedMultiTaskLassoCV(criterion="sure",
  monitor_fraction=None)``, one penalty per source from the single optimum;
- **MNE grid**: what ``mne.inverse_sparse.mixed_norm(alpha="sure")`` runs, its
  ``_compute_mxne_sure`` with mixed_norm's own arguments (the default grid of 15
  values from 100 % to 10 % of alpha_max, tol 1e-4 ||M||^2, the gain scaled by
  alpha_max / 100, maxit 3000, active_set_size 10, solver "auto") except
  ``debias=False``, so that it tunes the same estimator (the multi-task Lasso).
  The public ``mixed_norm`` wants Evoked/Forward/Covariance objects and applies
  the average-reference projection EEG inverse modelling requires, which would
  change the gain; calling the function it delegates to keeps the problem
  identical. Only the grid search is timed (not MNE's preprocessing);
- **hyperlasso grid**: SURE with hyperlasso's solver on MNE's 15 values;
- **MNE grid to 1 %**: the same with ``sure_alpha_grid`` of 30 values from 100 %
  to 1 % of alpha_max, the grid an MNE user needs to reach the SURE optimum, which
  lies below MNE's default grid on these problems;
- **scikit-learn** ``MultiTaskLassoCV`` (100 alphas, 5 folds) on the first problem
  only (about 13 minutes on 2 cores). Folds over *time samples* are not valid here: time
  samples are the tasks of the multi-task Lasso (columns of Y, one shared
  support), not its samples. Folds over *channels* are what scikit-learn does
  with the gain as X: valid as a held-out prediction criterion, though 64
  spatially correlated channels make it a coarse one.

One referee scores every chosen alpha: hyperlasso's SURE (same Monte-Carlo
direction and step for all) at a relative gap of 1e-10. Localization: mean
distance from each true source to the nearest estimated one, and the number of
estimated sources farther than 15 mm from every true one ("spurious").

Targets (issue 11): hyperlasso's single-penalty choice reaches MNE's SURE value or
better (within 0.1 %) and is >= 5x faster than MNE's grid; the weighted model
localizes better than the single one on most configurations.

    python benchmarks/bench_meeg.py            # 3 x 2 configurations, 3 seeds
    python benchmarks/bench_meeg.py --quick    # 1 configuration, 1 seed

Writes ``benchmarks/results/meeg[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import hyperlasso as hl
from bench_block_tuning import environment, save_report
from hyperlasso.criteria import make_objective
from hyperlasso.hypergradients import Settings
from hyperlasso.inner.block_models import MultiTaskLasso
from hyperlasso.meeg import eeg_gain, make_meeg_problem

EQUAL = 1e-3
TARGET_RATIO = 5.0
SPURIOUS_MM = 15.0
MNE_GRID = np.geomspace(100, 10, num=15)  # mixed_norm's sure_alpha_grid="auto"
# The SURE optimum lies below 10 % of alpha_max on these problems (hyperlasso
# finds 3-5 %): what an MNE user would pass as sure_alpha_grid to reach it.
MNE_WIDE_GRID = np.geomspace(100, 1, num=30)


def localization(problem, coef_rows: np.ndarray) -> dict:
    """Mean distance (mm) true -> nearest estimate, spurious count, sources found."""
    found = np.flatnonzero(np.linalg.norm(coef_rows, axis=1))
    if found.size == 0:
        return {"distance_mm": float("inf"), "spurious": 0, "n_sources": 0}
    pairs = np.linalg.norm(problem.positions[problem.active][:, None]
                           - problem.positions[found][None], axis=-1) * 1000
    return {"distance_mm": float(pairs.min(axis=1).mean()),
            "spurious": int(np.sum(pairs.min(axis=0) > SPURIOUS_MM)),
            "n_sources": int(found.size)}


def run_hyperlasso(problem, weighted: bool, n_jobs: int = 2) -> dict:
    options = dict(criterion="sure", sigma=problem.sigma, fit_intercept=False,
                   n_jobs=n_jobs)
    estimator = (hl.WeightedMultiTaskLassoCV(monitor_fraction=None, **options)
                 if weighted else hl.MultiTaskLassoCV(**options))
    start = time.perf_counter()
    estimator.fit(problem.gain, problem.measurements)
    seconds = time.perf_counter() - start
    history = estimator.history_
    return {"time": seconds, "alpha": np.ravel(estimator.alpha_).tolist()
            if weighted else float(estimator.alpha_),
            "n_evaluations": len(history["value"]),
            "history_time": [float(t) for t in history["time"]],
            "history_value": [float(v) for v in history["value"]],
            **localization(problem, estimator.coef_.T)}


def run_mne(problem, grid: np.ndarray) -> dict:
    from mne.inverse_sparse.mxne_inverse import _compute_mxne_sure
    from mne.inverse_sparse.mxne_optim import norm_l2inf
    M, gain = problem.measurements.copy(), problem.gain.copy()
    alpha_max = norm_l2inf(gain.T @ M, 1, copy=False) * 0.01  # as mixed_norm
    start = time.perf_counter()
    X, active, best = _compute_mxne_sure(
        M, gain / alpha_max, grid, sigma=problem.sigma, n_mxne_iter=1, maxit=3000,
        tol=1e-4 * float(np.sum(M**2)), n_orient=1, active_set_size=10, debias=False,
        solver="auto", dgap_freq=10, rng=np.random.default_rng(0), verbose=False)
    seconds = time.perf_counter() - start
    rows = np.zeros((gain.shape[1], M.shape[1]))
    rows[active] = X
    # MNE's objective 1/2 ||M - G X||^2 + a ||X||_21 with a = best * alpha_max
    # (alpha_max already / 100); hyperlasso's has 1 / (2 n): alpha = a / n.
    return {"time": seconds, "alpha_percent": float(best),
            "alpha": float(best * alpha_max / M.shape[0]), **localization(problem, rows)}


def run_grid(problem, referee, a_max: float) -> dict:
    grid = a_max * MNE_GRID / 100
    start = time.perf_counter()
    values = [referee.value(float(a)).value for a in grid]
    seconds = time.perf_counter() - start
    return {"time": seconds, "alpha": float(grid[int(np.argmin(values))])}


def run_sklearn(problem) -> dict:
    from sklearn.linear_model import MultiTaskLassoCV
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its ConvergenceWarnings, counted below
        estimator = MultiTaskLassoCV(alphas=100, cv=5, fit_intercept=False).fit(
            problem.gain, problem.measurements)
    seconds = time.perf_counter() - start
    return {"time": seconds, "alpha": float(estimator.alpha_),
            **localization(problem, estimator.coef_.T)}


def first_time_at_or_below(run: dict, value: float) -> float | None:
    """Seconds until the search first evaluated a SURE <= value (history)."""
    for t, v in zip(run["history_time"], run["history_value"], strict=True):
        if v <= value * (1 + EQUAL):
            return t
    return None


def bench_problem(n_active: int, snr: float, seed: int, gain, with_sklearn: bool) -> dict:
    problem = make_meeg_problem(n_active=n_active, snr=snr, random_state=seed, gain=gain)
    model = MultiTaskLasso(fit_intercept=False)
    referee = make_objective("sure", model, problem.gain, problem.measurements,
                             Settings(tol=1e-10), sigma=problem.sigma)
    a_max = hl.alpha_max(model, problem.gain, problem.measurements)
    runs = {"hyperlasso single": run_hyperlasso(problem, weighted=False),
            "hyperlasso single, 1 thread": run_hyperlasso(problem, weighted=False,
                                                          n_jobs=1),
            "hyperlasso weighted": run_hyperlasso(problem, weighted=True),
            "MNE grid": run_mne(problem, MNE_GRID),
            "MNE grid to 1 %": run_mne(problem, MNE_WIDE_GRID),
            "hyperlasso grid": run_grid(problem, referee, a_max)}
    if with_sklearn:
        runs["scikit-learn (channel folds)"] = run_sklearn(problem)
    for name, run in runs.items():
        if name != "hyperlasso weighted":
            run["sure"] = referee.value(run["alpha"]).value
            run["alpha_fraction"] = run["alpha"] / a_max
    single, mne = runs["hyperlasso single"], runs["MNE grid"]
    wide = runs["MNE grid to 1 %"]
    reach = first_time_at_or_below(single, mne["sure"])
    return {"n_active": n_active, "snr": snr, "seed": seed, "alpha_max": a_max,
            "runs": runs, "speedup": mne["time"] / single["time"],
            "speedup_wide": wide["time"] / single["time"],
            "time_to_mne_value": reach,
            "sure_ok": bool(single["sure"] <= mne["sure"] * (1 + EQUAL)),
            "pass": bool(single["sure"] <= mne["sure"] * (1 + EQUAL)
                         and mne["time"] / single["time"] >= TARGET_RATIO)}


def mne_version() -> str:
    import mne
    return mne.__version__


def _spread(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.1f} ± {values.std():.1f}"


def configuration_table(problems: list[dict]) -> list[str]:
    lines = ["| sources | SNR | single: distance (mm) | single: spurious | "
             "weighted: distance (mm) | weighted: spurious | weighted better |",
             "|---|---|---|---|---|---|---|"]
    configs = sorted({(p["n_active"], p["snr"]) for p in problems})
    wins = 0
    for n_active, snr in configs:
        same = [p for p in problems if (p["n_active"], p["snr"]) == (n_active, snr)]
        single = [p["runs"]["hyperlasso single"] for p in same]
        weighted = [p["runs"]["hyperlasso weighted"] for p in same]
        better = (np.mean([r["spurious"] for r in weighted])
                  < np.mean([r["spurious"] for r in single])
                  and np.mean([r["distance_mm"] for r in weighted])
                  <= np.mean([r["distance_mm"] for r in single]) + 1.0)
        wins += better
        lines.append(
            f"| {n_active} | {snr:g} | {_spread([r['distance_mm'] for r in single])} | "
            f"{_spread([r['spurious'] for r in single])} | "
            f"{_spread([r['distance_mm'] for r in weighted])} | "
            f"{_spread([r['spurious'] for r in weighted])} | {'yes' if better else 'no'} |")
    lines += ["", f"Weighted better (fewer spurious sources on average, mean distance no "
              f"more than 1 mm larger) on {wins} of {len(configs)} configurations."]
    return lines


def problem_table(problems: list[dict]) -> list[str]:
    lines = ["| sources | SNR | seed | run | time (s) | alpha / alpha_max | SURE / (n T) |"
             " sources found | distance (mm) | spurious |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in problems:
        for name, run in p["runs"].items():
            fraction = (f"{run['alpha_fraction']:.4f}" if "alpha_fraction" in run
                        else "one per source")
            sure = f"{run['sure']:.5f}" if "sure" in run else ""
            where = [run.get(k, "") for k in ("n_sources", "distance_mm", "spurious")]
            distance = f"{where[1]:.1f}" if where[1] != "" else ""
            lines.append(f"| {p['n_active']} | {p['snr']:g} | {p['seed']} | {name} | "
                         f"{run['time']:.2f} | {fraction} | {sure} | {where[0]} | "
                         f"{distance} | {where[2]} |")
    return lines


def target_table(problems: list[dict]) -> list[str]:
    lines = ["| sources | SNR | seed | hl single (s) | MNE grid (s) | speed-up | "
             "hl reaches MNE's SURE after (s) | SURE hl / MNE | target | "
             "MNE grid to 1 % (s) | speed-up | SURE hl / MNE to 1 % |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in problems:
        single, mne = p["runs"]["hyperlasso single"], p["runs"]["MNE grid"]
        wide = p["runs"]["MNE grid to 1 %"]
        reach = p["time_to_mne_value"]
        reach = "never" if reach is None else f"{reach:.2f}"
        lines.append(f"| {p['n_active']} | {p['snr']:g} | {p['seed']} "
                     f"| {single['time']:.2f} | {mne['time']:.2f} "
                     f"| {p['speedup']:.2f}x | {reach} | "
                     f"{single['sure'] / mne['sure']:.3f} | "
                     f"{'PASS' if p['pass'] else 'FAIL'} | {wide['time']:.2f} "
                     f"| {p['speedup_wide']:.2f}x | {single['sure'] / wide['sure']:.3f} |")
    return lines


def markdown(report: dict) -> str:
    env = report["environment"]
    problems = report["problems"]
    n_pass = sum(p["pass"] for p in problems)
    n_sure = sum(p["sure_ok"] for p in problems)
    lines = ["# EEG source imaging tuned by SURE: hyperlasso vs MNE's grid", "",
             f"Commit {env['commit']} (uncommitted src changes: "
             f"{env['src_uncommitted_changes']}), {env['date']}; MNE {report['mne']}, "
             f"numpy {env['numpy']}, scipy {env['scipy']}, scikit-learn "
             f"{env['scikit-learn']}, Python {env['python']}, {env['cpu_count']} CPUs; "
             f"load average at start {env['load_average_start'][0]:.2f}, at end "
             f"{report['load_average_end'][0]:.2f}. Times after compilation.", "",
             "SURE: every chosen alpha re-scored by hyperlasso's SURE (one Monte-Carlo "
             "direction) at a relative gap of 1e-10; the weighted model's value is its "
             "own search's.", "",
             f"## Target: SURE at least as low as MNE's choice, >= {TARGET_RATIO:.0f}x "
             f"faster than MNE's grid", "",
             f"SURE as low or lower on {n_sure} of {len(problems)} problems; both "
             f"points of the target on {n_pass} of {len(problems)}.", ""]
    lines += target_table(problems)
    lines += ["", "## Localization: weighted vs single penalty (mean ± std over seeds)",
              ""]
    lines += configuration_table(problems)
    lines += ["", "## Every run", ""]
    lines += problem_table(problems)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 configuration, 1 seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-sklearn", action="store_true",
                        help="leave scikit-learn's MultiTaskLassoCV out (it runs on "
                        "the first problem only: ~13 min)")
    args = parser.parse_args()
    try:
        version = mne_version()
    except ImportError:
        raise SystemExit('bench_meeg needs MNE-Python: pip install -e ".[meeg]"') from None
    gain = eeg_gain()
    configs = [(3, 3.0)] if args.quick else [(n, snr) for n in (2, 3, 5)
                                             for snr in (1.5, 4.0)]
    seeds = range(1 if args.quick else args.seeds)
    warm = make_meeg_problem(n_active=2, n_times=10, random_state=99, gain=gain)
    hl.WeightedMultiTaskLassoCV(criterion="sure", sigma=1.0, fit_intercept=False,
                                monitor_fraction=None, max_iter=2).fit(
        warm.gain, warm.measurements)  # compilation outside the timings
    report = {"environment": environment(), "mne": version, "problems": []}
    for n_active, snr in configs:
        for seed in seeds:
            first = not report["problems"]  # scikit-learn: ~13 min per problem
            result = bench_problem(n_active, snr, seed, gain,
                                   with_sklearn=first and not args.no_sklearn)
            report["problems"].append(result)
            print(f"{n_active} sources, SNR {snr:g}, seed {seed}: " + ", ".join(
                f"{name} {run['time']:.1f} s" for name, run in result["runs"].items()),
                flush=True)
    save_report("meeg_quick" if args.quick else "meeg", report, markdown)


if __name__ == "__main__":
    main()
