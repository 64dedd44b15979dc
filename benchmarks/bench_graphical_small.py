"""The graphical lasso at small p on strongly correlated data, against scikit-learn.

Issue 13's target: at p = 50-100 features, n = 100 standardized samples, strongly
correlated, hyperlasso's ``GraphicalLassoCV`` (defaults: scalar penalty, 5-fold
CV) at least 3x faster than scikit-learn's ``GraphicalLassoCV`` (defaults) at the
same or better test likelihood. Two correlation structures, each a unit-diagonal
covariance (what standardized variables estimate):

- ``ar1``: AR(1), Sigma_ij = 0.9^|i - j| (sparse, tridiagonal precision);
- ``factor``: three latent factors, Sigma = D^-1/2 (L L^T + I) D^-1/2 with
  standard normal loadings L (p x 3): a dense precision, as co-expression
  modules give.

Every contender runs on the same standardized training samples, one after the
other in one process, after an untimed fit of each on another problem (numba's
compilation and scikit-learn's first imports are not timed). The test NLL is
hyperlasso's ``HeldOutGaussianNLL`` on 10000 samples of the true model (lower is
better; the same function for both).

    python benchmarks/bench_graphical_small.py            # p = 50, 100; 3 draws
    python benchmarks/bench_graphical_small.py --quick    # p = 50, 1 draw

Writes ``benchmarks/results/graphical_small[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.covariance import GraphicalLassoCV as SklearnGraphicalLassoCV
from sklearn.exceptions import ConvergenceWarning

import hyperlasso as hl
from bench_block_tuning import environment, save_report

SPEEDUP_TARGET = 3.0
N_TRAIN, N_TEST = 100, 10_000


def correlation(design: str, p: int, rng: np.random.Generator) -> np.ndarray:
    """The true covariance (unit diagonal) of a design."""
    if design == "ar1":
        index = np.arange(p)
        return 0.9 ** np.abs(index[:, None] - index[None, :])
    loadings = rng.standard_normal((p, 3))
    covariance = loadings @ loadings.T + np.eye(p)
    scale = np.sqrt(np.diag(covariance))
    return covariance / np.outer(scale, scale)


def draw_problem(design: str, p: int, seed: int):
    """Standardized training samples (N_TRAIN, p) and test samples (N_TEST, p)."""
    rng = np.random.default_rng([seed, p, len(design)])
    covariance = correlation(design, p, rng)
    factor = np.linalg.cholesky(covariance)
    X = rng.standard_normal((N_TRAIN, p)) @ factor.T
    X_test = rng.standard_normal((N_TEST, p)) @ factor.T
    return (X - X.mean(axis=0)) / X.std(axis=0), X_test


def fit_hyperlasso(X):
    model = hl.GraphicalLassoCV().fit(X)
    return model.precision_, {"alpha": float(model.alpha_),
                              "evaluations": len(model.history_["value"])}


def fit_sklearn(X):
    with warnings.catch_warnings():
        # scikit-learn warns on its smallest grid penalties; its choice is scored
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SklearnGraphicalLassoCV().fit(X)
    return model.precision_, {"alpha": float(model.alpha_)}


CONTENDERS = {"hyperlasso GraphicalLassoCV": fit_hyperlasso,
              "scikit-learn GraphicalLassoCV": fit_sklearn}


def run(design: str, p: int, seed: int) -> dict:
    """Every contender on one draw: time, test NLL, edges, chosen penalty."""
    X, X_test = draw_problem(design, p, seed)
    test_nll = hl.HeldOutGaussianNLL(X_test)
    rows = {}
    for name, fit in CONTENDERS.items():
        start = time.perf_counter()
        precision, extra = fit(X)
        elapsed = time.perf_counter() - start
        edges = int(np.sum(np.abs(np.triu(precision, 1)) > 1e-10))
        rows[name] = {"time": elapsed, "test_nll": float(test_nll.value(precision)),
                      "edges": edges, **extra}
        print(f"  {design} p = {p} draw {seed}, {name}: {elapsed:.2f} s", flush=True)
    return rows


def warm_up() -> None:
    """One untimed fit of each contender (numba compiles or loads its cache)."""
    X, _ = draw_problem("ar1", 20, seed=99)
    for fit in CONTENDERS.values():
        fit(X)


def summary(draws: list) -> dict:
    hl_name, sk_name = CONTENDERS
    mean = {name: {key: float(np.mean([d[name][key] for d in draws]))
                   for key in ("time", "test_nll", "edges")} for name in CONTENDERS}
    speedup = mean[sk_name]["time"] / mean[hl_name]["time"]
    likelihood_ok = mean[hl_name]["test_nll"] <= mean[sk_name]["test_nll"]
    return {"mean": mean, "speedup": speedup, "likelihood_ok": likelihood_ok,
            "verdict": "PASS" if speedup >= SPEEDUP_TARGET and likelihood_ok else "FAIL"}


def markdown(report: dict) -> str:
    env = report["environment"]
    hl_name, sk_name = CONTENDERS
    lines = ["# Graphical lasso at small p, strongly correlated: hyperlasso vs "
             "scikit-learn", "",
             f"Commit {env['commit']} (uncommitted src changes: "
             f"{env['src_uncommitted_changes']}), {env['date']}; scikit-learn "
             f"{env['scikit-learn']}, numpy {env['numpy']}, scipy {env['scipy']}, Python "
             f"{env['python']}, {env['cpu_count']} CPUs; load average at start "
             f"{env['load_average_start'][0]:.2f}, at end "
             f"{report['load_average_end'][0]:.2f}. Command: `{report['command']}`.", "",
             f"n = {N_TRAIN} standardized training samples, test NLL on {N_TEST} samples "
             "of the true model (lower is better); both estimators with their defaults "
             "(5-fold CV), one after the other, after an untimed fit of each. Target: "
             f">= {SPEEDUP_TARGET:g}x faster (mean times) at the same or better mean "
             "test NLL.", "",
             "| design | p | draws | hyperlasso (s) | scikit-learn (s) | speed-up | test "
             "NLL hyperlasso | test NLL scikit-learn | edges hl / sk | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, entry in report["problems"].items():
        design, p = key.split(":")
        s, m = entry["summary"], entry["summary"]["mean"]
        lines.append(f"| {design} | {p} | {len(entry['draws'])} | "
                     f"{m[hl_name]['time']:.2f} | {m[sk_name]['time']:.2f} | "
                     f"{s['speedup']:.1f}x | "
                     f"{m[hl_name]['test_nll']:.3f} | {m[sk_name]['test_nll']:.3f} | "
                     f"{m[hl_name]['edges']:.0f} / {m[sk_name]['edges']:.0f} | "
                     f"{s['verdict']} |")
    lines += ["", "## Every draw", "",
              "| design | p | draw | contender | time (s) | test NLL | edges | alpha |",
              "|---|---|---|---|---|---|---|---|"]
    for key, entry in report["problems"].items():
        design, p = key.split(":")
        for k, rows in enumerate(entry["draws"]):
            for name, r in rows.items():
                lines.append(f"| {design} | {p} | {k} | {name} | {r['time']:.2f} | "
                             f"{r['test_nll']:.3f} | {r['edges']} | {r['alpha']:.4g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="p = 50, one draw")
    parser.add_argument("--draws", type=int, default=3, help="draws per problem")
    args = parser.parse_args()
    sizes = [50] if args.quick else [50, 100]
    n_draws = 1 if args.quick else args.draws
    report = {"environment": environment(), "problems": {},
              "command": "python benchmarks/bench_graphical_small.py"
              + (" --quick" if args.quick else "")}
    warm_up()
    for design in ("ar1", "factor"):
        for p in sizes:
            draws = [run(design, p, seed) for seed in range(n_draws)]
            report["problems"][f"{design}:{p}"] = {"draws": draws,
                                                   "summary": summary(draws)}
    save_report("graphical_small_quick" if args.quick else "graphical_small", report,
                markdown)


if __name__ == "__main__":
    main()
