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
from hyperlasso.criteria.gaussian import GraphicalObjective
from hyperlasso.inner.graphical import empirical_covariance, solve_graphical

RESULTS = pathlib.Path(__file__).parent / "results"


def make_problem(p: int, n: int = 100, n_test: int = 10_000, seed: int = 0):
    """A sparse precision (random graph, about 2 edges per node) and samples."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((p, p)) < 2.0 / p, 1)
    weights = rng.uniform(0.3, 0.6, (p, p)) * rng.choice([-1, 1], (p, p))
    off = np.where(upper, weights, 0.0)
    precision = off + off.T
    precision += np.eye(p) * (np.abs(np.linalg.eigvalsh(precision)).max() + 0.5)
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


def run_ho(penalty, X_train, X_val):
    """Scalar or matrix HO by hyperlasso's GraphicalLassoCV on the 200 samples.

    The paper tunes on one validation split; GraphicalLassoCV's default is 5-fold
    CV (and, for the matrix penalty, a 20 % monitor for early stopping), which is
    what a user gets: it is measured here, refit on all 200 samples.
    """
    X = np.vstack([X_train, X_val])
    start = time.perf_counter()
    model = hl.GraphicalLassoCV(penalty=penalty).fit(X)
    elapsed = time.perf_counter() - start
    precision = model.precision_
    history = model.history_
    steps = [s for s in history["stage"] if s == penalty]
    stage_times = np.diff([0.0, *history["time"]])
    per_step = float(np.mean([t for t, s in zip(stage_times, history["stage"],
                                                strict=True) if s == penalty]))
    return precision, elapsed, {"n_evaluations": len(steps), "time_per_step": per_step,
                                "history": history["value"]}


def run_grid(X_train, X_val, n_points: int = 50):
    """The scalar penalty on a 50-value log grid, selected on the same 5-fold CV
    NLL, refit on all 200 samples."""
    from sklearn.model_selection import KFold

    X = np.vstack([X_train, X_val])
    objective = GraphicalObjective(hl.GraphicalLasso(), X, list(KFold(5).split(X)), 1e-8)
    amax = hl.GraphicalLasso().alpha_max(empirical_covariance(X))
    start = time.perf_counter()
    grid = np.geomspace(amax, 1e-2 * amax, n_points)
    values = [objective.value(a).value for a in grid]
    best = float(grid[int(np.argmin(values))])
    lam = best * (1 - np.eye(X.shape[1]))
    precision = solve_graphical(empirical_covariance(X), lam).precision
    return precision, time.perf_counter() - start, {"alpha": best}


def run_sklearn(X_train, X_val):
    """scikit-learn's GraphicalLassoCV (its own 5-fold CV on training + validation)."""
    start = time.perf_counter()
    model = SklearnGraphicalLassoCV().fit(np.vstack([X_train, X_val]))
    return model.precision_, time.perf_counter() - start, {"alpha": float(model.alpha_)}


def benchmark(p: int, seed: int = 0) -> dict:
    """Every method on one problem."""
    precision, X_train, X_val, X_test = make_problem(p, seed=seed)
    rows = {}
    for name, runner in [("scalar HO", lambda: run_ho("scalar", X_train, X_val)),
                         ("matrix HO", lambda: run_ho("matrix", X_train, X_val)),
                         ("grid (50)", lambda: run_grid(X_train, X_val)),
                         ("sklearn GraphicalLassoCV", lambda: run_sklearn(X_train, X_val))]:
        estimate, elapsed, extra = runner()
        rows[name] = {**scores(estimate, precision, X_val, X_test), "time": elapsed,
                      **extra}
    return rows


def markdown(results: dict) -> str:
    """The results as Markdown tables, one per p."""
    lines = ["# Weighted graphical lasso benchmark", "",
             f"{results['date']}; hyperlasso {hl.__version__}, scikit-learn "
             f"{sklearn.__version__}; n = 100 train + 100 validation, 10000 test.", ""]
    for p, rows in results["problems"].items():
        lines += [f"## p = {p}", "", "| method | val NLL | test NLL | NMSE | F1 | edges | "
                  "time (s) |", "|---|---|---|---|---|---|---|"]
        for name, r in rows.items():
            lines.append(f"| {name} | {r['val_nll']:.4f} | {r['test_nll']:.4f} | "
                         f"{r['nmse']:.4f} | {r['f1']:.3f} | {r['edges']} | "
                         f"{r['time']:.2f} |")
        scalar, matrix = rows["scalar HO"], rows["matrix HO"]
        step_ratio = matrix["time_per_step"] / scalar["time_per_step"]
        lines += ["", f"- scalar HO / scikit-learn time: "
                  f"{rows['sklearn GraphicalLassoCV']['time'] / scalar['time']:.2f}x faster"
                  f" (target 3x), test NLL {scalar['test_nll']:.4f} vs "
                  f"{rows['sklearn GraphicalLassoCV']['test_nll']:.4f}",
                  f"- matrix vs scalar HO: test NLL {matrix['test_nll']:.4f} vs "
                  f"{scalar['test_nll']:.4f}, NMSE {matrix['nmse']:.4f} vs "
                  f"{scalar['nmse']:.4f}, time per outer step "
                  f"{step_ratio:.2f}x (target 2x)", ""]
    return "\n".join(lines)


def figure(results: dict, path: pathlib.Path) -> None:
    """Criterion along the outer iterations, per method and p."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results["problems"]), figsize=(5 * len(
        results["problems"]), 4), squeeze=False)
    for ax, (p, rows) in zip(axes[0], results["problems"].items(), strict=True):
        for name in ("scalar HO", "matrix HO"):
            ax.plot(rows[name]["history"], "o-", ms=3, label=name)
        ax.set_title(f"p = {p}")
        ax.set_xlabel("outer evaluation")
        ax.set_ylabel("validation NLL")
        ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="p = 30 only")
    args = parser.parse_args()
    sizes = [30] if args.quick else [100, 200]
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
               "problems": {p: benchmark(p) for p in sizes}}
    stem = "graphical_quick" if args.quick else "graphical"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2, default=float))
    (RESULTS / f"{stem}.md").write_text(markdown(results))
    figure(results, RESULTS / f"{stem}.png")
    print(markdown(results))


if __name__ == "__main__":
    main()
