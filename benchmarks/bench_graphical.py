"""The weighted graphical lasso experiment of Pouliquen et al. (arXiv 2307.02130).

Generated sparse precision matrices (p = 100 and 200), n = 100 training and 100
validation samples, a test set of 10000 samples. Scalar and matrix hyperparameter
optimization (HO) on the held-out likelihood (hyperlasso's GraphicalLassoCV with
its defaults on the 200 samples: 5-fold CV, not the paper's single split), against
scikit-learn's GraphicalLassoCV and a 50-value grid of the scalar penalty on the
same folds. Reports validation and
test negative log-likelihood, NMSE of the precision, F1 of the recovered edges
and time; draws the criterion along the outer iterations and the estimated vs
true precision.

    python benchmarks/bench_graphical.py            # p = 100 and 200
    python benchmarks/bench_graphical.py --quick    # p = 30, smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import time

import numpy as np
import sklearn
from sklearn.covariance import GraphicalLassoCV as SklearnGraphicalLassoCV

import hyperlasso as hl
from hyperlasso.datasets import make_random_graph_precision
from hyperlasso.outer import GridSearch

RESULTS = pathlib.Path(__file__).parent / "results"
#: Scalar HO on scikit-learn's criterion (validation covariance / n_val) refit at
#: the cross-validated penalty: scikit-learn's estimator, its optimum found exactly.
SKLEARN_CRITERION = "scalar HO, scikit-learn's criterion and refit"


def make_problem(p: int, n: int = 100, n_test: int = 10_000, seed: int = 0):
    """A sparse precision (random graph, about 2 edges per node) and samples."""
    rng = np.random.default_rng(seed)
    precision = make_random_graph_precision(p, random_state=rng)
    covariance = np.linalg.inv(precision)
    draw = lambda size: rng.multivariate_normal(np.zeros(p), covariance, size=size)  # noqa: E731
    return precision, draw(n), draw(n), draw(n_test)


def scores(precision_hat, precision, X_val, X_test) -> dict:
    """Validation/test NLL, NMSE and edge F1 of an estimated precision."""
    true_edges = np.triu(precision != 0, 1)
    found = np.triu(np.abs(precision_hat) > 1e-10, 1)
    tp = np.sum(true_edges & found)
    f1 = 2 * tp / max(true_edges.sum() + found.sum(), 1)
    return {"val_nll": hl.HeldOutGaussianNLL(X_val).value(precision_hat),
            "test_nll": hl.HeldOutGaussianNLL(X_test).value(precision_hat),
            "nmse": float(np.linalg.norm(precision_hat - precision) ** 2
                          / np.linalg.norm(precision) ** 2),
            "f1": float(f1), "edges": int(found.sum())}


def run_ho(penalty, X_train, X_val, **options):
    """Scalar or matrix HO by hyperlasso's GraphicalLassoCV on the 200 samples.

    The paper tunes on one validation split; GraphicalLassoCV's default is 5-fold
    CV (and, for the matrix penalty, a path of small steps early-stopped on a 20 %
    monitor), which is what a user gets: it is measured here, refit on all 200
    samples (with its defaults, at the cross-validated penalty times
    sqrt(160 / 200); ``options`` may change that).
    """
    X = np.vstack([X_train, X_val])
    start = time.perf_counter()
    model = hl.GraphicalLassoCV(penalty=penalty, **options).fit(X)
    elapsed = time.perf_counter() - start
    history = model.history_
    steps = [s for s in history["stage"] if s == penalty]
    stage_times = np.diff([0.0, *history["time"]])
    per_step = float(np.mean([t for t, s in zip(stage_times, history["stage"],
                                                strict=True) if s == penalty]))
    return model.precision_, elapsed, {
        "n_evaluations": len(steps), "time_per_step": per_step,
        "history": history["value"], "stages": history["stage"],
        "monitor": history.get("monitor", []),
        "alpha": float(np.mean(model.alpha_)), "cv_alpha": float(np.mean(model.cv_alpha_))}


def run_grid(X_train, X_val, n_points: int = 50):
    """The scalar penalty on a 50-value log grid (alpha_max to alpha_max / 100) of
    the same 5-fold criterion, refit like the HO estimator: GraphicalLassoCV with a
    grid search as its optimizer."""
    return run_ho("scalar", X_train, X_val, optimizer=GridSearch(n_points=n_points))


def run_sklearn(X_train, X_val):
    """scikit-learn's GraphicalLassoCV (its own 5-fold CV on training + validation)."""
    start = time.perf_counter()
    model = SklearnGraphicalLassoCV().fit(np.vstack([X_train, X_val]))
    return model.precision_, time.perf_counter() - start, {"alpha": float(model.alpha_)}


def benchmark(p: int, seed: int = 0) -> tuple[dict, dict]:
    """Every method on one problem: the scores, and the precision matrices."""
    precision, X_train, X_val, X_test = make_problem(p, seed=seed)
    rows, estimates = {}, {"true": precision}
    for name, runner in [("scalar HO", lambda: run_ho("scalar", X_train, X_val)),
                         (SKLEARN_CRITERION, lambda: run_ho(
                             "scalar", X_train, X_val, validation_ddof=0,
                             refit_alpha="cv")),
                         ("matrix HO", lambda: run_ho("matrix", X_train, X_val)),
                         ("grid (50)", lambda: run_grid(X_train, X_val)),
                         ("sklearn GraphicalLassoCV", lambda: run_sklearn(X_train, X_val))]:
        estimate, elapsed, extra = runner()
        estimates[name] = estimate
        rows[name] = {**scores(estimate, precision, X_val, X_test), "time": elapsed,
                      **extra}
        print(f"  p = {p}, {name}: {elapsed:.2f} s", flush=True)
    return rows, estimates


def versions() -> str:
    """Library versions and the machine, for the report."""
    import os
    import platform

    import numba
    import scipy

    return (f"hyperlasso {hl.__version__}, scikit-learn {sklearn.__version__}, numpy "
            f"{np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}, "
            f"python {platform.python_version()}; {os.cpu_count()} CPUs")


def _mean(draws: list, name: str, key: str) -> float:
    return float(np.mean([rows[name][key] for rows in draws]))


def markdown(results: dict) -> str:
    """The results as Markdown: per p, the mean over problem draws, the targets on
    those means, and the table of every draw."""
    lines = ["# Weighted graphical lasso benchmark", "",
             f"{results['date']}; {results['versions']}; n = 100 train + 100 "
             f"validation, 10000 test; {results['n_draws']} independent problem draws "
             "per p (precision and samples). Command: `python "
             "benchmarks/bench_graphical.py`; figure: the `.png` of the same name (draw "
             "0).", ""]
    keys = ("test_nll", "nmse", "f1", "edges", "time")
    for p, draws in results["draws"].items():
        lines += [f"## p = {p}: mean over {len(draws)} draws", "",
                  "| method | test NLL | NMSE | F1 | edges | time (s) |",
                  "|---|---|---|---|---|---|"]
        for name in draws[0]:
            means = [_mean(draws, name, key) for key in keys]
            lines.append(f"| {name} | {means[0]:.4f} | {means[1]:.4f} | {means[2]:.3f} | "
                         f"{means[3]:.0f} | {means[4]:.2f} |")
        sk, scalar, matrix = "sklearn GraphicalLassoCV", "scalar HO", "matrix HO"
        speedup = _mean(draws, sk, "time") / _mean(draws, scalar, "time")
        per_step = (_mean(draws, matrix, "time_per_step")
                    / _mean(draws, scalar, "time_per_step"))
        differences = ", ".join(f"{r[scalar]['test_nll'] - r[sk]['test_nll']:+.4f}"
                                for r in draws)
        lines += ["", f"- scalar HO / scikit-learn time: {speedup:.2f}x faster (target "
                  f"3x); mean test NLL {_mean(draws, scalar, 'test_nll'):.4f} vs "
                  f"{_mean(draws, sk, 'test_nll'):.4f} (per draw, scalar minus "
                  f"scikit-learn: {differences})",
                  f"- matrix vs scalar HO: mean test NLL "
                  f"{_mean(draws, matrix, 'test_nll'):.4f} vs "
                  f"{_mean(draws, scalar, 'test_nll'):.4f}, NMSE "
                  f"{_mean(draws, matrix, 'nmse'):.4f} vs "
                  f"{_mean(draws, scalar, 'nmse'):.4f}, time per outer step "
                  f"{per_step:.2f}x (target 2x)", ""]
        for k, rows in enumerate(draws):
            lines += [f"### p = {p}, draw {k}", "",
                      "| method | val NLL | test NLL | NMSE | F1 | edges | time (s) |",
                      "|---|---|---|---|---|---|---|"]
            for name, r in rows.items():
                lines.append(f"| {name} | {r['val_nll']:.4f} | {r['test_nll']:.4f} | "
                             f"{r['nmse']:.4f} | {r['f1']:.3f} | {r['edges']} | "
                             f"{r['time']:.2f} |")
            lines.append("")
    return "\n".join(lines)


PRECISION_PANELS = ("true", "scalar HO", "matrix HO", "sklearn GraphicalLassoCV")
#: Off-diagonal precision entries are drawn; the diagonal would dominate the scale.


def figure(results: dict, precisions: dict, path: pathlib.Path) -> None:
    """Top row: the criterion along the outer iterations, per p. Bottom row: the
    true precision and the estimates at the largest p (off-diagonal entries, one
    shared colour scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = max(len(results["problems"]), len(PRECISION_PANELS))
    fig, axes = plt.subplots(2, n_cols, figsize=(4.5 * n_cols, 8.5), squeeze=False)
    for ax, (p, rows) in zip(axes[0], results["problems"].items(), strict=False):
        scalar = rows["scalar HO"]["history"]
        ax.plot(scalar, "o-", ms=3, label="scalar HO: 5-fold CV NLL")
        matrix = rows["matrix HO"]
        on_path = np.array(matrix["stages"]) == "matrix"
        steps = np.arange(len(scalar) - 1, len(scalar) - 1 + on_path.sum())
        ax.plot(steps, np.array(matrix["history"])[on_path], "s-", ms=3,
                label="matrix path: CV NLL (80 % of samples)")
        ax.plot(steps, np.array(matrix["monitor"])[on_path], "^-", ms=3,
                label="matrix path: monitor NLL (20 %)")
        ax.set_title(f"p = {p}: criterion along the search")
        ax.set_xlabel("outer evaluation")
        ax.set_ylabel("held-out NLL")
        ax.legend(frameon=False, fontsize="small")
    for ax in axes[0][len(results["problems"]):]:
        ax.axis("off")
    p_max = max(precisions)
    off = ~np.eye(p_max, dtype=bool)
    scale = np.max(np.abs(precisions[p_max]["true"][off]))
    for ax, name in zip(axes[1], PRECISION_PANELS, strict=False):
        matrix = np.where(off, precisions[p_max][name], 0.0)
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(f"{name.replace(' GraphicalLassoCV', '')} (p = {p_max})")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[1].tolist(), shrink=0.8)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="p = 30 only, one draw")
    parser.add_argument("--draws", type=int, default=3,
                        help="independent problems per p (default 3): single-draw test "
                        "NLL differences of 0.01-0.05 %% are noise")
    args = parser.parse_args()
    sizes = [30] if args.quick else [100, 200]
    n_draws = 1 if args.quick else args.draws
    runs = {p: [benchmark(p, seed=k) for k in range(n_draws)] for p in sizes}
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
               "versions": versions(), "n_draws": n_draws,
               "problems": {p: draws[0][0] for p, draws in runs.items()},
               "draws": {p: [d[0] for d in draws] for p, draws in runs.items()}}
    stem = "graphical_quick" if args.quick else "graphical"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2, default=float))
    (RESULTS / f"{stem}.md").write_text(markdown(results))
    figure(results, {p: draws[0][1] for p, draws in runs.items()},
           RESULTS / f"{stem}.png")
    print(markdown(results))


if __name__ == "__main__":
    main()
